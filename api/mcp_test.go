package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// bearerTransport adds an API key to every request.
type bearerTransport struct{ key string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

func (b *answerBundle) mcpSession(t *testing.T, key string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "zhiku-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: b.srv.URL + "/mcp", HTTPClient: &http.Client{Transport: bearerTransport{key}},
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	var parts []string
	for _, c := range res.Content {
		tc, ok := c.(*mcp.TextContent)
		require.True(t, ok, "text content")
		parts = append(parts, tc.Text)
	}
	return strings.Join(parts, "\n")
}

func TestMCP(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	ctx := context.Background()
	bot := b.key(t, "default", kb.RoleBot)
	cs := b.mcpSession(t, bot)

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		require.NotEmpty(t, tl.Description)
	}
	require.ElementsMatch(t, []string{"search_knowledge", "answer_question"}, names)

	t.Run("search_knowledge", func(t *testing.T) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_knowledge", Arguments: map[string]any{"knowledge_base": "kb1", "query": "E104 故障怎么处理", "top_k": 2}})
		require.NoError(t, err)
		require.False(t, res.IsError, toolText(t, res))
		text := toolText(t, res)
		require.True(t, strings.HasPrefix(text, "[1] E104 故障"), text)
		require.Contains(t, text, "score ")
		require.Contains(t, text, "电机过热")
		var out struct {
			Results []struct {
				Title string  `json:"title"`
				Score float64 `json:"score"`
			} `json:"results"`
		}
		raw, err := json.Marshal(res.StructuredContent)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &out))
		require.LessOrEqual(t, len(out.Results), 2)
		require.Equal(t, "E104 故障", out.Results[0].Title)
	})

	t.Run("answer_question", func(t *testing.T) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "answer_question", Arguments: map[string]any{"knowledge_base": "kb1", "question": "怎么退货？"}})
		require.NoError(t, err)
		require.False(t, res.IsError)
		text := toolText(t, res)
		require.True(t, strings.HasPrefix(text, strings.Join(fakePieces, "")), text)
		require.Contains(t, text, "[1] 退货政策 (page 2)")
		require.Contains(t, text, "answered: true; handoff: false")
		require.Equal(t, "mcp", b.fake.last().Channel)
		sc := res.StructuredContent.(map[string]any)
		require.Equal(t, "ans-kb1", sc["answer_id"])
	})

	t.Run("unknown knowledge base is a tool error", func(t *testing.T) {
		for _, call := range []*mcp.CallToolParams{
			{Name: "answer_question", Arguments: map[string]any{"knowledge_base": "nope", "question": "hi"}},
			{Name: "search_knowledge", Arguments: map[string]any{"knowledge_base": "nope", "query": "hi"}},
		} {
			res, err := cs.CallTool(ctx, call)
			require.NoError(t, err, "not a protocol error")
			require.True(t, res.IsError)
			require.Contains(t, toolText(t, res), `knowledge base "nope" not found`)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "answer_question", Arguments: map[string]any{"knowledge_base": "kb1", "question": " "}})
		require.NoError(t, err)
		require.True(t, res.IsError)
		require.Contains(t, toolText(t, res), "question is required")
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_knowledge", Arguments: map[string]any{"knowledge_base": "kb1", "query": "退货", "top_k": -1}})
		require.NoError(t, err)
		require.True(t, res.IsError, "a negative top_k is refused, not replaced by the default")
		require.Contains(t, toolText(t, res), "top_k must be 1 to 50")
	})

	t.Run("another tenant's key sees no kb1", func(t *testing.T) {
		other := b.mcpSession(t, b.key(t, "acme", kb.RoleBot))
		res, err := other.CallTool(ctx, &mcp.CallToolParams{Name: "search_knowledge", Arguments: map[string]any{"knowledge_base": "kb1", "query": "退货"}})
		require.NoError(t, err)
		require.True(t, res.IsError)
	})
}

func TestMCPNeedsAKey(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	for _, key := range []string{"", "not-a-key"} {
		req, err := http.NewRequest("POST", b.srv.URL+"/mcp", strings.NewReader(init))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 401, res.StatusCode)
	}
	require.Equal(t, 401, b.do(t, "", "GET", "/mcp", "").Code)
	require.Equal(t, 401, b.do(t, "", "DELETE", "/mcp", "").Code)
	// An uploader key may not search.
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleUploader), "POST", "/mcp", init).Code)

	// The SDK's client fails to connect without a key.
	client := mcp.NewClient(&mcp.Implementation{Name: "zhiku-test", Version: "1"}, nil)
	_, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: b.srv.URL + "/mcp"}, nil)
	require.Error(t, err)
}

func TestMCPSessionIsBoundToItsKey(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	send := func(key, session, body string) *http.Response {
		req, err := http.NewRequest("POST", b.srv.URL+"/mcp", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+key)
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	res := send(adminKey, "", init)
	require.Equal(t, 200, res.StatusCode)
	session := res.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, session)
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	require.Equal(t, 403, send(b.key(t, "default", kb.RoleBot), session, list).StatusCode, "another key cannot use the session")
	del, err := http.NewRequest("DELETE", b.srv.URL+"/mcp", nil)
	require.NoError(t, err)
	del.Header.Set("Authorization", "Bearer "+adminKey)
	del.Header.Set("Mcp-Session-Id", session)
	dres, err := http.DefaultClient.Do(del)
	require.NoError(t, err)
	dres.Body.Close()
	require.Less(t, dres.StatusCode, 300, "the session ends")
	require.Equal(t, 404, send(adminKey, session, list).StatusCode)
}
