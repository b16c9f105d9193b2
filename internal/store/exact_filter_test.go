package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// A filter that an index answers and that matches few chunks is searched exactly (the true
// nearest neighbours, without touching the HNSW index); one matching more walks the graph.
func TestSelectiveFilterSearchesExactly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	store.SetExactFilterCap(b.st, 20)
	k := newKB(t, b.st, b.tenant.ID, "filtered", 4)
	rng := rand.New(rand.NewPCG(7, 7))
	vecs := map[string][]float32{}
	group := map[string]int{}
	for i := range 120 {
		ext := fmt.Sprintf("sku-%d", i)
		v := []float32{rng.Float32() - 0.5, rng.Float32() - 0.5, rng.Float32() - 0.5, rng.Float32() - 0.5}
		vecs[ext], group[ext] = v, i%10
		putDoc(t, b.st, k, ext, v, []string{"x"}, map[string]any{"g": i % 10, "tags": []any{fmt.Sprint("t", i%3)}})
	}
	docOf := map[int64]string{}
	rows, err := b.db.Pool.Query(ctx, `SELECT c.id, d.external_id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.kb_id = $1`, k.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var ext string
		require.NoError(t, rows.Scan(&id, &ext))
		docOf[id] = ext
	}
	require.NoError(t, rows.Err())
	hnswScans := func() int64 {
		var n int64
		_, err := b.db.Pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		require.NoError(t, err)
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(s.idx_scan), 0) FROM pg_stat_user_indexes s
			JOIN pg_class i ON i.oid = s.indexrelid JOIN pg_am a ON a.oid = i.relam
			WHERE a.amname = 'hnsw' AND s.relname = $1`, store.PartitionName(k.ID)).Scan(&n))
		return n
	}

	q := []float32{0.3, -0.2, 0.1, 0.4}
	cos := func(v []float32) float64 {
		dot, nq, nv := 0.0, 0.0, 0.0
		for i := range q {
			dot += float64(q[i] * v[i])
			nq += float64(q[i] * q[i])
			nv += float64(v[i] * v[i])
		}
		return dot / math.Sqrt(nq*nv)
	}
	var want []string // the true top 5 of group 3, by brute force
	for ext, g := range group {
		if g == 3 {
			want = append(want, ext)
		}
	}
	sort.Slice(want, func(i, j int) bool { return cos(vecs[want[i]]) > cos(vecs[want[j]]) })
	want = want[:5]

	before := hnswScans()
	got, err := b.st.VectorSearch(ctx, k, q, 5, kb.Filter{Conditions: []kb.Condition{{Field: "g", Op: kb.OpEq, Value: 3}}})
	require.NoError(t, err)
	var gotExt []string
	for _, r := range got {
		gotExt = append(gotExt, docOf[r.ChunkID])
		require.InDelta(t, cos(vecs[docOf[r.ChunkID]]), r.Score, 1e-5)
	}
	require.Equal(t, want, gotExt, "12 matching chunks: the exact top 5")
	require.Equal(t, before, hnswScans(), "an exact search does not walk the graph")

	// A tag filter matching 40 chunks (over the cap of 20) walks the graph, filter applied.
	got, err = b.st.VectorSearch(ctx, k, q, 5, kb.Filter{Conditions: []kb.Condition{{Field: "tags", Op: kb.OpEq, Value: "t1"}}})
	require.NoError(t, err)
	require.Len(t, got, 5)
	for _, r := range got {
		var i int
		_, err := fmt.Sscanf(docOf[r.ChunkID], "sku-%d", &i)
		require.NoError(t, err)
		require.Equal(t, 1, i%3, docOf[r.ChunkID])
	}
	require.Greater(t, hnswScans(), before, "a filter over the cap walks the graph")

	// An equality on an array field (tags) and a document id list are found through indexes
	// too: exact, within the cap.
	after := hnswScans()
	got, err = b.st.VectorSearch(ctx, k, q, 3, kb.Filter{Conditions: []kb.Condition{
		{Field: "tags", Op: kb.OpEq, Value: "t2"}, {Field: "g", Op: kb.OpEq, Value: 5}}})
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, r := range got {
		require.Equal(t, 5, group[docOf[r.ChunkID]])
	}
	require.Equal(t, after, hnswScans())

	// Units count too: a chunk of the group whose question unit is the query itself comes
	// first, scored by that unit, once.
	_, err = b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "faq-g3", Title: "faq", Kind: kb.KindFAQ, Status: kb.StatusReady,
		ContentHash: "faq-g3", Metadata: map[string]any{"g": 3}},
		[]kb.Chunk{{Content: "问：多久\n答：一年", Embedding: []float32{-0.3, 0.2, -0.1, -0.4}, Tokens: []string{"x"},
			Units: []kb.Unit{{Kind: kb.UnitQuestion, Content: "多久", Embedding: q}}}}, "test-model", 2)
	require.NoError(t, err)
	got, err = b.st.VectorSearch(ctx, k, q, 5, kb.Filter{Conditions: []kb.Condition{{Field: "g", Op: kb.OpEq, Value: 3}}})
	require.NoError(t, err)
	require.Len(t, got, 5)
	var faqChunk int64
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE d.kb_id = $1 AND d.external_id = 'faq-g3'`, k.ID).Scan(&faqChunk))
	require.Equal(t, faqChunk, got[0].ChunkID)
	require.InDelta(t, 1.0, got[0].Score, 1e-5)
	for _, r := range got[1:] {
		require.NotEqual(t, faqChunk, r.ChunkID, "a chunk comes once")
	}
	require.Equal(t, after, hnswScans())
}
