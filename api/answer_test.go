package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// fakeAnswerer stands in for the answer service: it answers every question with
// fakeAnswer in three pieces, or hands off a question holding "handoff", and records the
// requests it got.
type fakeAnswerer struct {
	mu   sync.Mutex
	reqs []answer.Request
	// errBefore fails a question holding "fail-before" before any piece; errAfter fails
	// one holding "fail-after" after the first piece.
	errBefore, errAfter error
}

var fakePieces = []string{"自签收之日起七天内", "可申请", "无理由退货 [1]。"}

func (f *fakeAnswerer) record(r answer.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
}

func (f *fakeAnswerer) last() answer.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeAnswerer) respond(r answer.Request) answer.Response {
	if strings.Contains(r.Question, "handoff") {
		return answer.Response{AnswerID: "ans-handoff", Answer: "我帮您转人工客服。", Handoff: true, HandoffReason: "low_confidence", Source: kb.SourceNone}
	}
	return answer.Response{
		AnswerID: "ans-" + r.KB.Name, Answer: strings.Join(fakePieces, ""), Answered: true, Confidence: 0.87,
		Source: kb.SourceGenerated, RewrittenQuery: r.Question + " 退货",
		Citations: []answer.Citation{{Index: 1, ChunkID: 11, DocumentID: 7, Title: "退货政策", Snippet: "七天无理由退货", Page: 2}},
	}
}

func (f *fakeAnswerer) Answer(_ context.Context, r answer.Request) (answer.Response, error) {
	f.record(r)
	if strings.Contains(r.Question, "fail-before") {
		return answer.Response{}, f.errBefore
	}
	return f.respond(r), nil
}

func (f *fakeAnswerer) AnswerStream(_ context.Context, r answer.Request, onDelta func(string) error) (answer.Response, error) {
	f.record(r)
	if strings.Contains(r.Question, "fail-before") {
		return answer.Response{}, f.errBefore
	}
	resp := f.respond(r)
	if resp.Handoff {
		return resp, nil // nothing streamed: the API sends the whole answer as one piece
	}
	for i, p := range fakePieces {
		if err := onDelta(p); err != nil {
			return answer.Response{}, err
		}
		if i == 0 && strings.Contains(r.Question, "fail-after") {
			return answer.Response{}, f.errAfter
		}
	}
	return resp, nil
}

func (f *fakeAnswerer) Assist(_ context.Context, r answer.Request) ([]answer.Suggestion, error) {
	f.record(r)
	resp := f.respond(r)
	return []answer.Suggestion{
		{Text: resp.Answer, Source: kb.SourceGenerated, Score: 0.9, Citations: resp.Citations},
		{Text: "您好，请提供订单号。", Source: kb.SourceCurated, Score: 0.5},
	}, nil
}

// answerBundle is a search bundle (knowledge base "kb1") with a fake answerer.
type answerBundle struct {
	*searchBundle
	fake *fakeAnswerer
}

func setupAnswer(t *testing.T) *answerBundle {
	t.Helper()
	fake := &fakeAnswerer{
		errBefore: kb.Invalid("filters: unknown field", "过滤字段未知"),
		errAfter:  errors.New("chat model: connection reset"),
	}
	sb := setupSearchWith(t, func(d *api.Deps) { d.Answers = fake })
	return &answerBundle{searchBundle: sb, fake: fake}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	bot := b.key(t, "default", kb.RoleBot)

	r := b.do(t, bot, "POST", "/v1/answer", `{"knowledge_base":"kb1","question":"怎么退货？",
		"history":[{"role":"user","content":"你好"},{"role":"assistant","content":"您好，请问有什么可以帮您？"}],
		"session_id":"s-1","channel":"web","customer_id":"c-9","filters":{"topic":"policy"},"debug":true}`)
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, "ans-kb1", r.Body["answer_id"])
	require.Equal(t, "自签收之日起七天内可申请无理由退货 [1]。", r.Body["answer"])
	require.Equal(t, true, r.Body["answered"])
	require.Equal(t, false, r.Body["handoff"])
	require.Equal(t, "generated", r.Body["source"])
	require.InDelta(t, 0.87, r.Body["confidence"], 1e-9)
	require.Equal(t, "怎么退货？ 退货", r.Body["rewritten_query"])
	cit := r.Body["citations"].([]any)[0].(map[string]any)
	for _, f := range []string{"chunk_id", "document_id", "title", "snippet", "page"} {
		require.Contains(t, cit, f)
	}

	got := b.fake.last()
	require.Equal(t, b.kb.ID, got.KB.ID)
	require.Equal(t, "怎么退货？", got.Question)
	require.Equal(t, []answer.Turn{{Role: "user", Content: "你好"}, {Role: "assistant", Content: "您好，请问有什么可以帮您？"}}, got.History)
	require.Equal(t, "s-1", got.SessionID)
	require.Equal(t, "web", got.Channel)
	require.Equal(t, "c-9", got.CustomerID)
	require.True(t, got.Debug)
	require.Equal(t, []kb.Condition{{Field: "topic", Op: kb.OpEq, Value: "policy"}}, got.Filter.Conditions)

	// By id too; a handoff has an empty citation list, not null.
	r = b.do(t, bot, "POST", "/v1/answer", fmt.Sprintf(`{"knowledge_base":"%d","question":"handoff please"}`, b.kb.ID))
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, true, r.Body["handoff"])
	require.Equal(t, "low_confidence", r.Body["handoff_reason"])
	require.Contains(t, r.Raw, `"citations":[]`)

	// The answerer's own input errors keep their status and message.
	r = b.do(t, bot, "POST", "/v1/answer", `{"knowledge_base":"kb1","question":"fail-before"}`)
	require.Equal(t, 422, r.Code, r.Raw)
	require.Contains(t, r.Raw, "unknown field")
}

func TestAnswerInput(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	bot := b.key(t, "default", kb.RoleBot)
	turns := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"role":"user","content":"hi"}`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	cases := []struct {
		name, body string
		code       int
		mention    string
	}{
		{"no question", `{"knowledge_base":"kb1"}`, 422, "question"},
		{"blank question", `{"knowledge_base":"kb1","question":"  "}`, 422, "question"},
		{"long question", `{"knowledge_base":"kb1","question":"` + strings.Repeat("问", 2001) + `"}`, 422, "2000"},
		{"NUL", `{"knowledge_base":"kb1","question":"a\u0000b"}`, 422, "NUL"},
		{"no knowledge base", `{"question":"hi"}`, 422, "knowledge_base"},
		{"too much history", `{"knowledge_base":"kb1","question":"hi","history":` + turns(51) + `}`, 422, "50"},
		{"system role", `{"knowledge_base":"kb1","question":"hi","history":[{"role":"system","content":"x"}]}`, 422, "role"},
		{"long turn", `{"knowledge_base":"kb1","question":"hi","history":[{"role":"user","content":"` + strings.Repeat("x", 4001) + `"}]}`, 422, "history[0].content"},
		{"NUL in turn", `{"knowledge_base":"kb1","question":"hi","history":[{"role":"assistant","content":"\u0000"}]}`, 422, "NUL"},
		{"long session", `{"knowledge_base":"kb1","question":"hi","session_id":"` + strings.Repeat("s", 201) + `"}`, 422, "session_id"},
		{"bad filters", `{"knowledge_base":"kb1","question":"hi","filters":"x"}`, 422, "filters"},
		{"unknown field", `{"knowledge_base":"kb1","question":"hi","colour":"red"}`, 400, "colour"},
		{"unknown kb", `{"knowledge_base":"nope","question":"hi"}`, 404, `"nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, bot, "POST", "/v1/answer", tc.body)
			require.Equal(t, tc.code, r.Code, r.Raw)
			e := r.Body["error"].(map[string]any)
			require.Contains(t, e["message"], tc.mention)
			require.NotEmpty(t, e["message_zh"], "bilingual")
		})
	}
	require.Equal(t, 200, b.do(t, bot, "POST", "/v1/answer", `{"knowledge_base":"kb1","question":"hi","history":`+turns(50)+`}`).Code)
}

func TestAnswerReach(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	body := `{"knowledge_base":"kb1","question":"怎么退货？"}`
	require.Equal(t, 401, b.do(t, "", "POST", "/v1/answer", body).Code)
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleUploader), "POST", "/v1/answer", body).Code)
	// Another tenant's knowledge base is not found, whatever its name.
	r := b.do(t, b.key(t, "acme", kb.RoleAdmin), "POST", "/v1/answer", body)
	require.Equal(t, 404, r.Code)
	require.Contains(t, r.Body["error"].(map[string]any)["message"], `"kb1"`)
	// A key bound to another knowledge base does not reach kb1.
	other, err := b.db.Store.CreateKB(context.Background(), kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "kb2", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 256})
	require.NoError(t, err)
	bound := b.key(t, "default", kb.RoleBot, other.ID)
	require.Equal(t, 404, b.do(t, bound, "POST", "/v1/answer", body).Code)
	require.Equal(t, 404, b.do(t, bound, "POST", "/v1/assist", body).Code)
	require.Equal(t, 200, b.do(t, bound, "POST", "/v1/answer", `{"knowledge_base":"kb2","question":"hi"}`).Code)
}

func TestAssist(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	r := b.do(t, adminKey, "POST", "/v1/assist", `{"knowledge_base":"kb1","question":"怎么退货？","history":[{"role":"user","content":"你好"}]}`)
	require.Equal(t, 200, r.Code, r.Raw)
	list := r.Body["suggestions"].([]any)
	require.Len(t, list, 2)
	first := list[0].(map[string]any)
	require.Equal(t, "generated", first["source"])
	require.NotEmpty(t, first["text"])
	require.Len(t, first["citations"], 1)
	require.Equal(t, []any{}, list[1].(map[string]any)["citations"])
	require.Len(t, b.fake.last().History, 1)

	r = b.do(t, adminKey, "POST", "/v1/assist", `{"knowledge_base":"kb1"}`)
	require.Equal(t, 422, r.Code)
}

type sseEvent struct {
	Name string
	Data string
}

// readSSE reads a whole event stream.
func readSSE(t *testing.T, res *http.Response) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Data != "" || cur.Name != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data += strings.TrimPrefix(line, "data: ")
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func (b *testBundle) post(t *testing.T, key, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestAnswerStream(t *testing.T) {
	t.Parallel()
	b := setupAnswer(t)
	bot := b.key(t, "default", kb.RoleBot)

	t.Run("pieces then done", func(t *testing.T) {
		t.Parallel()
		res := b.post(t, bot, "/v1/answer", `{"knowledge_base":"kb1","question":"怎么退货？","stream":true}`)
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, "text/event-stream; charset=utf-8", res.Header.Get("Content-Type"))
		require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
		require.Equal(t, "no", res.Header.Get("X-Accel-Buffering"))
		events := readSSE(t, res)
		require.Len(t, events, len(fakePieces)+1)
		for i, p := range fakePieces {
			require.Equal(t, "delta", events[i].Name)
			var d struct{ Text string }
			require.NoError(t, json.Unmarshal([]byte(events[i].Data), &d))
			require.Equal(t, p, d.Text)
		}
		done := events[len(events)-1]
		require.Equal(t, "done", done.Name)
		var resp answer.Response
		require.NoError(t, json.Unmarshal([]byte(done.Data), &resp))
		require.Equal(t, "ans-kb1", resp.AnswerID)
		require.True(t, resp.Answered)
		require.Len(t, resp.Citations, 1)
	})

	t.Run("an answer not streamed comes as one piece", func(t *testing.T) {
		t.Parallel()
		events := readSSE(t, b.post(t, bot, "/v1/answer", `{"knowledge_base":"kb1","question":"handoff","stream":true}`))
		require.Len(t, events, 2)
		require.Equal(t, "delta", events[0].Name)
		require.Contains(t, events[0].Data, "转人工")
		require.Contains(t, events[1].Data, `"handoff":true`)
	})

	t.Run("an error before the first piece is a plain error", func(t *testing.T) {
		t.Parallel()
		res := b.post(t, bot, "/v1/answer", `{"knowledge_base":"kb1","question":"fail-before","stream":true}`)
		require.Equal(t, 422, res.StatusCode)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json")
		res = b.post(t, bot, "/v1/answer", `{"knowledge_base":"nope","question":"hi","stream":true}`)
		require.Equal(t, 404, res.StatusCode)
	})

	t.Run("an error after it is an error event", func(t *testing.T) {
		t.Parallel()
		events := readSSE(t, b.post(t, bot, "/v1/answer", `{"knowledge_base":"kb1","question":"fail-after","stream":true}`))
		require.Len(t, events, 2)
		require.Equal(t, "delta", events[0].Name)
		require.Equal(t, "error", events[1].Name)
		require.Contains(t, events[1].Data, `"code":"internal"`)
		require.NotContains(t, events[1].Data, "connection reset", "internals are never echoed")
		require.Contains(t, events[1].Data, `"request_id"`)
	})
}

func TestKnowledgeBaseNameWithNULIsNotFoundNot500(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/v1/knowledge-bases/a%00b", "/v1/knowledge-bases/a%00b/documents", "/v1/knowledge-bases/%FF%FE"} {
		r := b.do(t, adminKey, "GET", path, "")
		require.Equal(t, 404, r.Code, "%s: %s", path, r.Raw)
	}
}
