package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

func TestConversationsAPI(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	tenant, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	h := api.New(api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool, AdminKey: adminKey, DefaultTenantID: tenant.ID,
		Embedding:     api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 768},
		Conversations: db.Store,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &testBundle{db: db, srv: srv, tenant: tenant, handler: h}

	kbID := map[string]int64{}
	for _, name := range []string{"shop", "factory"} {
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"`+name+`"}`)
		require.Equal(t, 201, r.Code, r.Raw)
		kbID[name] = int64(r.Body["id"].(float64))
	}
	var docID, chunkID int64
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO documents (kb_id, external_id, title, kind, status) VALUES ($1, 'manual', 'XR-500 说明书', 'manual', 'ready') RETURNING id`, kbID["shop"]).Scan(&docID))
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO chunks (kb_id, document_id, ord, content, page, section_path) VALUES ($1, $2, 0, 'E104 表示电机过热。', 3, '{故障代码}') RETURNING id`, kbID["shop"], docID).Scan(&chunkID))
	now := time.Now()
	ins := func(id, kbName, channel, customer, q, answer string, answered bool, at time.Time, results string) {
		_, err := db.Pool.Exec(ctx, `INSERT INTO exchanges (answer_id, tenant_id, kb_id, channel, customer_id, question, rewritten_query, answer, source, answered, results, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12)`, id, tenant.ID, kbID[kbName], channel, customer, q, q+"？", answer,
			map[bool]string{true: "extractive", false: "none"}[answered], answered, results, at)
		require.NoError(t, err)
	}
	ins("a1", "shop", "app", "13812345678", "E104 是什么故障", "E104 表示电机过热。", true, now.Add(-3*time.Hour),
		fmt.Sprintf(`[{"chunk_id":%d,"document_id":%d,"score":0.8,"cited":true},{"chunk_id":999999,"document_id":1,"score":0.4}]`, chunkID, docID))
	ins("a2", "shop", "web", "u42", "怎么开发票", "", false, now.Add(-2*time.Hour), `[]`)
	ins("a3", "factory", "app", "13812345678", "100%_退款吗", "", false, now.Add(-time.Hour), `[]`)
	ins("a4", "shop", "app", "u43", "旧问题", "", false, now.AddDate(0, 0, -10), `[]`)

	list := func(key, query string) (int, []string, map[string]any) {
		r := b.do(t, key, "GET", "/v1/conversations"+query, "")
		if r.Code != 200 {
			return r.Code, nil, r.Body
		}
		var ids []string
		for _, c := range r.Body["conversations"].([]any) {
			ids = append(ids, c.(map[string]any)["answer_id"].(string))
		}
		return r.Code, ids, r.Body
	}
	_, ids, body := list(adminKey, "")
	require.Equal(t, []string{"a3", "a2", "a1", "a4"}, ids, "newest first")
	require.EqualValues(t, 4, body["total"])
	first := body["conversations"].([]any)[0].(map[string]any)
	require.Equal(t, "*******5678", first["customer"], "customer ids are masked as in the export")
	require.NotContains(t, fmt.Sprint(body), "13812345678")

	for query, want := range map[string][]string{
		"?knowledge_base=shop": {"a2", "a1", "a4"},
		"?q=e104":              {"a1"}, // case-insensitive, the question
		"?q=%E7%94%B5%E6%9C%BA%E8%BF%87%E7%83%AD": {"a1"}, // 电机过热: the answer
		"?q=100%25_":                          {"a3"},       // % and _ are literal
		"?q=%25":                              {"a3"},       // only a3 has a %
		"?channel=web":                        {"a2"},       //
		"?customer=13812345678":               {"a3", "a1"}, // the full id finds them
		"?answered=false&knowledge_base=shop": {"a2", "a4"}, //
		"?answered=true":                      {"a1"},       //
		"?since=" + now.AddDate(0, 0, -1).Format(time.DateOnly): {"a3", "a2", "a1"},
		"?limit=1&offset=1": {"a2"},
	} {
		code, ids, body := list(adminKey, query)
		require.Equal(t, 200, code, "%s: %v", query, body)
		require.Equal(t, want, ids, query)
	}
	for _, bad := range []string{"?answered=maybe", "?limit=500", "?since=yesterday", "?limit=-1"} {
		code, _, _ := list(adminKey, bad)
		require.Equal(t, 422, code, bad)
	}
	code, _, _ := list(adminKey, "?knowledge_base=nope")
	require.Equal(t, 404, code)

	// One exchange with its passages: the chunk still there has its text, the other is gone.
	r := b.do(t, adminKey, "GET", "/v1/conversations/a1", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, "E104 是什么故障？", r.Body["conversation"].(map[string]any)["rewritten_query"])
	ps := r.Body["passages"].([]any)
	require.Len(t, ps, 2)
	p0, p1 := ps[0].(map[string]any), ps[1].(map[string]any)
	require.Equal(t, "E104 表示电机过热。", p0["content"])
	require.Equal(t, "XR-500 说明书", p0["title"])
	require.EqualValues(t, 3, p0["page"])
	require.Equal(t, false, p0["gone"])
	require.Equal(t, true, p1["gone"])
	require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/conversations/nope", "").Code)

	// Bots and uploaders may not read the log; a key bound to one knowledge base sees only
	// its exchanges; another tenant's operator sees none.
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleBot), "GET", "/v1/conversations", "").Code)
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleUploader), "GET", "/v1/conversations/a1", "").Code)
	bound := b.key(t, "default", kb.RoleOperator, kbID["factory"])
	_, ids, _ = list(bound, "")
	require.Equal(t, []string{"a3"}, ids)
	require.Equal(t, 404, b.do(t, bound, "GET", "/v1/conversations/a1", "").Code)
	code, _, _ = list(bound, "?knowledge_base=shop")
	require.Equal(t, 404, code)
	other := b.key(t, "other", kb.RoleOperator)
	code, ids, body = list(other, "")
	require.Equal(t, 200, code)
	require.Empty(t, ids)
	require.EqualValues(t, 0, body["total"])
	require.Equal(t, 404, b.do(t, other, "GET", "/v1/conversations/a1", "").Code)
}
