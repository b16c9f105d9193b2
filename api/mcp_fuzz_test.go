package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zhiku/zhiku/internal/kb"
)

// notFoundStore finds no knowledge base: a tool call that gets past decoding and its
// checks ends there, so the fuzz target needs no database. Any other store method panics
// (nil interface), which would be a finding: decoding must not reach them.
type notFoundStore struct{ Store }

func (notFoundStore) GetKB(context.Context, int64, string) (kb.KnowledgeBase, error) {
	return kb.KnowledgeBase{}, kb.ErrNotFound
}

// FuzzMCPRequest posts any body to the MCP endpoint inside a live session (initialized
// once, as a client does): JSON-RPC framing, method dispatch and the tools' arguments
// (search_knowledge, answer_question) are decoded by the SDK and checked by the tool
// handlers. Whatever the body, the answer is never a 5xx and the server does not panic.
func FuzzMCPRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_knowledge","arguments":{"knowledge_base":"demo","query":"E104 怎么办","top_k":3}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"answer_question","arguments":{"knowledge_base":"demo","question":"保修多久？"}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_knowledge","arguments":{"knowledge_base":"a\u0000b","query":"x","top_k":-1}}}`,
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search_knowledge","arguments":{"query":[1,2]}}}`,
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope"}}`,
		`[{"jsonrpc":"2.0","id":8,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/cancelled"}]`,
		`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"answer_question","arguments":{"question":"` + string(bytes.Repeat([]byte("长"), 3000)) + `"}}}`,
		`{"jsonrpc":"1.0","id":{},"method":7}`, `{`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	s := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: notFoundStore{}, MaxBodyBytes: 1 << 20})
	h := s.mcpHandler()
	p := kb.Principal{TenantID: 1, KeyID: 1, Name: "fuzz", Role: kb.RoleBot}
	post := func(body []byte, session string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer fuzz")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		req = req.WithContext(context.WithValue(req.Context(), principalKey{}, p))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	init := post([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`), "")
	session := init.Header().Get("Mcp-Session-Id")
	if init.Code != http.StatusOK || session == "" {
		f.Fatalf("initialize: %d %q %s", init.Code, session, init.Body)
	}
	post([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), session)
	f.Fuzz(func(t *testing.T, body []byte) {
		if w := post(body, session); w.Code >= 500 {
			t.Fatalf("%d for %q: %s", w.Code, body, w.Body)
		}
	})
}
