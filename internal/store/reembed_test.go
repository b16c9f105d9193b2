package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// putModelDoc writes a one-chunk document embedded with model.
func putModelDoc(t *testing.T, st *store.Store, k kb.KnowledgeBase, ext, model string, vec []float32) error {
	t.Helper()
	_, err := st.ReplaceDocument(context.Background(), kb.Document{
		KBID: k.ID, ExternalID: ext, Title: ext, Kind: kb.KindRecords, Status: kb.StatusReady, ContentHash: ext + model,
	}, []kb.Chunk{{Content: "content of " + ext, SectionPath: []string{ext}, Embedding: vec, Tokens: []string{ext}}}, model, 2)
	return err
}

// vec8 is a deterministic 8-dimensional vector for a text.
func vec8(s string) []float32 {
	v := make([]float32, 8)
	for i, r := range s {
		v[(i+int(r))%8] += float32(r%7) + 1
	}
	return v
}

func TestReembedSwapsModelAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "swap", 4)
	for i, ext := range []string{"a", "b", "c"} {
		v := []float32{0, 0, 0, 0}
		v[i] = 1
		require.NoError(t, putModelDoc(t, b.st, k, ext, k.EmbeddingModel, v))
	}
	target := store.EmbeddingTarget{Embedder: "openai", Model: "emb-8", Dim: 8}

	resumed, err := b.st.StartReembed(ctx, k.ID, target)
	require.NoError(t, err)
	require.False(t, resumed)
	pending, err := b.st.ChunksWithoutShadow(ctx, k.ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	require.Equal(t, []string{"a"}, pending[0].SectionPath)
	require.Equal(t, "content of a", pending[0].Content)
	require.Equal(t, kb.KindRecords, pending[0].Kind)
	require.NoError(t, b.st.SetShadowEmbeddings(ctx, k.ID, []int64{pending[0].ID, pending[1].ID},
		[][]float32{vec8(pending[0].Content), vec8(pending[1].Content)}))

	// Midway: searches still run on the old model, ingestion with it still lands.
	hits, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, hits, 3)
	require.NoError(t, putModelDoc(t, b.st, k, "d", k.EmbeddingModel, []float32{0, 0, 0, 1}))
	total, shadowed, err := b.st.CountChunks(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, [2]int{4, 2}, [2]int{total, shadowed})
	resumed, err = b.st.StartReembed(ctx, k.ID, target)
	require.NoError(t, err)
	require.True(t, resumed, "the same target resumes, keeping shadow vectors")
	_, shadowed, err = b.st.CountChunks(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, 2, shadowed)

	var embeddedAtSwap []string
	err = b.st.SwapReembed(ctx, k.ID, target, func(_ context.Context, cs []store.ChunkSource) ([][]float32, error) {
		out := make([][]float32, len(cs))
		for i, c := range cs {
			embeddedAtSwap = append(embeddedAtSwap, c.Content)
			out[i] = vec8(c.Content)
		}
		return out, nil
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"content of c", "content of d"}, embeddedAtSwap, "chunks lacking a shadow vector are embedded inside the swap")

	k2, err := b.st.GetKB(ctx, b.tenant.ID, "swap")
	require.NoError(t, err)
	require.Equal(t, "openai", k2.Embedder)
	require.Equal(t, "emb-8", k2.EmbeddingModel)
	require.Equal(t, 8, k2.EmbeddingDim)
	var models []string
	var dims []int
	var leftover int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT array_agg(DISTINCT embedding_model), array_agg(DISTINCT vector_dims(embedding)), count(embedding_next)
		FROM chunks WHERE kb_id = $1`, k.ID).Scan(&models, &dims, &leftover))
	require.Equal(t, []string{"emb-8"}, models, "one model per knowledge base")
	require.Equal(t, []int{8}, dims)
	require.Zero(t, leftover)
	_, ok, err := b.st.ReembedTarget(ctx, k.ID)
	require.NoError(t, err)
	require.False(t, ok, "target cleared")

	hits, err = b.st.VectorSearch(ctx, k2, vec8("content of b"), 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, hits, 4)
	loaded, err := b.st.Hits(ctx, k2, []int64{hits[0].ChunkID}, nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "b", loaded[hits[0].ChunkID].ExternalID)

	// The new index is on the new dimension, valid, and the search uses it.
	var def string
	var valid bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, store.VectorIndexName(k.ID)).Scan(&def, &valid))
	require.Contains(t, def, "vector(8)")
	require.True(t, valid)
	conn, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET enable_seqscan = off; SET enable_sort = off`)
	require.NoError(t, err)
	var plan strings.Builder
	rows, err := conn.Query(ctx, fmt.Sprintf(`EXPLAIN SELECT id FROM chunks c WHERE c.kb_id = %d ORDER BY %s <=> '%s' LIMIT 5`,
		k.ID, store.VectorExpr("c", 8), "[1,0,0,0,0,0,0,0]"))
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	require.Contains(t, plan.String(), store.VectorIndexName(k.ID), plan.String())

	// An ingestion that embedded with the retired model before the swap is refused.
	err = putModelDoc(t, b.st, k, "late", "zhiku-hash-v1", []float32{1, 1, 0, 0})
	require.ErrorIs(t, err, kb.ErrConflict)
	require.NoError(t, putModelDoc(t, b.st, k2, "late", "emb-8", vec8("late")))
}

func TestReembedNewTargetStartsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "restart", 4)
	require.NoError(t, putModelDoc(t, b.st, k, "a", k.EmbeddingModel, []float32{1, 0, 0, 0}))
	_, err := b.st.StartReembed(ctx, k.ID, store.EmbeddingTarget{Embedder: "openai", Model: "emb-8", Dim: 8})
	require.NoError(t, err)
	pending, err := b.st.ChunksWithoutShadow(ctx, k.ID, 0, 10)
	require.NoError(t, err)
	require.NoError(t, b.st.SetShadowEmbeddings(ctx, k.ID, []int64{pending[0].ID}, [][]float32{vec8("a")}))

	resumed, err := b.st.StartReembed(ctx, k.ID, store.EmbeddingTarget{Embedder: "openai", Model: "other", Dim: 8})
	require.NoError(t, err)
	require.False(t, resumed)
	_, shadowed, err := b.st.CountChunks(ctx, k.ID)
	require.NoError(t, err)
	require.Zero(t, shadowed, "vectors of another model are never swapped in")

	err = b.st.SwapReembed(ctx, k.ID, store.EmbeddingTarget{Embedder: "openai", Model: "emb-8", Dim: 8}, nil)
	require.ErrorIs(t, err, kb.ErrConflict, "swapping to a target that is not recorded is refused")
	var valid bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = $1`, store.VectorIndexName(k.ID)).Scan(&valid))
	require.True(t, valid, "the old index is rebuilt after a failed swap")
	hits, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, hits, 1)
}

func TestChunksAfterAndSetTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "tokens", 4)
	for _, ext := range []string{"a", "b", "c"} {
		require.NoError(t, putModelDoc(t, b.st, k, ext, k.EmbeddingModel, []float32{1, 0, 0, 0}))
	}
	first, err := b.st.ChunksAfter(ctx, k.ID, 0, 2)
	require.NoError(t, err)
	require.Len(t, first, 2)
	rest, err := b.st.ChunksAfter(ctx, k.ID, first[1].ID, 2)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	require.Equal(t, "content of c", rest[0].Content)

	require.NoError(t, b.st.SetTokens(ctx, k.ID, []int64{rest[0].ID}, [][]string{{"扫拖一体", "机器人"}}))
	got, err := b.st.TextSearch(ctx, k.ID, kb.TextQuery{Match: []string{"扫拖一体"}, Terms: []string{"扫拖一体"}, IDF: []float64{1}, K1: 1.2, B: 0.75, AvgLen: 2}, 10, kb.Filter{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, rest[0].ID, got[0].ChunkID)
	require.Error(t, b.st.SetTokens(ctx, k.ID, []int64{1, 2}, [][]string{{"x"}}))
}

func TestIngestionWaitsForTheSwapAndIsRefusedAfterIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "race", 4)
	require.NoError(t, putModelDoc(t, b.st, k, "a", k.EmbeddingModel, []float32{1, 0, 0, 0}))

	// Hold the knowledge base row as SwapReembed does, and retire the model inside.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT 1 FROM knowledge_bases WHERE id = $1 FOR UPDATE`, k.ID)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- putModelDoc(t, b.st, k, "late", k.EmbeddingModel, []float32{0, 1, 0, 0}) }()
	// Wait until the ingestion is blocked on the row lock (not a timing assertion: it polls).
	for {
		var waiting int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("ingestion finished while the swap held the knowledge base: %v", err)
		default:
		}
	}
	_, err = tx.Exec(ctx, `UPDATE knowledge_bases SET retired_models = array_append(retired_models, embedding_model),
		embedding_model = 'next-model' WHERE id = $1`, k.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.ErrorIs(t, <-done, kb.ErrConflict, "vectors of the retired model never land after the swap")
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1`, k.ID).Scan(&n))
	require.Equal(t, 1, n)
}

func TestReembedToAnotherDimensionOfTheSameModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "grow", 4)
	require.NoError(t, putModelDoc(t, b.st, k, "a", k.EmbeddingModel, []float32{1, 0, 0, 0}))
	target := store.EmbeddingTarget{Embedder: "local", Model: k.EmbeddingModel, Dim: 8}
	_, err := b.st.StartReembed(ctx, k.ID, target)
	require.NoError(t, err)
	require.NoError(t, b.st.SwapReembed(ctx, k.ID, target, func(_ context.Context, cs []store.ChunkSource) ([][]float32, error) {
		return [][]float32{vec8(cs[0].Content)}, nil
	}))
	k2, err := b.st.GetKB(ctx, b.tenant.ID, "grow")
	require.NoError(t, err)
	require.Equal(t, 8, k2.EmbeddingDim)
	require.ErrorIs(t, putModelDoc(t, b.st, k2, "old-dim", k.EmbeddingModel, []float32{0, 1, 0, 0}), kb.ErrConflict,
		"vectors of the old dimension are refused")
	require.NoError(t, putModelDoc(t, b.st, k2, "new-dim", k.EmbeddingModel, vec8("x")), "the model itself is not retired")
}
