package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// putDoc writes a one-chunk document with the given vector, tokens and metadata.
func putDoc(t *testing.T, st *store.Store, k kb.KnowledgeBase, ext string, vec []float32, tokens []string, meta map[string]any) kb.Document {
	t.Helper()
	res, err := st.ReplaceDocument(context.Background(), kb.Document{
		KBID: k.ID, ExternalID: ext, Title: ext, Kind: kb.KindRecords, Status: kb.StatusReady,
		ContentHash: fmt.Sprint(ext, vec, tokens), Metadata: meta,
	}, []kb.Chunk{{Content: "content of " + ext, Embedding: vec, Tokens: tokens}}, "test-model", 2)
	require.NoError(t, err)
	return res.Document
}

func ids(rs []kb.Ranked) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ChunkID
	}
	return out
}

// textQuery searches by terms with weights as IDFs and no length normalisation (b = 0): a
// chunk holding each term once scores the sum of their weights.
func textQuery(terms []string, weights []float64) kb.TextQuery {
	return kb.TextQuery{Match: terms, Terms: terms, IDF: weights, K1: 1.2, B: 0, AvgLen: 1}
}

func TestVectorAndTextSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "search", 4)
	other := newKB(t, b.st, b.tenant.ID, "other", 4)
	putDoc(t, b.st, k, "a", []float32{1, 0, 0, 0}, []string{"退货", "七天"}, map[string]any{"sku": "SKU-1", "price": 99, "tags": []any{"policy"}})
	putDoc(t, b.st, k, "b", []float32{0.9, 0.1, 0, 0}, []string{"发货"}, map[string]any{"sku": "SKU-2", "price": 299, "tags": []any{"logistics", "policy"}})
	putDoc(t, b.st, k, "c", []float32{0, 0, 1, 0}, []string{"e104", "电机"}, map[string]any{"sku": "SKU-3", "price": 1299})
	putDoc(t, b.st, other, "x", []float32{1, 0, 0, 0}, []string{"退货"}, nil)

	vec, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, vec, 3, "only this knowledge base's chunks")
	require.InDelta(t, 1.0, vec[0].Score, 1e-6)
	query := []string{"七天", "e104", "退货", "it's", `a\b & !c`}
	hits, err := b.st.Hits(ctx, k, ids(vec), query, []float32{1, 0, 0, 0}, nil)
	require.NoError(t, err)
	require.Equal(t, "a", hits[vec[0].ChunkID].ExternalID)
	require.Equal(t, "records", hits[vec[0].ChunkID].Kind)
	require.ElementsMatch(t, []string{"退货", "七天"}, hits[vec[0].ChunkID].Terms, "the query terms the chunk holds")
	require.Equal(t, []string{"e104"}, hits[vec[2].ChunkID].Terms, "not the chunk's other terms (电机)")
	require.Empty(t, hits[vec[1].ChunkID].Terms)
	require.InDelta(t, 1.0, *hits[vec[0].ChunkID].Cosine, 1e-6)
	some, err := b.st.Hits(ctx, k, ids(vec), nil, []float32{1, 0, 0, 0}, []int64{vec[1].ChunkID})
	require.NoError(t, err)
	require.Len(t, some, 3)
	require.Nil(t, some[vec[0].ChunkID].Cosine, "only the chunks asked for are scored")
	require.InDelta(t, vec[1].Score, *some[vec[1].ChunkID].Cosine, 1e-6)
	none, err := b.st.Hits(ctx, k, ids(vec), nil, []float32{1, 0, 0, 0}, []int64{})
	require.NoError(t, err)
	require.Nil(t, none[vec[2].ChunkID].Cosine)

	_, err = b.st.VectorSearch(ctx, k, []float32{1, 0}, 10, kb.Filter{})
	require.ErrorIs(t, err, kb.ErrInvalid, "a vector of another dimension is refused")

	text, err := b.st.TextSearch(ctx, k.ID, textQuery([]string{"退货", "七天", "发货"}, []float64{1, 2, 0.5}), 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, text, 2)
	require.InDelta(t, 3.0, text[0].Score, 1e-9, "sum of matched weights (each term once, b = 0)")
	require.InDelta(t, 0.5, text[1].Score, 1e-9)

	// Operator characters are data inside quoted lexemes, never tsquery syntax.
	weird, err := b.st.TextSearch(ctx, k.ID, textQuery([]string{"a&b", "!x", "'q'", "(|)"}, []float64{1, 1, 1, 1}), 10, kb.Filter{})
	require.NoError(t, err)
	require.Empty(t, weird)

	df, err := b.st.TermStats(ctx, k.ID, []string{"退货", "e104", "none"}, 100)
	require.NoError(t, err)
	n, err := b.st.LiveChunks(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, map[string]int{"退货": 1, "e104": 1, "none": 0}, df)
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "filters", 4)
	docA := putDoc(t, b.st, k, "a", []float32{1, 0, 0, 0}, []string{"t"}, map[string]any{"sku": "SKU-1", "price": 99, "tags": []any{"policy"}, "date": "2026-01-05"})
	putDoc(t, b.st, k, "b", []float32{0.9, 0.1, 0, 0}, []string{"t"}, map[string]any{"sku": "SKU-2", "price": 299, "tags": []any{"logistics", "policy"}, "date": "2026-03-01"})
	putDoc(t, b.st, k, "c", []float32{0, 0, 1, 0}, []string{"t"}, map[string]any{"sku": "SKU-3", "price": 1299, "note": ""})

	extOf := func(rs []kb.Ranked) []string {
		h, err := b.st.Hits(ctx, k, ids(rs), nil, nil, nil)
		require.NoError(t, err)
		out := []string{}
		for _, r := range rs {
			out = append(out, h[r.ChunkID].ExternalID)
		}
		return out
	}
	cases := []struct {
		name string
		f    kb.Filter
		want []string
	}{
		{"eq", kb.Filter{Conditions: []kb.Condition{{Field: "sku", Op: kb.OpEq, Value: "SKU-2"}}}, []string{"b"}},
		{"ne", kb.Filter{Conditions: []kb.Condition{{Field: "sku", Op: kb.OpNe, Value: "SKU-2"}}}, []string{"a", "c"}},
		{"in", kb.Filter{Conditions: []kb.Condition{{Field: "sku", Op: kb.OpIn, Value: []any{"SKU-1", "SKU-3"}}}}, []string{"a", "c"}},
		{"not in", kb.Filter{Conditions: []kb.Condition{{Field: "sku", Op: kb.OpNotIn, Value: []any{"SKU-1", "SKU-3"}}}}, []string{"b"}},
		{"tag eq matches arrays", kb.Filter{Conditions: []kb.Condition{{Field: "tags", Op: kb.OpEq, Value: "logistics"}}}, []string{"b"}},
		{"contains", kb.Filter{Conditions: []kb.Condition{{Field: "tags", Op: kb.OpContains, Value: "policy"}}}, []string{"a", "b"}},
		{"string contains", kb.Filter{Conditions: []kb.Condition{{Field: "sku", Op: kb.OpContains, Value: "KU-3"}}}, []string{"c"}},
		{"range", kb.Filter{Conditions: []kb.Condition{{Field: "price", Op: kb.OpGte, Value: 100.0}, {Field: "price", Op: kb.OpLt, Value: 1000.0}}}, []string{"b"}},
		{"date range", kb.Filter{Conditions: []kb.Condition{{Field: "date", Op: kb.OpGt, Value: "2026-02-01"}}}, []string{"b"}},
		{"or", kb.Filter{Or: true, Conditions: []kb.Condition{{Field: "sku", Op: kb.OpEq, Value: "SKU-1"}, {Field: "price", Op: kb.OpGt, Value: 1000.0}}}, []string{"a", "c"}},
		{"empty", kb.Filter{Conditions: []kb.Condition{{Field: "note", Op: kb.OpEmpty}}}, []string{"a", "b", "c"}},
		{"exists", kb.Filter{Conditions: []kb.Condition{{Field: "note", Op: kb.OpExists}}}, []string{"c"}},
		{"kind", kb.Filter{Conditions: []kb.Condition{{Field: "kind", Op: kb.OpEq, Value: "records"}}}, []string{"a", "b", "c"}},
		{"document id", kb.Filter{Conditions: []kb.Condition{{Field: "document_id", Op: kb.OpEq, Value: float64(docA.ID)}}}, []string{"a"}},
		{"external id", kb.Filter{Conditions: []kb.Condition{{Field: "external_id", Op: kb.OpIn, Value: []any{"b", "c"}}}}, []string{"b", "c"}},
		{"injection is data", kb.Filter{Conditions: []kb.Condition{{Field: "sku'); DROP TABLE chunks; --", Op: kb.OpEq, Value: "x' OR '1'='1"}}}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, tc.f)
			require.NoError(t, err)
			require.ElementsMatch(t, tc.want, extOf(v), "vector leg")
			x, err := b.st.TextSearch(ctx, k.ID, textQuery([]string{"t"}, []float64{1}), 10, tc.f)
			require.NoError(t, err)
			require.ElementsMatch(t, tc.want, extOf(x), "text leg")
		})
	}
	_, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{Conditions: []kb.Condition{{Field: "price", Op: "between", Value: 1}}})
	require.ErrorIs(t, err, kb.ErrInvalid)
}

func TestReplaceDocumentVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "versions", 4)
	write := func(hash string, n int) kb.ReplaceResult {
		chunks := make([]kb.Chunk, n)
		for i := range chunks {
			chunks[i] = kb.Chunk{Ord: i, Content: fmt.Sprintf("%s-%d", hash, i), Embedding: []float32{1, 0, 0, 0}, Tokens: []string{hash}}
		}
		res, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "manual.pdf", Kind: kb.KindManual, Status: kb.StatusReady, ContentHash: hash}, chunks, "m", 2)
		require.NoError(t, err)
		return res
	}
	first := write("v1", 3)
	require.Equal(t, 1, first.Document.Version)
	require.Equal(t, 3, first.Document.Chunks)
	same := write("v1", 3)
	require.True(t, same.Unchanged)
	require.Equal(t, first.Document.ID, same.Document.ID)

	second := write("v2", 2)
	require.Equal(t, 2, second.Document.Version)
	require.Equal(t, 1, second.Replaced)
	write("v3", 1)
	write("v4", 1)

	var versions []int
	rows, err := b.db.Pool.Query(ctx, `SELECT version FROM documents WHERE kb_id = $1 ORDER BY version`, k.ID)
	require.NoError(t, err)
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.Equal(t, []int{2, 3, 4}, versions, "current plus two kept for audit")
	var live int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1`, k.ID).Scan(&live))
	require.Equal(t, 1, live, "only the current version has chunks")

	docs, total, err := b.st.ListDocuments(ctx, k.ID, "", "", 10, 0)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, 4, docs[0].Version)

	// Review documents are stored but not searched until approved.
	res, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "tickets", Kind: kb.KindTickets, Status: kb.StatusReview, ContentHash: "t"},
		[]kb.Chunk{{Content: "q/a", Embedding: []float32{0, 1, 0, 0}, Tokens: []string{"qa"}}}, "m", 2)
	require.NoError(t, err)
	found, err := b.st.TextSearch(ctx, k.ID, textQuery([]string{"qa"}, []float64{1}), 5, kb.Filter{})
	require.NoError(t, err)
	require.Empty(t, found)
	require.NoError(t, b.st.SetDocumentStatus(ctx, k.ID, res.Document.ID, kb.StatusReady, kb.T("approved", "已通过")))
	found, err = b.st.TextSearch(ctx, k.ID, textQuery([]string{"qa"}, []float64{1}), 5, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, found, 1)

	deleted, err := b.st.DeleteDocument(ctx, k.ID, "manual.pdf")
	require.NoError(t, err)
	require.Equal(t, "manual.pdf", deleted.ExternalID)
	_, err = b.st.GetDocument(ctx, k.ID, "manual.pdf")
	require.ErrorIs(t, err, kb.ErrNotFound)
}

func TestIdenticalChunksAreServedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "dedupe", 4)
	shared := kb.Chunk{Content: "安全须知：请勿在潮湿地面使用。", ContentHash: "h-safety", Embedding: []float32{1, 0, 0, 0}, Tokens: []string{"安全", "潮湿"}}
	own := func(name string) kb.Chunk {
		return kb.Chunk{Ord: 1, Content: name + " 专属内容", ContentHash: "h-" + name, Embedding: []float32{0, 1, 0, 0}, Tokens: []string{name}}
	}
	write := func(ext string, status string, chunks ...kb.Chunk) kb.Document {
		res, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: ext, Kind: kb.KindManual, Status: status, ContentHash: ext + status + fmt.Sprint(len(chunks))}, chunks, "m", 2)
		require.NoError(t, err)
		return res.Document
	}
	served := func() []string {
		hits, err := b.st.TextSearch(ctx, k.ID, textQuery([]string{"潮湿"}, []float64{1}), 10, kb.Filter{})
		require.NoError(t, err)
		h, err := b.st.Hits(ctx, k, ids(hits), nil, nil, nil)
		require.NoError(t, err)
		out := []string{}
		for _, r := range hits {
			out = append(out, h[r.ChunkID].ExternalID)
		}
		return out
	}
	write("a.pdf", kb.StatusReady, shared, own("a"))
	write("b.pdf", kb.StatusReady, shared, own("b"))
	require.Equal(t, []string{"a.pdf"}, served(), "the shared passage is served once")
	vec, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
	require.NoError(t, err)
	vh, err := b.st.Hits(ctx, k, ids(vec), nil, nil, nil)
	require.NoError(t, err)
	copies := 0
	for _, h := range vh {
		if h.Content == shared.Content {
			copies++
		}
	}
	require.Equal(t, 1, copies, "in the vector leg too")
	n, err := b.st.LiveChunks(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, 3, n, "a, b and the shared passage once")

	// Replacing a.pdf without the passage hands it to b.pdf; deleting b.pdf then loses it
	// only because no document holds it any more.
	write("a.pdf", kb.StatusReady, own("a"))
	require.Equal(t, []string{"b.pdf"}, served())
	write("a.pdf", kb.StatusReady, shared, own("a"))
	require.Equal(t, []string{"b.pdf"}, served(), "still served once, by b.pdf")
	_, err = b.st.DeleteDocument(ctx, k.ID, "b.pdf")
	require.NoError(t, err)
	require.Equal(t, []string{"a.pdf"}, served(), "a.pdf's copy takes over")

	// A reviewed document coming into service does not double a passage; leaving service
	// hands it over.
	c := write("c.pdf", kb.StatusReview, shared)
	require.Equal(t, []string{"a.pdf"}, served())
	require.NoError(t, b.st.SetDocumentStatus(ctx, k.ID, c.ID, kb.StatusReady, kb.T("approved", "已通过")))
	require.Equal(t, []string{"a.pdf"}, served())
	removed, err := b.st.DeleteDocuments(ctx, k.ID, []string{"a.pdf"})
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	require.Equal(t, []string{"c.pdf"}, served())
}

// VectorHits finds what VectorSearch finds, in its order, and loads each chunk as Hits does
// with the cosine the search scored it by: in one statement over chunks, and by Hits after
// the search over units and under an exact filter.
func TestVectorHitsEqualsVectorSearchThenHits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "hits", 4)
	putDoc(t, b.st, k, "a", []float32{1, 0, 0, 0}, []string{"退货", "七天"}, map[string]any{"sku": "SKU-1"})
	putDoc(t, b.st, k, "b", []float32{0.9, 0.1, 0, 0}, []string{"发货", "退货"}, map[string]any{"sku": "SKU-2"})
	putDoc(t, b.st, k, "c", []float32{0, 0, 1, 0}, []string{"e104", "电机"}, map[string]any{"sku": "SKU-1"})
	putDoc(t, b.st, k, "d", []float32{0.5, 0.5, 0.1, 0}, []string{"七天"}, nil)
	query := []string{"七天", "退货", "e104", `a\b & !c`}
	vec := []float32{1, 0.2, 0, 0}
	for name, f := range map[string]kb.Filter{
		"graph":        {},
		"exact filter": {Conditions: []kb.Condition{{Field: "sku", Op: kb.OpEq, Value: "SKU-1"}}},
	} {
		for _, units := range []bool{false, true} {
			k.Settings = []byte(fmt.Sprintf(`{"retrieval":{"units":%t}}`, units))
			want, err := b.st.VectorSearch(ctx, k, vec, 3, f)
			require.NoError(t, err)
			require.NotEmpty(t, want)
			wantHits, err := b.st.Hits(ctx, k, ids(want), query, vec, nil)
			require.NoError(t, err)

			got, cands, err := b.st.VectorHits(ctx, k, vec, 3, f, query, 0)
			require.NoError(t, err, name)
			require.Equal(t, ids(want), ids(got), "%s, units %t", name, units)
			require.Len(t, cands, len(want))
			for i, r := range got {
				require.InDelta(t, want[i].Score, r.Score, 1e-9)
				c := cands[r.ChunkID]
				require.InDelta(t, r.Score, *c.Cosine, 1e-9, "the cosine the search scored")
				w := wantHits[r.ChunkID]
				w.Cosine = c.Cosine
				require.Equal(t, w, c, "%s, units %t: loaded as Hits loads", name, units)
			}
		}
	}
}

// VectorHits walks the graph with the ef_search it is asked for: on random vectors, where
// a walk at ef_search 1 misses neighbours that one at 400 finds, it finds what a search in a
// transaction set to the same ef_search finds.
func TestVectorHitsWalksWithTheEfSearchAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const dim = 16
	k := newKB(t, b.st, b.tenant.ID, "ef", dim)
	rng := rand.New(rand.NewPCG(7, 11))
	random := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	chunks := make([]kb.Chunk, 1500)
	for i := range chunks {
		chunks[i] = kb.Chunk{Ord: i, Content: fmt.Sprint("chunk ", i), Embedding: random(), Tokens: []string{"t"}}
	}
	_, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "random", Title: "random", Kind: kb.KindRecords,
		Status: kb.StatusReady, ContentHash: "random"}, chunks, "test-model", 2)
	require.NoError(t, err)

	differ := 0
	for range 30 {
		q := random()
		narrow, err := b.st.VectorSearchEf(ctx, k, q, 10, 1)
		require.NoError(t, err)
		wide, err := b.st.VectorSearchEf(ctx, k, q, 10, 400)
		require.NoError(t, err)
		if !slices.Equal(sorted(ids(narrow)), sorted(ids(wide))) {
			differ++
		}
		for ef, want := range map[int][]kb.Ranked{1: narrow, 400: wide} {
			got, _, err := b.st.VectorHits(ctx, k, q, 10, kb.Filter{}, []string{"t"}, ef)
			require.NoError(t, err)
			require.ElementsMatch(t, ids(want), ids(got), "ef_search %d", ef)
		}
	}
	require.Positive(t, differ, "ef_search 1 and 400 found the same neighbours for every query: the check above proves nothing")
}

func sorted(xs []int64) []int64 { return slices.Sorted(slices.Values(xs)) }
