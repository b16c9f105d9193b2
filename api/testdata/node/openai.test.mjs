// Zhiku's OpenAI-compatible endpoints through the official openai package.
// Env: ZHIKU_URL (server root), ZHIKU_KEY (a bot key), ZHIKU_KB (a knowledge base name),
// ZHIKU_ANSWER (the text the server's answerer gives).
import assert from "node:assert/strict";
import OpenAI from "openai";

const { ZHIKU_URL, ZHIKU_KEY, ZHIKU_KB, ZHIKU_ANSWER } = process.env;
const client = new OpenAI({ baseURL: `${ZHIKU_URL}/v1`, apiKey: ZHIKU_KEY, maxRetries: 0 });

const completion = await client.chat.completions.create({
  model: ZHIKU_KB,
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: [{ type: "text", text: "怎么退货？" }] },
  ],
  user: "node-customer",
});
assert.equal(completion.object, "chat.completion");
assert.match(completion.id, /^chatcmpl-/);
assert.equal(completion.choices[0].message.role, "assistant");
assert.equal(completion.choices[0].message.content, ZHIKU_ANSWER);
assert.equal(completion.choices[0].finish_reason, "stop");
assert.equal(completion.zhiku.answered, true);
assert.ok(completion.zhiku.citations.length > 0);

const stream = await client.chat.completions.create({
  model: ZHIKU_KB,
  messages: [{ role: "user", content: "怎么退货？" }],
  stream: true,
});
let text = "";
let finish = null;
let extra = null;
for await (const chunk of stream) {
  assert.equal(chunk.object, "chat.completion.chunk");
  const choice = chunk.choices[0];
  text += choice?.delta?.content ?? "";
  if (choice?.finish_reason) finish = choice.finish_reason;
  if (chunk.zhiku) extra = chunk.zhiku;
}
assert.equal(text, ZHIKU_ANSWER);
assert.equal(finish, "stop");
assert.ok(extra?.answer_id, "the last chunk carries the zhiku extra");

const models = [];
for await (const m of client.models.list()) models.push(m.id);
assert.ok(models.includes(ZHIKU_KB), `models: ${models}`);

await assert.rejects(
  client.chat.completions.create({ model: "no-such-kb", messages: [{ role: "user", content: "hi" }] }),
  (err) => err instanceof OpenAI.NotFoundError && err.code === "model_not_found",
);
await assert.rejects(
  new OpenAI({ baseURL: `${ZHIKU_URL}/v1`, apiKey: "not-a-key", maxRetries: 0 }).models.list(),
  (err) => err instanceof OpenAI.AuthenticationError && err.code === "invalid_api_key",
);
console.log("openai: ok");
