package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

const recordsJSONL = `{"id":"r1","title":"退货政策","text":"自签收之日起七天内，商品未使用且包装完好，可申请七天无理由退货。定制商品不支持无理由退货。","metadata":{"topic":"policy","tags":["售后","退货"]}}
{"id":"r2","title":"发货时间","text":"现货商品在付款后48小时内发货，预售商品以商品页面标注的发货时间为准。","metadata":{"topic":"logistics","tags":["物流"]}}
{"id":"r3","title":"E104 故障","text":"E104 表示电机过热。请断电冷却30分钟后重启；如仍报错，请联系售后更换电机。","metadata":{"topic":"manual","product":"XR-500","price":1299}}
{"id":"r4","title":"Shipping","text":"In-stock items ship within 48 hours of payment. Pre-order items ship on the date shown on the product page.","metadata":{"topic":"logistics"}}
{"id":"r5","title":"SKU-2231 智能电饭煲","text":"SKU-2231 智能电饭煲 3L，售价299元，支持预约和保温。","metadata":{"topic":"product","sku":"SKU-2231","price":299}}
`

// searchBundle is a server over a knowledge base "kb1" holding recordsJSONL, ingested
// through the real pipeline with the local embedder.
type searchBundle struct {
	*testBundle
	kb kb.KnowledgeBase
}

func setupSearch(t *testing.T) *searchBundle { return setupSearchWith(t, nil) }

// setupSearchWith is setupSearch with more dependencies set by with (answerers, jobs).
func setupSearchWith(t *testing.T, with func(*api.Deps)) *searchBundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "kb1", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	recs, err := records.Parse(strings.NewReader(recordsJSONL), "recs.jsonl")
	require.NoError(t, err)
	pipe := ingest.NewPipeline(db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return local, embedding.LocalModel, nil }, ingest.Options{})
	outs, err := pipe.Write(ctx, k, ingest.RecordUnits(recs, "recs.jsonl"), nil)
	require.NoError(t, err)
	for _, o := range outs {
		require.NoError(t, o.Err)
	}
	engine := retrieval.New(db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return local, nil }, nil, retrieval.Options{})
	deps := api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool, Search: engine,
		AdminKey: adminKey, DefaultTenantID: tenant.ID,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256},
	}
	if with != nil {
		with(&deps)
	}
	h := api.New(deps)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &searchBundle{testBundle: &testBundle{db: db, srv: srv, tenant: tenant, handler: h}, kb: k}
}

func results(t *testing.T, r response) []map[string]any {
	t.Helper()
	require.Equal(t, 200, r.Code, r.Raw)
	list, ok := r.Body["results"].([]any)
	require.True(t, ok, r.Raw)
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i] = x.(map[string]any)
	}
	return out
}

func TestSearchModesAndShape(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	for _, mode := range []string{"hybrid", "vector", "text"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", fmt.Sprintf(`{"query":"机器显示E104怎么办","top_k":3,"mode":%q}`, mode)))
			require.NotEmpty(t, res)
			top := res[0]
			require.Equal(t, "r3", top["external_id"])
			for _, f := range []string{"chunk_id", "document_id", "external_id", "title", "content", "score", "metadata", "source", "scores", "matched_terms"} {
				require.Contains(t, top, f)
			}
			score := top["score"].(float64)
			require.True(t, score > 0 && score <= 1, "score %v in 0..1", score)
			require.Equal(t, "manual", top["metadata"].(map[string]any)["topic"])
			scores := top["scores"].(map[string]any)
			if mode != "text" {
				require.NotNil(t, scores["vector"])
			}
			if mode != "vector" {
				require.NotNil(t, scores["text"])
				require.Contains(t, top["matched_terms"], "e104")
			}
		})
	}
}

func TestSearchRanking(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	cases := map[string]string{
		"定制的东西能七天无理由退吗":           "r1",
		"when will my order ship": "r4",
		"SKU-2231":                "r5",
		"sku2231多少钱":              "r5",
		"付款后多久发货":                 "r2",
	}
	for q, want := range cases {
		res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", fmt.Sprintf(`{"query":%q,"top_k":3}`, q)))
		require.NotEmpty(t, res, q)
		require.Equal(t, want, res[0]["external_id"], q)
	}
}

func TestSearchFiltersThresholdAndBadInput(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"发货","top_k":5,"filters":{"topic":"logistics"}}`))
	require.NotEmpty(t, res)
	for _, r := range res {
		require.Equal(t, "logistics", r["metadata"].(map[string]any)["topic"])
	}
	res = results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"价格","top_k":5,"filters":[{"field":"price","op":"lt","value":1000}]}`))
	for _, r := range res {
		require.Equal(t, "r5", r["external_id"])
	}
	res = results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"退货","top_k":5,"filters":{"tags":["退货"]}}`))
	require.Len(t, res, 1)

	all := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"E104 电机过热","top_k":5}`))
	high := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"E104 电机过热","top_k":5,"score_threshold":0.5}`))
	require.Greater(t, len(all), len(high), "the threshold drops weak hits")
	for _, r := range high {
		require.GreaterOrEqual(t, r["score"].(float64), 0.5)
	}

	for _, q := range []string{`-&!\"(`, `'; DROP TABLE chunks; --`, `a | b & !c <-> d`} {
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", fmt.Sprintf(`{"query":%q}`, q))
		require.Equal(t, 200, r.Code, q+": "+r.Raw)
	}
	for body, code := range map[string]int{
		`{"query":"x","mode":"fuzzy"}`:                    422,
		`{"query":"x","top_k":1000}`:                      422,
		`{"query":"x","score_threshold":2}`:               422,
		`{"query":""}`:                                    422,
		`{"query":"x","filters":{"price":{"between":1}}}`: 422,
		`{"query":"x","filters":"price"}`:                 422,
		`{"query":`:                                       400,
	} {
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", body)
		require.Equal(t, code, r.Code, body+": "+r.Raw)
	}
	require.Equal(t, 404, b.do(t, adminKey, "POST", "/v1/knowledge-bases/nope/search", `{"query":"x"}`).Code)
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleUploader), "POST", "/v1/knowledge-bases/kb1/search", `{"query":"x"}`).Code)
	require.Equal(t, 404, b.do(t, b.key(t, "other", kb.RoleBot), "POST", "/v1/knowledge-bases/kb1/search", `{"query":"x"}`).Code)
}

func TestDocumentsListGetDelete(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	r := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents?limit=2", "")
	require.Equal(t, 200, r.Code)
	require.EqualValues(t, 5, r.Body["total"])
	require.Len(t, r.Body["documents"], 2)
	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents/r3", "")
	require.Equal(t, 200, r.Code)
	require.EqualValues(t, 1, r.Body["chunks"])
	require.Equal(t, 403, b.do(t, b.key(t, "default", kb.RoleBot), "DELETE", "/v1/knowledge-bases/kb1/documents/r3", "").Code)
	require.Equal(t, 204, b.do(t, adminKey, "DELETE", "/v1/knowledge-bases/kb1/documents/r3", "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents/r3", "").Code)
	res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"E104","top_k":5}`))
	for _, x := range res {
		require.NotEqual(t, "r3", x["external_id"], "a deleted document is not found")
	}
}

func TestDifyExternalKnowledgeAPI(t *testing.T) {
	t.Parallel()
	b := setupSearch(t)
	post := func(key, body string) response {
		req, _ := http.NewRequest("POST", b.srv.URL+"/retrieval", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		out := response{Code: res.StatusCode, Raw: string(raw)}
		_ = jsonUnmarshal(raw, &out.Body)
		return out
	}
	probe := post("", "")
	require.Equal(t, 200, probe.Code, "the body-less registration probe")

	r := post("Bearer "+adminKey, `{"knowledge_id":"kb1","query":"E104是什么故障","retrieval_setting":{"top_k":2,"score_threshold":0}}`)
	require.Equal(t, 200, r.Code, r.Raw)
	recs := r.Body["records"].([]any)
	require.NotEmpty(t, recs)
	first := recs[0].(map[string]any)
	require.Contains(t, first["content"], "E104")
	meta := first["metadata"].(map[string]any)
	require.NotNil(t, meta["document_id"])
	require.Equal(t, "r3", meta["external_id"])

	r = post("Bearer "+adminKey, `{"knowledge_id":"kb1","query":"发货","retrieval_setting":{"top_k":5,"score_threshold":0},
		"metadata_condition":{"logical_operator":"and","conditions":[{"name":["topic"],"comparison_operator":"is","value":"logistics"}]}}`)
	require.Equal(t, 200, r.Code, r.Raw)
	for _, x := range r.Body["records"].([]any) {
		require.Equal(t, "logistics", x.(map[string]any)["metadata"].(map[string]any)["topic"])
	}
	r = post("Bearer "+adminKey, `{"knowledge_id":"kb1","query":"价格","retrieval_setting":{"top_k":5,"score_threshold":0},
		"metadata_condition":{"logical_operator":"or","conditions":[{"name":["price"],"comparison_operator":"<","value":500},{"name":["product"],"comparison_operator":"not empty"}]}}`)
	require.Equal(t, 200, r.Code, r.Raw)
	got := map[string]bool{}
	for _, x := range r.Body["records"].([]any) {
		got[x.(map[string]any)["metadata"].(map[string]any)["external_id"].(string)] = true
	}
	require.Subset(t, []string{"r3", "r5"}, keys(got))

	r = post("Bearer "+adminKey, `{"knowledge_id":"kb1","query":"退货","retrieval_setting":{"top_k":-1}}`)
	require.Equal(t, 400, r.Code, "a negative top_k is refused, not replaced by the default")
	require.Contains(t, r.Body["error_msg"], "top_k")
	r = post("Bearer "+adminKey, `{"knowledge_id":"kb1","query":"完全无关的查询内容zzz","retrieval_setting":{"top_k":2,"score_threshold":0.99}}`)
	require.Equal(t, 200, r.Code)
	require.Equal(t, `{"records":[]}`, strings.TrimSpace(r.Raw), "no matches → empty list, never null")

	r = post("Bearer "+adminKey, `{"knowledge_id":"nope","query":"x","retrieval_setting":{"top_k":2,"score_threshold":0}}`)
	require.Equal(t, 404, r.Code)
	require.EqualValues(t, 2001, r.Body["error_code"])
	r = post("Bearer wrong", `{"knowledge_id":"kb1","query":"x","retrieval_setting":{"top_k":2}}`)
	require.Equal(t, 403, r.Code)
	require.EqualValues(t, 1002, r.Body["error_code"])
	r = post("Token abc", `{"knowledge_id":"kb1","query":"x","retrieval_setting":{"top_k":2}}`)
	require.Equal(t, 403, r.Code)
	require.EqualValues(t, 1001, r.Body["error_code"])
	r = post("Bearer "+b.key(t, "other", kb.RoleBot), `{"knowledge_id":"kb1","query":"x","retrieval_setting":{"top_k":2}}`)
	require.Equal(t, 404, r.Code, "another tenant's knowledge base does not exist for it")
	require.EqualValues(t, 2001, r.Body["error_code"])
}

func keys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSearchTopKOutOfRangeIs422(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"topk","language":"zh"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	for _, k := range []string{"0", "-1", "101"} {
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/topk/search", `{"query":"退货","top_k":`+k+`}`)
		require.Equal(t, 422, r.Code, "top_k %s: %s", k, r.Raw)
		require.Contains(t, r.Raw, "top_k")
	}
}
