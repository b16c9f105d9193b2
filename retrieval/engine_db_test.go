package retrieval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

type bundle struct {
	db  *storetest.DB
	kb  kb.KnowledgeBase
	emb *embedding.Local
}

func setup(t *testing.T, recs string) bundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, "t")
	require.NoError(t, err)
	emb, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "kb", Embedder: "local", EmbeddingModel: emb.Model(), EmbeddingDim: 256})
	require.NoError(t, err)
	rs, err := records.Parse(strings.NewReader(recs), "r.jsonl")
	require.NoError(t, err)
	pipe := ingest.NewPipeline(db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return emb, emb.Model(), nil }, ingest.Options{})
	outs, err := pipe.Write(ctx, k, ingest.RecordUnits(rs, "r.jsonl"), nil)
	require.NoError(t, err)
	for _, o := range outs {
		require.NoError(t, o.Err)
	}
	return bundle{db: db, kb: k, emb: emb}
}

func (b bundle) engine(rr retrieval.Reranker) *retrieval.Engine {
	return retrieval.New(b.db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return b.emb, nil }, rr, retrieval.Options{})
}

const recs = `{"id":"a","title":"退货政策","text":"签收后七天内可以申请退货，商品需保持完好。"}
{"id":"b","title":"换货政策","text":"签收后十五天内出现质量问题可以换货。"}
{"id":"c","title":"E104","text":"E104 表示电机过热，请断电冷却三十分钟。"}
`

// reverseReranker ranks documents in reverse input order with descending scores, so a test
// can tell that the reranker's order, not the fusion's, decides.
type reverseReranker struct{ calls int }

func (r *reverseReranker) Rerank(_ context.Context, _ string, docs []string) ([]retrieval.RerankScore, error) {
	r.calls++
	out := make([]retrieval.RerankScore, len(docs))
	for i := range docs {
		out[i] = retrieval.RerankScore{Index: len(docs) - 1 - i, Score: 0.9 - 0.3*float64(i)}
	}
	return out, nil
}

func TestRerankerDecidesOrderAndScore(t *testing.T) {
	t.Parallel()
	b := setup(t, recs)
	ctx := context.Background()
	plain, err := b.engine(nil).Search(ctx, retrieval.Request{KB: b.kb, Query: "退货 换货 E104", TopK: 3})
	require.NoError(t, err)
	require.Len(t, plain, 3)

	rr := &reverseReranker{}
	got, err := b.engine(rr).Search(ctx, retrieval.Request{KB: b.kb, Query: "退货 换货 E104", TopK: 3, Rerank: true})
	require.NoError(t, err)
	require.Equal(t, 1, rr.calls)
	require.Equal(t, plain[len(plain)-1].ChunkID, got[0].ChunkID, "the reranker's best comes first")
	require.InDelta(t, 0.9, got[0].Score, 1e-9)
	require.NotNil(t, got[0].Scores.Rerank)

	cut, err := b.engine(rr).Search(ctx, retrieval.Request{KB: b.kb, Query: "退货 换货 E104", TopK: 3, Rerank: true, ScoreThreshold: 0.5})
	require.NoError(t, err)
	require.Len(t, cut, 2, "the threshold applies to the rerank score")

	_, err = b.engine(rr).Search(ctx, retrieval.Request{KB: b.kb, Query: "退货", TopK: 3, Rerank: false})
	require.NoError(t, err)
	require.Equal(t, 2, rr.calls, "rerank: false skips the reranker")
}

func TestSynonymsTakeEffectForNewQueries(t *testing.T) {
	t.Parallel()
	b := setup(t, recs)
	ctx := context.Background()
	e := b.engine(nil)
	before, err := e.Search(ctx, retrieval.Request{KB: b.kb, Query: "退回", TopK: 3, Mode: kb.ModeText})
	require.NoError(t, err)
	for _, h := range before {
		require.NotEqual(t, "a", h.ExternalID, "without synonyms 退回 does not match 退货")
	}

	settings, _ := json.Marshal(map[string]any{"synonyms": [][]string{{"退回", "退货"}}})
	k, err := b.db.Store.UpdateKB(ctx, b.kb.TenantID, b.kb.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)
	require.True(t, k.UpdatedAt.After(b.kb.UpdatedAt.Add(-time.Second)))
	after, err := e.Search(ctx, retrieval.Request{KB: k, Query: "退回", TopK: 3, Mode: kb.ModeText})
	require.NoError(t, err)
	require.NotEmpty(t, after)
	require.Equal(t, "a", after[0].ExternalID)
	require.Contains(t, after[0].MatchedTerms, "退货")
}

func TestEmptyAndInvalidRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, recs)
	e := b.engine(nil)
	ctx := context.Background()
	_, err := e.Search(ctx, retrieval.Request{KB: b.kb, Query: "   "})
	require.ErrorIs(t, err, retrieval.ErrEmptyQuery)
	_, err = e.Search(ctx, retrieval.Request{KB: b.kb, Query: "x", Weights: &retrieval.Weights{}})
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, err = e.Search(ctx, retrieval.Request{KB: b.kb, Query: `-&!"(`})
	require.NoError(t, err, "a query of operators is not an error")
}

func TestExactSKUComesFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, `{"id":"sku:XR-700P","title":"XR-700P 扫地机器人","text":"商品：XR-700P 扫地机器人 旗舰款\nSKU：XR-700P\n价格：3999元\n规格：激光导航，5000Pa 吸力，自动集尘，续航 180 分钟，适合大户型","metadata":{"sku":"XR-700P"}}
{"id":"sku:AC-1","title":"滤网","text":"滤网 适用 XR-700P","metadata":{"sku":"AC-1"}}
{"id":"sku:AC-2","title":"边刷","text":"边刷 适用 XR-700P","metadata":{"sku":"AC-2"}}
{"id":"sku:AC-3","title":"尘袋","text":"尘袋 适用 XR-700P","metadata":{"sku":"AC-3"}}
`)
	for _, q := range []string{"XR-700P", "xr700p", "XR-700P 多少钱"} {
		hits, err := b.engine(nil).Search(context.Background(), retrieval.Request{KB: b.kb, Query: q, TopK: 4})
		require.NoError(t, err)
		require.NotEmpty(t, hits)
		require.Equal(t, "sku:XR-700P", hits[0].ExternalID, q)
		require.GreaterOrEqual(t, hits[0].Score, 0.9, q)
	}
}

// countingIndex records the terms whose document frequency is counted, and can hold
// chunk counts until released.
type countingIndex struct {
	*store.Store
	counted []string
	hold    chan struct{} // when set, ChunkStats waits for it to close
	totals  atomic.Int64
}

func (c *countingIndex) ChunkStats(ctx context.Context, kbID int64) (kb.ChunkStats, error) {
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return kb.ChunkStats{}, ctx.Err()
		}
	}
	c.totals.Add(1)
	return c.Store.ChunkStats(ctx, kbID)
}

func (c *countingIndex) TermStats(ctx context.Context, kbID int64, terms []string, capAt int) (map[string]int, error) {
	c.counted = append(c.counted, terms...)
	return c.Store.TermStats(ctx, kbID, terms, capAt)
}

// A term the statistics list as common is weighted from them, not counted (counting builds
// its whole posting bitmap); rarer terms are still counted exactly.
func TestCommonTermsAreEstimatedNotCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b strings.Builder
	for i := range 400 {
		text := fmt.Sprintf("保修 第%d条", i)
		if i < 3 {
			text += " 延保"
		}
		fmt.Fprintf(&b, `{"id":"r%d","text":%q}`+"\n", i, text)
	}
	bu := setup(t, b.String())
	_, err := bu.db.Pool.Exec(ctx, "ANALYZE "+store.PartitionName(bu.kb.ID))
	require.NoError(t, err)
	common, err := bu.db.Store.CommonTerms(ctx, bu.kb.ID)
	require.NoError(t, err)
	require.InDelta(t, 1.0, common["保修"], 0.01, "in every chunk")

	idx := &countingIndex{Store: bu.db.Store}
	e := retrieval.New(idx, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return bu.emb, nil }, nil, retrieval.Options{})
	hits, err := e.Search(ctx, retrieval.Request{KB: bu.kb, Query: "延保 保修", Mode: kb.ModeText, TopK: 5})
	require.NoError(t, err)
	require.Contains(t, idx.counted, "延保")
	require.NotContains(t, idx.counted, "保修")
	require.Len(t, hits, 5)
	for _, h := range hits[:3] {
		require.Contains(t, h.Content, "延保", "the rare term still ranks first")
	}
}

// Shortly after the chunk total expires, a search uses the old one while it is re-read in
// the background: counting a large knowledge base is not on the search path.
func TestExpiredTotalsAreReadInTheBackground(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bu := setup(t, recs)
	idx := &countingIndex{Store: bu.db.Store}
	ttl := 300 * time.Millisecond
	e := retrieval.New(idx, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return bu.emb, nil }, nil, retrieval.Options{StatsTTL: ttl})
	search := func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := e.Search(ctx, retrieval.Request{KB: bu.kb, Query: "退货", Mode: kb.ModeText})
		return err
	}
	require.NoError(t, search())
	require.EqualValues(t, 1, idx.totals.Load(), "the first search reads the totals")

	idx.hold = make(chan struct{})
	time.Sleep(ttl + 50*time.Millisecond)
	require.NoError(t, search(), "does not wait for the count")
	require.EqualValues(t, 1, idx.totals.Load())
	close(idx.hold)
	require.Eventually(t, func() bool { return idx.totals.Load() == 2 }, 5*time.Second, 10*time.Millisecond, "re-read in the background")
}

// walkingIndex records the limits the legs ask for, and the vector leg's ef_search.
type walkingIndex struct {
	*store.Store
	limits, textLimits, efs []int
}

func (w *walkingIndex) TextSearch(ctx context.Context, kbID int64, q kb.TextQuery, limit int, f kb.Filter) ([]kb.Ranked, error) {
	w.textLimits = append(w.textLimits, limit)
	return w.Store.TextSearch(ctx, kbID, q, limit, f)
}

func (w *walkingIndex) VectorHits(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, terms []string, efSearch int) ([]kb.Ranked, map[int64]kb.Candidate, error) {
	w.limits = append(w.limits, limit)
	w.efs = append(w.efs, efSearch)
	return w.Store.VectorHits(ctx, k, vec, limit, f, terms, efSearch)
}

// Under score fusion the local embedder's vector share of a query without Chinese is 0: its
// candidates could not change the ranking, so the index is not walked, and the hits still
// carry their cosines. A Chinese query walks it for 2×top_k candidates (at least 20), and
// the text leg fetches as many; RRF and reranking fetch 4×top_k (at least 40) from both.
func TestVectorLegWalksOnlyWhereItCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bu := setup(t, `{"id":"en","title":"Returns","text":"Returns are accepted within seven days of delivery."}
{"id":"en2","title":"Exchanges","text":"Exchanges for quality problems within fifteen days."}
`+recs)
	idx := &walkingIndex{Store: bu.db.Store}
	e := retrieval.New(idx, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return bu.emb, nil }, nil, retrieval.Options{})
	search := func(r retrieval.Request) []kb.Hit {
		t.Helper()
		idx.limits, idx.textLimits, idx.efs = nil, nil, nil
		if r.KB.ID == 0 {
			r.KB = bu.kb
		}
		hits, err := e.Search(ctx, r)
		require.NoError(t, err)
		require.NotEmpty(t, hits)
		return hits
	}

	hits := search(retrieval.Request{Query: "returns within seven days", TopK: 5})
	require.Empty(t, idx.limits, "no walk for a Latin query under the local embedder")
	require.Equal(t, []int{40}, idx.textLimits, "the text leg alone fetches deeper")
	require.Equal(t, "en", hits[0].ExternalID)
	require.NotNil(t, hits[0].Scores.Vector, "the hit's cosine is still read")
	require.Positive(t, *hits[0].Scores.Vector)

	search(retrieval.Request{Query: "退货政策", TopK: 5})
	require.Equal(t, []int{20}, idx.limits)
	require.Equal(t, []int{20}, idx.textLimits)
	require.Equal(t, []int{40}, idx.efs, "the lexical leg beside BM25 walks at ef_search 40")
	search(retrieval.Request{Query: "退货政策", TopK: 15})
	require.Equal(t, []int{30}, idx.limits)
	require.Equal(t, []int{0}, idx.efs, "more candidates than ef 40 finds well: the configured ef_search")
	search(retrieval.Request{Query: "returns", TopK: 5, Mode: kb.ModeVector})
	require.Equal(t, []int{20}, idx.limits, "vector mode walks whatever the script")
	require.Equal(t, []int{0}, idx.efs, "vector mode ranks by the walk alone: the configured ef_search")
	search(retrieval.Request{Query: "退货政策", TopK: 5, Fusion: retrieval.FusionRRF})
	require.Equal(t, []int{40}, idx.limits, "RRF fuses ranks deeper down")
	require.Equal(t, []int{40}, idx.textLimits)
	require.Equal(t, []int{0}, idx.efs)
	search(retrieval.Request{Query: "returns within seven days", TopK: 5, Weights: &retrieval.Weights{Vector: 1, Text: 1}})
	require.Equal(t, []int{20}, idx.limits, "a vector weight asked for walks")
	require.Equal(t, []int{40}, idx.efs)

	own := bu.kb
	own.Settings = []byte(`{"retrieval":{"hnsw":{"ef_search":120}}}`)
	search(retrieval.Request{KB: own, Query: "退货政策", TopK: 5})
	require.Equal(t, []int{0}, idx.efs, "a knowledge base's own ef_search wins")
	neural := bu.kb
	neural.Embedder = "openai"
	search(retrieval.Request{KB: neural, Query: "退货政策", TopK: 5})
	require.Equal(t, []int{0}, idx.efs, "a neural embedder's leg walks at the configured ef_search")
}
