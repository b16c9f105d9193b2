package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// writeDoc stores a ready document with n chunks (pages 1..n under one heading path).
func writeDoc(t *testing.T, b *testBundle, kbID int64, ext, hash string, n int) kb.Document {
	t.Helper()
	chunks := make([]kb.Chunk, n)
	for i := range chunks {
		chunks[i] = kb.Chunk{Ord: i, Content: fmt.Sprintf("第 %d 段（%s）", i, hash), Page: i + 1, SectionPath: []string{"故障排除", "E104"},
			ContentHash: fmt.Sprintf("%s-%d", hash, i), Embedding: []float32{1, 0, 0}, Tokens: []string{"e104"}}
	}
	res, err := b.db.Store.ReplaceDocument(context.Background(), kb.Document{KBID: kbID, ExternalID: ext, Title: "XR-500 说明书", Kind: kb.KindManual,
		Status: kb.StatusReady, ContentHash: hash, SizeBytes: int64(1000 * n), Pages: n}, chunks, "zhiku-hash-v1", 3)
	require.NoError(t, err)
	return res.Document
}

func TestChunkPreviewAndVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	manuals, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "manuals", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	faqs, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "faqs", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	writeDoc(t, b, manuals.ID, "xr500.pdf", "v1", 2)
	d := writeDoc(t, b, manuals.ID, "xr500.pdf", "v2", 5)
	base := "/v1/knowledge-bases/manuals/documents/"

	r := b.do(t, adminKey, "GET", base+"xr500.pdf/chunks?limit=2&offset=1", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, float64(5), r.Body["total"])
	require.Equal(t, float64(2), r.Body["version"])
	chunks := r.Body["chunks"].([]any)
	require.Len(t, chunks, 2)
	c := chunks[0].(map[string]any)
	require.Equal(t, float64(1), c["ord"])
	require.Equal(t, float64(2), c["page"])
	require.Equal(t, []any{"故障排除", "E104"}, c["section_path"])
	require.Equal(t, "第 1 段（v2）", c["content"])
	require.Equal(t, "manual", c["metadata"].(map[string]any)["kind"])
	require.NotContains(t, c, "embedding")

	r = b.do(t, adminKey, "GET", base+fmt.Sprint(d.ID)+"/chunks", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Len(t, r.Body["chunks"], 5, "by numeric id too")
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "offset=-1"} {
		r = b.do(t, adminKey, "GET", base+"xr500.pdf/chunks?"+q, "")
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, q)
	}

	r = b.do(t, adminKey, "GET", base+"xr500.pdf/versions", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	vs := r.Body["versions"].([]any)
	require.Len(t, vs, 2)
	v2, v1 := vs[0].(map[string]any), vs[1].(map[string]any)
	require.Equal(t, []any{float64(2), true, "v2", float64(5), float64(5000), "ready"}, []any{v2["version"], v2["is_current"], v2["content_hash"], v2["chunks"], v2["size_bytes"], v2["status"]})
	require.Equal(t, []any{float64(1), false, "v1", float64(0), "superseded"}, []any{v1["version"], v1["is_current"], v1["content_hash"], v1["chunks"], v1["status"]})
	require.NotEmpty(t, v1["created_at"])

	// Scoping as for the documents themselves: the document is looked up in the named
	// knowledge base only; a key bound to another knowledge base, or another tenant's, sees nothing.
	other, uploader, operator := b.key(t, "other", kb.RoleAdmin), b.key(t, "default", kb.RoleUploader, faqs.ID), b.key(t, "default", kb.RoleOperator, manuals.ID)
	for _, route := range []string{"chunks", "versions"} {
		path := base + "xr500.pdf/" + route
		require.Equal(t, http.StatusNotFound, b.do(t, adminKey, "GET", base+"xr500.pdfx/"+route, "").Code)
		require.Equal(t, http.StatusNotFound, b.do(t, adminKey, "GET", fmt.Sprintf("/v1/knowledge-bases/faqs/documents/%d/%s", d.ID, route), "").Code, "the document's id in another knowledge base")
		require.Equal(t, http.StatusNotFound, b.do(t, other, "GET", path, "").Code, "another tenant")
		require.Equal(t, http.StatusNotFound, b.do(t, uploader, "GET", path, "").Code, "a key of another knowledge base")
		require.Equal(t, http.StatusOK, b.do(t, operator, "GET", path, "").Code, "a key of this one")
		require.Equal(t, http.StatusUnauthorized, b.do(t, "", "GET", path, "").Code)
	}
	r = b.do(t, adminKey, "GET", base+"nope/chunks", "")
	require.Equal(t, http.StatusNotFound, r.Code)
	require.Contains(t, r.Raw, "nope")
}

func TestProductsRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	shop, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "shop", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	for i, sku := range []string{"XR-500", "XR-300", "MOP-1"} {
		_, err := b.db.Store.ReplaceDocument(ctx, kb.Document{KBID: shop.ID, ExternalID: "sku:" + sku, Title: sku + " 商品", Kind: kb.KindCatalog, Status: kb.StatusReady,
			ContentHash: sku, Metadata: map[string]any{"sku": sku, "name": sku + " 商品", "price": 100.5 * float64(i+1), "stock": float64(i), "颜色": []string{"白", "黑", "灰"}[i]}},
			[]kb.Chunk{{Content: sku, ContentHash: sku, Embedding: []float32{1, 0, 0}}}, "zhiku-hash-v1", 3)
		require.NoError(t, err)
	}
	r := b.do(t, adminKey, "GET", "/v1/knowledge-bases/shop/products?limit=2", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, float64(3), r.Body["total"])
	ps := r.Body["products"].([]any)
	require.Len(t, ps, 2)
	p := ps[0].(map[string]any)
	require.Equal(t, "MOP-1", p["sku"])
	require.Equal(t, 301.5, p["price"])
	require.Equal(t, float64(2), p["stock"])
	require.Equal(t, map[string]any{"颜色": "灰"}, p["attributes"])

	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases/shop/products?q=%E9%BB%91", "") // 黑
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, float64(1), r.Body["total"])
	require.Equal(t, "XR-300", r.Body["products"].([]any)[0].(map[string]any)["sku"])

	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases/shop/products?q=nothing-like-it", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, []any{}, r.Body["products"])
	require.Equal(t, http.StatusUnprocessableEntity, b.do(t, adminKey, "GET", "/v1/knowledge-bases/shop/products?limit=1000", "").Code)
	require.Equal(t, http.StatusNotFound, b.do(t, b.key(t, "other", kb.RoleAdmin), "GET", "/v1/knowledge-bases/shop/products", "").Code)
	require.Equal(t, http.StatusOK, b.do(t, b.key(t, "default", kb.RoleBot), "GET", "/v1/knowledge-bases/shop/products", "").Code)
}

func TestEditAndApproveTicketPair(t *testing.T) {
	t.Parallel()
	b := setupCuration(t)
	ctx := context.Background()
	k, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "tickets", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	ticket := func(ext, q string) kb.Document {
		res, err := b.db.Store.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: ext, Title: q, Kind: kb.KindTickets, Status: kb.StatusReview},
			[]kb.Chunk{{Content: "问：" + q + "\n答：电机过热", ContentHash: ext, Embedding: []float32{1, 0, 0}, Tokens: []string{"e104"}}}, "zhiku-hash-v1", 3)
		require.NoError(t, err)
		return res.Document
	}
	doc := ticket("ticket:e104", "E104 是什么")
	writeDoc(t, b, k.ID, "manual.pdf", "m", 1)
	base := "/v1/knowledge-bases/tickets/documents/"
	body := `{"question":"E104 报警是什么意思？","answer":"E104 表示电机过热，请关机冷却 30 分钟后再开机。","similar_questions":["E104 是什么"]}`

	require.Equal(t, http.StatusForbidden, b.do(t, b.key(t, "default", kb.RoleUploader), "POST", base+"ticket:e104/curate", body).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, b.key(t, "other", kb.RoleAdmin), "POST", base+"ticket:e104/curate", body).Code)
	require.Equal(t, http.StatusConflict, b.do(t, adminKey, "POST", base+"manual.pdf/curate", body).Code, "only ticket pairs")
	r := b.do(t, adminKey, "POST", base+"ticket:e104/curate", `{"question":"","answer":"x"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Code, r.Raw)
	d, err := b.db.Store.GetDocument(ctx, k.ID, "ticket:e104")
	require.NoError(t, err)
	require.Equal(t, kb.StatusReview, d.Status, "a refused edit changes nothing")

	op := b.key(t, "default", kb.RoleOperator)
	r = b.do(t, op, "POST", base+fmt.Sprint(doc.ID)+"/curate", body)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	f := r.Body["faq"].(map[string]any)
	require.Equal(t, "E104 报警是什么意思？", f["question"])
	require.Equal(t, []any{"E104 是什么"}, f["similar_questions"])
	got := r.Body["document"].(map[string]any)
	require.Equal(t, kb.StatusSuperseded, got["status"])
	require.Contains(t, got["status_detail"], fmt.Sprintf("#%d", int64(f["id"].(float64))))

	// The curated answer is live; the mined passage is out of search and out of the queue.
	faq, err := b.db.Store.GetFAQ(ctx, k.ID, int64(f["id"].(float64)))
	require.NoError(t, err)
	require.Equal(t, "E104 表示电机过热，请关机冷却 30 分钟后再开机。", faq.Answer)
	var live bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT live FROM chunks WHERE document_id = $1`, doc.ID).Scan(&live))
	require.False(t, live)
	r = b.do(t, op, "GET", "/v1/knowledge-bases/tickets/documents?status=review", "")
	require.Equal(t, float64(0), r.Body["total"])
	require.Equal(t, http.StatusConflict, b.do(t, op, "POST", base+"ticket:e104/curate", body).Code, "done once")

	var actions []string
	rows, err := b.db.Pool.Query(ctx, `SELECT action FROM audit_log WHERE action IN ('document.curate', 'faq.create') ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"document.curate", "faq.create"}, actions)
}

func TestReindexRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/x/reindex", "")
	require.Equal(t, http.StatusNotFound, r.Code, "no re-indexer: no route")
}
