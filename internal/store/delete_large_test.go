package store_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store"
)

// Deleting a knowledge base with many chunks (and units, documents and FAQs) leaves no row
// of it and no partition behind, and another knowledge base untouched. The time is logged
// (ZHIKU_DELETE_KB_CHUNKS sets the size, default 20,000 chunks;
// ZHIKU_DELETE_KB_CHUNKS_PER_DOC the chunks a document, default 10; docs/scaling.md has figures).
func TestDeleteLargeKB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("ZHIKU_DELETE_KB_CHUNKS")); err == nil && v > 0 {
		n = v
	}
	perDoc := 10
	if v, err := strconv.Atoi(os.Getenv("ZHIKU_DELETE_KB_CHUNKS_PER_DOC")); err == nil && v > 0 {
		perDoc = v
	}
	big := newKB(t, b.st, b.tenant.ID, "big", 4)
	other := newKB(t, b.st, b.tenant.ID, "other", 4)
	// Without vectors: the HNSW index would make loading, not deleting, the slow part.
	fill := func(kbID int64, chunks int) {
		t.Helper()
		docs := (chunks + perDoc - 1) / perDoc
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO documents (kb_id, external_id, title, kind, status, content_hash)
			  SELECT $1, 'doc-' || d, 'doc ' || d, 'manual', 'ready', md5(d::text) FROM generate_series(1, $2::int) d`, []any{kbID, docs}},
			{`INSERT INTO chunks (kb_id, document_id, ord, content, content_hash, embedding, embedding_model, tsv)
			  SELECT $1, d.id, g % $3, 'passage ' || g, md5(g::text), NULL, 'zhiku-hash-v1', to_tsvector('simple', 'passage ' || g)
			  FROM generate_series(0, $2::int - 1) g JOIN documents d ON d.kb_id = $1 AND d.external_id = 'doc-' || (g / $3 + 1)`, []any{kbID, chunks, perDoc}},
			{`INSERT INTO chunk_units (kb_id, chunk_id, kind, content, embedding)
			  SELECT $1, id, 'question', 'q ' || id, NULL FROM chunks WHERE kb_id = $1 AND ord = 0`, []any{kbID}},
			{`INSERT INTO faqs (kb_id, question, answer, source_documents)
			  SELECT $1, 'question ' || d.id, 'answer', ARRAY[d.id] FROM documents d WHERE d.kb_id = $1 LIMIT 100`, []any{kbID}},
		} {
			_, err := b.db.Pool.Exec(ctx, q.sql, q.args...)
			require.NoError(t, err, q.sql)
		}
	}
	began := time.Now()
	fill(big.ID, n)
	fill(other.ID, 100)
	var got int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1`, big.ID).Scan(&got))
	require.Equal(t, n, got)
	t.Logf("loaded %d chunks in %d documents in %s", n, (n+perDoc-1)/perDoc, time.Since(began).Round(time.Millisecond))

	began = time.Now()
	require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, big.ID))
	t.Logf("deleted a knowledge base of %d chunks in %d documents in %s", n, (n+perDoc-1)/perDoc, time.Since(began).Round(time.Millisecond))

	for _, table := range []string{"documents", "chunks", "chunk_units", "faqs", "knowledge_bases"} {
		col := "kb_id"
		if table == "knowledge_bases" {
			col = "id"
		}
		var left int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, big.ID).Scan(&left))
		require.Zero(t, left, table)
	}
	for _, p := range []string{store.PartitionName(big.ID), store.UnitPartitionName(big.ID)} {
		var exists bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, p).Scan(&exists))
		require.False(t, exists, p)
	}
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1`, other.ID).Scan(&got))
	require.Equal(t, 100, got, "another knowledge base keeps its chunks")
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunk_units WHERE kb_id = $1`, other.ID).Scan(&got))
	require.Equal(t, (100+perDoc-1)/perDoc, got, "and its units (one per document)")
}
