package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
)

// setupCuration is setup with the FAQ and feedback routes on.
func setupCuration(t *testing.T) *testBundle {
	t.Helper()
	b := setup(t)
	h := api.New(api.Deps{
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:           b.db.Store,
		DB:              b.db.Pool,
		AdminKey:        adminKey,
		DefaultTenantID: b.tenant.ID,
		Embedding:       api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 768},
		Curation:        b.db.Store,
	})
	b.srv = httptest.NewServer(h)
	b.handler = h
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) createKB(t *testing.T, key, name string) int64 {
	t.Helper()
	r := b.do(t, key, "POST", "/v1/knowledge-bases", `{"name":"`+name+`"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	return int64(r.Body["id"].(float64))
}

func errMessages(r response) (en, zh string) {
	e, _ := r.Body["error"].(map[string]any)
	en, _ = e["message"].(string)
	zh, _ = e["message_zh"].(string)
	return en, zh
}

func TestFAQRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupCuration(t)
	b.createKB(t, adminKey, "support")

	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/support/faqs", `{"question":" 退货运费谁出？ ","answer":"质量问题我们承担。",
		"similar_questions":["退货邮费谁付","退货邮费谁付",""],"tags":["售后"],"valid_from":"2024-01-01T00:00:00Z","valid_until":null}`)
	require.Equal(t, 201, r.Code, r.Raw)
	id := int64(r.Body["id"].(float64))
	require.Equal(t, "退货运费谁出？", r.Body["question"])
	require.Equal(t, []any{"退货邮费谁付"}, r.Body["similar_questions"])
	require.Equal(t, []any{"售后"}, r.Body["tags"])
	require.Equal(t, "2024-01-01T00:00:00Z", r.Body["valid_from"])
	require.Equal(t, "api", r.Body["source"])
	require.NotEmpty(t, r.Body["created_by"])
	r = b.do(t, adminKey, "POST", "/v1/knowledge-bases/support/faqs", `{"question":"How long is the warranty?","answer":"Two years."}`)
	require.Equal(t, 201, r.Code, r.Raw)
	require.Equal(t, []any{}, r.Body["similar_questions"], "never null")

	list := b.do(t, adminKey, "GET", "/v1/knowledge-bases/support/faqs", "")
	require.Equal(t, 200, list.Code, list.Raw)
	require.EqualValues(t, 2, list.Body["total"])
	require.Len(t, list.Body["faqs"], 2)
	found := b.do(t, adminKey, "GET", "/v1/knowledge-bases/support/faqs?q=%E9%82%AE%E8%B4%B9", "") // 邮费, a similar question
	require.EqualValues(t, 1, found.Body["total"])
	require.Equal(t, "退货运费谁出？", found.Body["faqs"].([]any)[0].(map[string]any)["question"])
	page := b.do(t, adminKey, "GET", "/v1/knowledge-bases/support/faqs?limit=1&offset=1", "")
	require.EqualValues(t, 2, page.Body["total"])
	require.Len(t, page.Body["faqs"], 1)
	none := b.do(t, adminKey, "GET", "/v1/knowledge-bases/support/faqs?q=nothing", "")
	require.Equal(t, []any{}, none.Body["faqs"])

	path := fmt.Sprintf("/v1/knowledge-bases/support/faqs/%d", id)
	got := b.do(t, adminKey, "GET", path, "")
	require.Equal(t, 200, got.Code, got.Raw)
	require.Equal(t, "质量问题我们承担。", got.Body["answer"])

	up := b.do(t, adminKey, "PUT", path, `{"question":"退货运费谁出？","answer":"七天内免费退货。"}`)
	require.Equal(t, 200, up.Code, up.Raw)
	require.Equal(t, "七天内免费退货。", up.Body["answer"])
	require.Equal(t, []any{}, up.Body["similar_questions"], "PUT replaces every field")
	require.Nil(t, up.Body["valid_from"])

	require.Equal(t, 204, b.do(t, adminKey, "DELETE", path, "").Code)
	gone := b.do(t, adminKey, "GET", path, "")
	require.Equal(t, 404, gone.Code)
	en, zh := errMessages(gone)
	require.Contains(t, en, fmt.Sprint(id))
	require.NotEmpty(t, zh)
	require.Equal(t, 404, b.do(t, adminKey, "DELETE", path, "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "PUT", path, `{"question":"q","answer":"a"}`).Code)

	for action, want := range map[string]int{"faq.create": 2, "faq.update": 1, "faq.delete": 1} {
		n, err := b.db.Store.CountAudit(ctx, b.tenant.ID, action)
		require.NoError(t, err)
		require.Equal(t, want, n, action)
	}
}

func TestFAQValidationAndScope(t *testing.T) {
	t.Parallel()
	b := setupCuration(t)
	b.createKB(t, adminKey, "support")
	b.createKB(t, adminKey, "other")
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/other/faqs", `{"question":"q","answer":"a"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	otherID := int64(r.Body["id"].(float64))

	for body, field := range map[string]string{
		`{"question":"  ","answer":"a"}`:      "question",
		`{"question":"q"}`:                    "answer",
		`{"question":"q\u0000","answer":"a"}`: "question",
		`{"question":"q","answer":"a","valid_from":"2025-02-01T00:00:00Z","valid_until":"2025-01-01T00:00:00Z"}`: "valid_until",
	} {
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/support/faqs", body)
		require.Equal(t, 422, r.Code, body)
		require.Equal(t, "invalid", errCode(r), body)
		en, zh := errMessages(r)
		require.Contains(t, en, field, body)
		require.NotEmpty(t, zh, "%s: a Chinese message too", body)
	}
	require.Equal(t, 400, b.do(t, adminKey, "POST", "/v1/knowledge-bases/support/faqs", `{"question":"q","answer":"a","bogus":1}`).Code)

	// A FAQ is reached only through its own knowledge base.
	require.Equal(t, 404, b.do(t, adminKey, "GET", fmt.Sprintf("/v1/knowledge-bases/support/faqs/%d", otherID), "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "DELETE", fmt.Sprintf("/v1/knowledge-bases/support/faqs/%d", otherID), "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/knowledge-bases/support/faqs/abc", "").Code)

	// Another tenant sees none of it.
	globex := b.key(t, "globex", kb.RoleAdmin)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/knowledge-bases/other/faqs", ""},
		{"POST", "/v1/knowledge-bases/other/faqs", `{"question":"q","answer":"a"}`},
		{"GET", fmt.Sprintf("/v1/knowledge-bases/other/faqs/%d", otherID), ""},
		{"DELETE", fmt.Sprintf("/v1/knowledge-bases/other/faqs/%d", otherID), ""},
	} {
		require.Equal(t, 404, b.do(t, globex, c.method, c.path, c.body).Code, c.method+" "+c.path)
	}

	// Bots and uploaders read; operators curate.
	bot := b.key(t, "default", kb.RoleBot)
	uploader := b.key(t, "default", kb.RoleUploader)
	operator := b.key(t, "default", kb.RoleOperator)
	require.Equal(t, 200, b.do(t, bot, "GET", "/v1/knowledge-bases/other/faqs", "").Code)
	require.Equal(t, 403, b.do(t, bot, "POST", "/v1/knowledge-bases/other/faqs", `{"question":"q","answer":"a"}`).Code)
	require.Equal(t, 403, b.do(t, uploader, "DELETE", fmt.Sprintf("/v1/knowledge-bases/other/faqs/%d", otherID), "").Code)
	require.Equal(t, 201, b.do(t, operator, "POST", "/v1/knowledge-bases/other/faqs", `{"question":"q2","answer":"a"}`).Code)
}

func TestFeedbackRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupCuration(t)
	supportID := b.createKB(t, adminKey, "support")
	otherID := b.createKB(t, adminKey, "other")
	globex, err := b.db.Store.EnsureTenant(ctx, "globex")
	require.NoError(t, err)
	theirKB, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: globex.ID, Name: "support", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 4})
	require.NoError(t, err)
	require.NoError(t, b.db.Store.LogExchanges(ctx, []kb.Exchange{
		{AnswerID: "ans_support", TenantID: b.tenant.ID, KBID: supportID, Question: "q", Source: kb.SourceNone},
		{AnswerID: "ans_other", TenantID: b.tenant.ID, KBID: otherID, Question: "q", Source: kb.SourceNone},
		{AnswerID: "ans_globex", TenantID: globex.ID, KBID: theirKB.ID, Question: "q", Source: kb.SourceNone},
	}))
	bot := b.key(t, "default", kb.RoleBot)

	r := b.do(t, bot, "POST", "/v1/feedback", `{"answer_id":"ans_support","helpful":false,"comment":"没解决"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	require.Equal(t, true, r.Body["ok"])
	require.Equal(t, 201, b.do(t, bot, "POST", "/v1/feedback", `{"answer_id":"ans_support","helpful":true}`).Code)

	unknown := b.do(t, bot, "POST", "/v1/feedback", `{"answer_id":"ans_nope","helpful":true}`)
	require.Equal(t, 404, unknown.Code)
	en, zh := errMessages(unknown)
	require.Contains(t, en, "ans_nope")
	require.NotEmpty(t, zh)
	require.Equal(t, 404, b.do(t, bot, "POST", "/v1/feedback", `{"answer_id":"ans_globex","helpful":true}`).Code, "another tenant's answer")

	for _, body := range []string{`{"answer_id":"ans_support"}`, `{"helpful":true}`, `{"answer_id":" ","helpful":true}`} {
		r := b.do(t, bot, "POST", "/v1/feedback", body)
		require.Equal(t, 422, r.Code, body)
		en, zh := errMessages(r)
		require.NotEmpty(t, en, body)
		require.NotEmpty(t, zh, body)
	}

	// A key bound to one knowledge base gives feedback on its answers only.
	bound := b.key(t, "default", kb.RoleBot, supportID)
	require.Equal(t, 201, b.do(t, bound, "POST", "/v1/feedback", `{"answer_id":"ans_support","helpful":true}`).Code)
	require.Equal(t, 404, b.do(t, bound, "POST", "/v1/feedback", `{"answer_id":"ans_other","helpful":true}`).Code)

	uploader := b.key(t, "default", kb.RoleUploader)
	require.Equal(t, 403, b.do(t, uploader, "POST", "/v1/feedback", `{"answer_id":"ans_support","helpful":true}`).Code)

	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM feedback WHERE answer_id = 'ans_support'`).Scan(&n))
	require.Equal(t, 3, n)
}
