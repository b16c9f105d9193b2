package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// At 100k chunks the planner must walk the knowledge base's HNSW index, not scan and sort,
// and a filtered search must still return top_k rows (pgvector 0.8 iterative scans).
func TestVectorSearchUsesHNSWAt100k(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("loads 100k chunks")
	}
	ctx := context.Background()
	b := setup(t)
	const n, dim = 100_000, 16
	k := newKB(t, b.st, b.tenant.ID, "big", dim)
	other := newKB(t, b.st, b.tenant.ID, "neighbour", dim)
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	items := make([]store.BulkChunk, n)
	for i := range items {
		items[i] = store.BulkChunk{ExternalID: fmt.Sprint(i), Content: "c", Embedding: vec(), Tokens: []string{"t"},
			Metadata: map[string]any{"bucket": i % 100}}
	}
	_, err := b.st.BulkLoad(ctx, k, "m", items, store.DefaultHNSW)
	require.NoError(t, err)
	_, err = b.st.BulkLoad(ctx, other, "m", items[:1000], store.DefaultHNSW)
	require.NoError(t, err)

	q := vec()
	plan, err := b.st.ExplainVectorSearch(ctx, k, q, 10)
	require.NoError(t, err)
	require.Contains(t, plan, "Index Scan using "+store.VectorIndexName(k.ID), plan)

	got, err := b.st.VectorSearch(ctx, k, q, 10, kb.Filter{})
	require.NoError(t, err)
	exact, err := b.st.ExactVectorSearch(ctx, k, q, 10)
	require.NoError(t, err)
	require.Len(t, got, 10)
	overlap := 0
	want := map[int64]bool{}
	for _, r := range exact {
		want[r.ChunkID] = true
	}
	for _, r := range got {
		if want[r.ChunkID] {
			overlap++
		}
	}
	require.GreaterOrEqual(t, overlap, 8, "HNSW finds most true neighbours")

	// 1% of chunks pass this filter: without iterative scans HNSW would return ~1 row.
	filtered, err := b.st.VectorSearch(ctx, k, q, 10, kb.Filter{Conditions: []kb.Condition{{Field: "bucket", Op: kb.OpEq, Value: 7}}})
	require.NoError(t, err)
	require.Len(t, filtered, 10, "a filtered search still returns top_k")
}
