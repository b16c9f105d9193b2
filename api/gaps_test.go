package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// loopServer is the API with the closed loop wired as cmd/zhiku wires it.
func loopServer(t *testing.T) (*testBundle, *closedloop.Capture) {
	t.Helper()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), kb.DefaultTenant)
	require.NoError(t, err)
	emb, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(t, err)
	capture := closedloop.NewCapture(closedloop.CaptureDeps{
		Grouper: closedloop.NewGrouper(emb, db.Store, closedloop.GroupOptions{}), Writer: db.Store, Hits: db.Store, Exchanges: db.Store,
	}, closedloop.CaptureOptions{})
	go capture.Run(context.Background())
	t.Cleanup(func() { _ = capture.Close(context.Background()) })
	h := api.New(api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool, AdminKey: adminKey, DefaultTenantID: tenant.ID,
		Embedding:     api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 768},
		Loop:          closedloop.NewService(closedloop.ServiceDeps{Store: db.Store, Curation: db.Store}),
		Conversations: db.Store,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testBundle{db: db, srv: srv, tenant: tenant, handler: h}, capture
}

func TestGapsAPI(t *testing.T) {
	t.Parallel()
	b, capture := loopServer(t)
	ctx := context.Background()
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"shop"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	kbID := int64(r.Body["id"].(float64))
	for i, q := range []string{"怎么退货", "退货流程是什么", "怎么换货"} {
		e := kb.Exchange{AnswerID: fmt.Sprintf("ans_%d", i), TenantID: b.tenant.ID, KBID: kbID, Channel: "app", CustomerID: "13812345678",
			Question: q, Source: kb.SourceNone, CreatedAt: time.Now()}
		_, err := b.db.Pool.Exec(ctx, `INSERT INTO exchanges (answer_id, tenant_id, kb_id, channel, customer_id, question, source, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, e.AnswerID, e.TenantID, e.KBID, e.Channel, e.CustomerID, e.Question, e.Source, e.CreatedAt)
		require.NoError(t, err)
		capture.Record(e)
	}
	require.NoError(t, capture.Flush(ctx))

	r = b.do(t, adminKey, "GET", "/v1/gaps?knowledge_base=shop&status=open", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.EqualValues(t, 2, r.Body["total"])
	top := r.Body["gaps"].([]any)[0].(map[string]any)
	require.Equal(t, "怎么退货", top["question"], r.Raw)
	require.EqualValues(t, 2, top["count"])
	id := int64(top["id"].(float64))
	path := fmt.Sprintf("/v1/gaps/%d", id)

	require.Equal(t, 422, b.do(t, adminKey, "GET", "/v1/gaps?status=later", "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/gaps?knowledge_base=nope", "").Code)
	r = b.do(t, adminKey, "GET", path, "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Len(t, r.Body["occurrences"], 2)

	// Bots cannot work the queue; another tenant's operator sees no such gap.
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleBot), "GET", "/v1/gaps", "").Code)
	other := b.key(t, "other", kb.RoleOperator)
	require.Equal(t, 404, b.do(t, other, "GET", path, "").Code)
	require.Equal(t, 404, b.do(t, other, "POST", path+"/resolve", `{"answer":"x"}`).Code)
	r = b.do(t, other, "GET", "/v1/gaps", "")
	require.EqualValues(t, 0, r.Body["total"])

	r = b.do(t, adminKey, "POST", path+"/assign", `{"assignee":"xiaoli"}`)
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, "xiaoli", r.Body["assignee"])
	require.Equal(t, 422, b.do(t, adminKey, "POST", path+"/resolve", `{"answer":" "}`).Code)
	r = b.do(t, adminKey, "POST", path+"/resolve", `{"answer":"在订单页点“申请退货”。"}`)
	require.Equal(t, 200, r.Code, r.Raw)
	faq := r.Body["faq"].(map[string]any)
	require.Equal(t, "gap", faq["source"])
	require.Equal(t, []any{"退货流程是什么"}, faq["similar_questions"])
	require.Equal(t, 409, b.do(t, adminKey, "POST", path+"/resolve", `{"answer":"again"}`).Code)
	curated, err := b.db.Store.CuratedEntries(ctx, kbID)
	require.NoError(t, err)
	require.Len(t, curated, 1, "the curated answer is live")

	r = b.do(t, adminKey, "GET", "/v1/stats?knowledge_base=shop&days=1", "")
	require.Equal(t, 200, r.Code, r.Raw)
	day := r.Body["stats"].([]any)[0].(map[string]any)
	require.EqualValues(t, 3, day["questions"])
	require.EqualValues(t, 1, day["gaps_resolved"])
	require.EqualValues(t, 1, day["open_gaps"])
	require.Equal(t, 422, b.do(t, adminKey, "GET", "/v1/stats?days=365", "").Code)
	// The window's questions ranked: each asked once, none answered.
	asked := r.Body["top_questions"].([]any)
	require.Len(t, asked, 3)
	require.Equal(t, "shop", asked[0].(map[string]any)["knowledge_base"])
	require.EqualValues(t, 1, asked[0].(map[string]any)["count"])
	require.Len(t, r.Body["top_unanswered"], 3)
	r = b.do(t, adminKey, "GET", "/v1/stats?top=1", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.EqualValues(t, 7, r.Body["days"])
	require.Len(t, r.Body["top_questions"], 1)
	r = b.do(t, adminKey, "GET", "/v1/stats?top=0", "")
	require.Equal(t, []any{}, r.Body["top_questions"])
	require.Equal(t, 422, b.do(t, adminKey, "GET", "/v1/stats?top=101", "").Code)
	r = b.do(t, other, "GET", "/v1/stats", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, []any{}, r.Body["top_questions"], "another tenant's questions are not counted")

	r = b.do(t, adminKey, "GET", "/v1/conversations/export?knowledge_base=shop", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Contains(t, r.Hdr.Get("Content-Type"), "text/csv")
	require.Contains(t, r.Raw, "*******5678")
	require.NotContains(t, r.Raw, "13812345678")
	require.Equal(t, 4, strings.Count(r.Raw, "\n"))

	r = b.do(t, adminKey, "GET", "/v1/gaps/export?status=resolved", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Contains(t, r.Raw, "怎么退货")
	require.NotContains(t, r.Raw, "怎么换货")

	r = b.do(t, adminKey, "GET", "/v1/gaps?type=review", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Empty(t, r.Body["items"])
}
