package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/migrations"
)

// reviewDoc stores one mined pair held for review.
func reviewDoc(t *testing.T, b testBundle, k kb.KnowledgeBase, ext string) kb.Document {
	t.Helper()
	res, err := b.st.ReplaceDocument(context.Background(), kb.Document{KBID: k.ID, ExternalID: ext, Title: ext, Kind: kb.KindTickets, Status: kb.StatusReview, ContentHash: "pair-" + ext},
		[]kb.Chunk{{Content: "问答 " + ext, ContentHash: ext, Embedding: []float32{1, 0, 0}, Tokens: []string{"q"}}}, "zhiku-hash-v1", 3)
	require.NoError(t, err)
	return res.Document
}

// While operator A's approval holds the row (its transaction not yet committed), operator B's
// rejection, read from the same review status, waits on the row and then finds it changed:
// the condition in its UPDATE makes it a conflict instead of a second winner.
func TestChangeDocumentStatusConditionedOnStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k := newKB(t, b.st, b.tenant.ID, "review-race", 3)
	d := reviewDoc(t, b, k, "ticket:q1")

	txA, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(ctx) //nolint:errcheck
	tag, err := txA.Exec(ctx, `UPDATE documents SET status = 'ready' WHERE id = $1 AND status = 'review'`, d.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())

	done := make(chan error, 1)
	go func() {
		done <- b.st.ChangeDocumentStatus(ctx, kb.StatusChange{KBID: k.ID, DocID: d.ID, From: kb.StatusReview, To: kb.StatusRejected, Detail: "B"})
	}()
	select {
	case err := <-done:
		t.Fatalf("B did not wait for A's row lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, txA.Commit(ctx))
	err = <-done
	require.ErrorIs(t, err, kb.ErrConflict)
	require.Contains(t, err.Error(), "is ready now, no longer review")

	got, err := b.st.GetDocument(ctx, k.ID, "ticket:q1")
	require.NoError(t, err)
	require.Equal(t, kb.StatusReady, got.Status, "A's decision stands")

	err = b.st.ChangeDocumentStatus(ctx, kb.StatusChange{KBID: k.ID, DocID: d.ID + 1000, From: kb.StatusReview, To: kb.StatusReady})
	require.ErrorIs(t, err, kb.ErrNotFound)
}

// A rejected pair stays rejected when the same export is ingested again; it does not come
// back to review.
func TestRejectedPairNotResurrectedByReingest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k := newKB(t, b.st, b.tenant.ID, "review-again", 3)
	d := reviewDoc(t, b, k, "ticket:q2")
	require.NoError(t, b.st.ChangeDocumentStatus(ctx, kb.StatusChange{KBID: k.ID, DocID: d.ID, From: kb.StatusReview, To: kb.StatusRejected, Detail: "rejected by op"}))
	again := reviewDoc(t, b, k, "ticket:q2")
	require.Equal(t, d.ID, again.ID)
	require.Equal(t, kb.StatusRejected, again.Status)
}

// Migration 00016: rows rejected before it (failed, "rejected by …") read as rejected after it;
// failed ingestions stay failed; down puts them back.
func TestMigrationRejectedStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k := newKB(t, b.st, b.tenant.ID, "legacy", 3)
	rejected, failed := reviewDoc(t, b, k, "ticket:old-reject"), reviewDoc(t, b, k, "ticket:old-fail")

	db := stdlib.OpenDBFromPool(b.db.Pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS(), goose.WithAllowOutofOrder(true))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 15)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE documents SET status = 'failed', status_detail = 'rejected by ops / 已驳回: 过时' WHERE id = $1`, rejected.ID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE documents SET status = 'failed', status_detail = 'embedding provider down' WHERE id = $1`, failed.ID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE documents SET status = 'rejected' WHERE id = $1`, failed.ID)
	require.Error(t, err, "before 00016 the CHECK has no rejected")

	_, err = p.Up(ctx)
	require.NoError(t, err)
	for id, want := range map[int64]string{rejected.ID: kb.StatusRejected, failed.ID: kb.StatusFailed} {
		var got string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT status FROM documents WHERE id = $1`, id).Scan(&got))
		require.Equal(t, want, got)
	}
}
