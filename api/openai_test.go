package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func (b *answerBundle) openAIClient(key string) *openai.Client {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = b.srv.URL + "/v1"
	return openai.NewClientWithConfig(cfg)
}

func TestChatCompletions(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	bot := b.key(t, "default", kb.RoleBot)
	client := b.openAIClient(bot)
	ctx := context.Background()

	res, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: "kb1",
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You are a helpful assistant."},
			{Role: openai.ChatMessageRoleUser, Content: "你好"},
			{Role: openai.ChatMessageRoleAssistant, Content: "您好！"},
			{Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{{Type: openai.ChatMessagePartTypeText, Text: "怎么退货？"}}},
		},
		User:        "customer-42",
		Temperature: 0.2,
		MaxTokens:   300,
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.ID, "chatcmpl-"), res.ID)
	require.Equal(t, "chat.completion", res.Object)
	require.Equal(t, "kb1", res.Model)
	require.NotZero(t, res.Created)
	require.Len(t, res.Choices, 1)
	require.Equal(t, "assistant", res.Choices[0].Message.Role)
	require.Equal(t, strings.Join(fakePieces, ""), res.Choices[0].Message.Content)
	require.Equal(t, openai.FinishReasonStop, res.Choices[0].FinishReason)
	require.Positive(t, res.Usage.PromptTokens)
	require.Equal(t, res.Usage.PromptTokens+res.Usage.CompletionTokens, res.Usage.TotalTokens)

	got := b.fake.last()
	require.Equal(t, "怎么退货？", got.Question)
	require.Len(t, got.History, 2, "the system message is left out")
	require.Equal(t, "customer-42", got.CustomerID)

	// The zhiku extra, for clients that read it.
	r := b.do(t, bot, "POST", "/v1/chat/completions", `{"model":"kb1","messages":[{"role":"user","content":"怎么退货？"}],"n":1,"top_p":1}`)
	require.Equal(t, 200, r.Code, r.Raw)
	z := r.Body["zhiku"].(map[string]any)
	require.Equal(t, "ans-kb1", z["answer_id"])
	require.Equal(t, true, z["answered"])
	require.Equal(t, "generated", z["source"])
	require.Len(t, z["citations"], 1)
	for _, f := range []string{"handoff", "handoff_reason", "confidence", "rewritten_query"} {
		require.Contains(t, z, f)
	}
}

func TestChatCompletionsStream(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	bot := b.key(t, "default", kb.RoleBot)
	client := b.openAIClient(bot)
	stream, err := client.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model:         "kb1",
		Messages:      []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "怎么退货？"}},
		Stream:        true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	require.NoError(t, err)
	defer stream.Close()
	var text strings.Builder
	var roles []string
	var finish []openai.FinishReason
	var usage *openai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, "chat.completion.chunk", chunk.Object)
		require.True(t, strings.HasPrefix(chunk.ID, "chatcmpl-"))
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, c := range chunk.Choices {
			if c.Delta.Role != "" {
				roles = append(roles, c.Delta.Role)
			}
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = append(finish, c.FinishReason)
			}
		}
	}
	require.Equal(t, strings.Join(fakePieces, ""), text.String())
	require.Equal(t, []string{"assistant"}, roles)
	require.Equal(t, []openai.FinishReason{openai.FinishReasonStop}, finish)
	require.NotNil(t, usage)
	require.Positive(t, usage.CompletionTokens)

	// On the wire: data lines only, the last chunk carries the zhiku extra, then [DONE].
	res := b.post(t, bot, "/v1/chat/completions", `{"model":"kb1","stream":true,"messages":[{"role":"user","content":"handoff?"}]}`)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", res.Header.Get("Content-Type"))
	events := readSSE(t, res)
	require.Equal(t, "[DONE]", events[len(events)-1].Data)
	var last map[string]any
	require.NoError(t, json.Unmarshal([]byte(events[len(events)-2].Data), &last))
	require.Equal(t, true, last["zhiku"].(map[string]any)["handoff"])
	require.Equal(t, "stop", last["choices"].([]any)[0].(map[string]any)["finish_reason"])
	for _, e := range events {
		require.Empty(t, e.Name, "OpenAI streams have no event names")
	}

	// A failure after the first piece is an error object in the stream, which the SDK raises.
	stream, err = client.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model: "kb1", Stream: true, Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "fail-after"}},
	})
	require.NoError(t, err)
	defer stream.Close()
	for err == nil {
		_, err = stream.Recv()
	}
	var apiErr *openai.APIError
	require.ErrorAs(t, err, &apiErr, err.Error())
	require.Equal(t, "server_error", apiErr.Type)
}

func TestChatCompletionsErrors(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	ctx := context.Background()
	req := openai.ChatCompletionRequest{Model: "kb1", Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "怎么退货？"}}}

	apiError := func(t *testing.T, err error) *openai.APIError {
		t.Helper()
		var e *openai.APIError
		require.ErrorAs(t, err, &e)
		return e
	}

	_, err := b.openAIClient("not-a-key").CreateChatCompletion(ctx, req)
	e := apiError(t, err)
	require.Equal(t, 401, e.HTTPStatusCode)
	require.Equal(t, "invalid_request_error", e.Type)
	require.Equal(t, "invalid_api_key", e.Code)
	_, err = b.openAIClient("not-a-key").ListModels(ctx)
	require.Equal(t, "invalid_api_key", apiError(t, err).Code)

	bot := b.openAIClient(b.key(t, "default", kb.RoleBot))
	unknown := req
	unknown.Model = "gpt-4o"
	_, err = bot.CreateChatCompletion(ctx, unknown)
	e = apiError(t, err)
	require.Equal(t, 404, e.HTTPStatusCode)
	require.Equal(t, "model_not_found", e.Code)
	require.Equal(t, "model", *e.Param)
	require.Contains(t, e.Message, "gpt-4o")
	// Another tenant's knowledge base is as unknown.
	_, err = b.openAIClient(b.key(t, "acme", kb.RoleAdmin)).CreateChatCompletion(ctx, req)
	require.Equal(t, "model_not_found", apiError(t, err).Code)

	noUser := req
	noUser.Messages = []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: "hi"}}
	_, err = bot.CreateChatCompletion(ctx, noUser)
	e = apiError(t, err)
	require.Equal(t, 422, e.HTTPStatusCode)
	require.Equal(t, "invalid_request_error", e.Type)

	_, err = b.openAIClient(b.key(t, "default", kb.RoleUploader)).CreateChatCompletion(ctx, req)
	require.Equal(t, 403, apiError(t, err).HTTPStatusCode)

	for body, code := range map[string]int{
		`{"model":"kb1","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`: 422,
		`{"model":"kb1","messages":[{"role":"user","content":5}]}`:                                              400,
		`{"messages":[{"role":"user","content":"hi"}]}`:                                                         422,
		`{"model":`: 400,
	} {
		r := b.do(t, adminKey, "POST", "/v1/chat/completions", body)
		require.Equal(t, code, r.Code, body)
		e := r.Body["error"].(map[string]any)
		require.Equal(t, "invalid_request_error", e["type"], body)
		require.NotEmpty(t, e["message"], body)
		require.Contains(t, e, "param")
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	ctx := context.Background()
	other, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "kb2", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 256})
	require.NoError(t, err)

	list, err := b.openAIClient(b.key(t, "default", kb.RoleBot)).ListModels(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range list.Models {
		ids = append(ids, m.ID)
		require.Equal(t, "model", m.Object)
		require.Equal(t, "zhiku", m.OwnedBy)
		require.NotZero(t, m.CreatedAt)
	}
	require.ElementsMatch(t, []string{"kb1", "kb2"}, ids)

	list, err = b.openAIClient(b.key(t, "default", kb.RoleBot, other.ID)).ListModels(ctx)
	require.NoError(t, err)
	require.Len(t, list.Models, 1)
	require.Equal(t, "kb2", list.Models[0].ID)

	acme := b.key(t, "acme", kb.RoleBot)
	list, err = b.openAIClient(acme).ListModels(ctx)
	require.NoError(t, err)
	require.Empty(t, list.Models)
	r := b.do(t, acme, "GET", "/v1/models", "")
	require.JSONEq(t, `{"object":"list","data":[]}`, r.Raw)
}
