// Zhiku's MCP endpoint through the official @modelcontextprotocol/sdk client.
// Env: ZHIKU_URL (server root), ZHIKU_KEY (a bot key), ZHIKU_KB (a knowledge base name),
// ZHIKU_ANSWER (the text the server's answerer gives).
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const { ZHIKU_URL, ZHIKU_KEY, ZHIKU_KB, ZHIKU_ANSWER } = process.env;
const transport = new StreamableHTTPClientTransport(new URL(`${ZHIKU_URL}/mcp`), {
  requestInit: { headers: { Authorization: `Bearer ${ZHIKU_KEY}` } },
});
const client = new Client({ name: "zhiku-node-test", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
assert.deepEqual(tools.map((t) => t.name).sort(), ["answer_question", "search_knowledge"]);

const text = (res) => res.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");

const search = await client.callTool({ name: "search_knowledge", arguments: { knowledge_base: ZHIKU_KB, query: "E104 故障", top_k: 3 } });
assert.ok(!search.isError, text(search));
assert.match(text(search), /^\[1\] /);
assert.ok(search.structuredContent.results.length > 0);

const answer = await client.callTool({ name: "answer_question", arguments: { knowledge_base: ZHIKU_KB, question: "怎么退货？" } });
assert.ok(!answer.isError, text(answer));
assert.ok(text(answer).startsWith(ZHIKU_ANSWER), text(answer));
assert.match(text(answer), /answered: true/);

const missing = await client.callTool({ name: "answer_question", arguments: { knowledge_base: "no-such-kb", question: "hi" } });
assert.equal(missing.isError, true);
assert.match(text(missing), /not found/);

await transport.terminateSession();
await client.close();

const anonymous = new Client({ name: "zhiku-node-test", version: "1.0.0" });
await assert.rejects(anonymous.connect(new StreamableHTTPClientTransport(new URL(`${ZHIKU_URL}/mcp`))));
console.log("mcp: ok");
