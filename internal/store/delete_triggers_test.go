package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Deleting many documents in one statement (a catalog-shaped knowledge base) sends one
// change notification and flags each curated answer citing a deleted current document
// once; answers citing only superseded or surviving documents stay as they are.
func TestDeletingDocumentsFlagsCitingAnswersOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "catalog", 4)
	other := newKB(t, b.st, b.tenant.ID, "other", 4)
	changes := listening(t, b.st)

	var ids []int64
	require.NoError(t, b.db.Pool.QueryRow(ctx, `WITH d AS (
		INSERT INTO documents (kb_id, external_id, title, kind, status, is_current)
		SELECT $1, 'sku-' || g, 'SKU ' || g, 'catalog', 'ready', g <> 3 FROM generate_series(1, 300) g
		RETURNING id) SELECT array_agg(id ORDER BY id) FROM d`, k.ID).Scan(&ids))
	var otherDoc int64
	require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO documents (kb_id, external_id, title, kind, status)
		VALUES ($1, 'sku-1', 'SKU 1', 'catalog', 'ready') RETURNING id`, other.ID).Scan(&otherDoc))
	faq := func(kbID int64, q string, cites ...int64) int64 {
		var id int64
		require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO faqs (kb_id, question, answer, source_documents)
			VALUES ($1, $2, 'a', $3) RETURNING id`, kbID, q, append([]int64{}, cites...)).Scan(&id))
		return id
	}
	both := faq(k.ID, "cites two deleted", ids[1], ids[0])
	superseded := faq(k.ID, "cites a superseded one", ids[2])
	kept := faq(k.ID, "cites a surviving one", ids[299])
	none := faq(k.ID, "cites nothing")
	elsewhere := faq(other.ID, "another knowledge base", otherDoc)
	for drained := false; !drained; { // the writes above
		select {
		case <-changes:
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}

	tag, err := b.db.Pool.Exec(ctx, `DELETE FROM documents WHERE kb_id = $1 AND id <> $2`, k.ID, ids[299])
	require.NoError(t, err)
	require.EqualValues(t, 299, tag.RowsAffected())
	require.Equal(t, k.ID, next(t, changes), "one notification for the statement")
	quiet(t, changes)

	flags := map[int64][3]string{}
	rows, err := b.db.Pool.Query(ctx, `SELECT id, needs_review::text, review_reason, review_reason_zh FROM faqs`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var f [3]string
		require.NoError(t, rows.Scan(&id, &f[0], &f[1], &f[2]))
		flags[id] = f
	}
	require.NoError(t, rows.Err())
	require.Equal(t, [3]string{"true", "document sku-1 was deleted", "引用的文档 sku-1 已被删除"}, flags[both])
	for _, id := range []int64{superseded, kept, none, elsewhere} {
		require.Equal(t, "false", flags[id][0], fmt.Sprintf("faq %d: %v", id, flags[id]))
	}
}
