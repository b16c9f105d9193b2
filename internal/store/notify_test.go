package store_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// listening starts ListenKBChanges and returns its notifications once it listens.
func listening(t *testing.T, st *store.Store) <-chan int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan int64, 100)
	ready := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- st.ListenKBChanges(ctx, func(id int64) { changes <- id }, store.ListenOptions{
			Ready: func() { ready <- struct{}{} }, MinBackoff: 10 * time.Millisecond, PingEvery: 200 * time.Millisecond,
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener never listened")
	}
	return changes
}

// next returns the next notification, failing after a while.
func next(t *testing.T, changes <-chan int64) int64 {
	t.Helper()
	select {
	case id := <-changes:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return -1
	}
}

// quiet asserts that no notification arrives for a moment.
func quiet(t *testing.T, changes <-chan int64) {
	t.Helper()
	select {
	case id := <-changes:
		t.Fatalf("unexpected notification for knowledge base %d", id)
	case <-time.After(150 * time.Millisecond):
	}
}

func TestListenKBChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	changes := listening(t, b.st)

	// Writers on connections of their own, as another process or the CLI would be.
	k := newKB(t, b.st, b.tenant.ID, "notified", 4)
	require.Equal(t, k.ID, next(t, changes), "a new knowledge base")
	quiet(t, changes)

	f, err := b.st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: "q", Answer: "a"})
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes), "a new FAQ")
	_, err = b.st.UpdateFAQ(ctx, k.ID, f.ID, kb.FAQ{Question: "q2", Answer: "a"})
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes), "an updated FAQ")
	require.NoError(t, b.st.DeleteFAQ(ctx, k.ID, f.ID))
	require.Equal(t, k.ID, next(t, changes), "a deleted FAQ")

	// A document written with its chunks, in one transaction with several statements on
	// documents, is one notification.
	putDoc(t, b.st, k, "doc-1", []float32{1, 0, 0, 0}, []string{"x"}, nil)
	require.Equal(t, k.ID, next(t, changes), "a new document")
	quiet(t, changes)
	putDoc(t, b.st, k, "doc-1", []float32{0, 1, 0, 0}, []string{"y"}, nil)
	require.Equal(t, k.ID, next(t, changes), "a new version of a document")
	quiet(t, changes)
	_, err = b.st.DeleteDocument(ctx, k.ID, "doc-1")
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes), "a deleted document")

	// Nothing is sent for a transaction that rolls back.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO faqs (kb_id, question, answer) VALUES ($1, 'q', 'a')`, k.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	quiet(t, changes)

	desc := "changed"
	_, err = b.st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Description: &desc})
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes), "an updated knowledge base")
	require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, k.ID))
	require.Equal(t, k.ID, next(t, changes), "a deleted knowledge base")
}

func TestListenKBChangesReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "notified", 4)
	changes := listening(t, b.st)

	// Kill the listener's backend, as a server restart or failover would.
	admin, err := pgx.Connect(ctx, b.db.URL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var killed int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'zhiku listener' AND datname = current_database()`).Scan(&killed))
	require.Equal(t, 1, killed)

	require.Equal(t, int64(0), next(t, changes), "after reconnecting: anything may have changed")
	_, err = b.st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: "q", Answer: "a"})
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes), "listening again")
}

func TestListenKBChangesNeedsAPool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tx, err := b.db.Pool.Begin(context.Background())
	require.NoError(t, err)
	defer tx.Rollback(context.Background())
	require.Error(t, store.New(tx).ListenKBChanges(context.Background(), func(int64) {}))
}

// A revoked key is announced to every listening process (two here, as two servers), which
// drop their key caches; knowledge-base listeners are not told that anything changed.
func TestRevokedKeyIsAnnouncedToEveryListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	sum := sha256.Sum256([]byte("zk_revoke_me"))
	id, err := b.st.CreateKey(ctx, store.CreateKeyParams{TenantID: b.tenant.ID, Name: "ops", Prefix: "zk_rev", KeyHash: sum[:], Role: kb.RoleBot})
	require.NoError(t, err)

	var revoked [2]chan struct{}
	var changes [2]chan int64
	for i := range revoked {
		revoked[i], changes[i] = make(chan struct{}, 10), make(chan int64, 10)
		lctx, cancel := context.WithCancel(ctx)
		ready, done := make(chan struct{}, 10), make(chan error, 1)
		go func() {
			done <- b.st.ListenKBChanges(lctx, func(id int64) { changes[i] <- id }, store.ListenOptions{
				Ready: func() { ready <- struct{}{} }, OnKeyRevoked: func() { revoked[i] <- struct{}{} },
			})
		}()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("the listener never listened")
		}
	}
	start := time.Now()
	require.NoError(t, b.st.RevokeKey(ctx, b.tenant.ID, id))
	for i := range revoked {
		select {
		case <-revoked[i]:
		case <-time.After(5 * time.Second):
			t.Fatalf("listener %d was not told of the revocation", i)
		}
		quiet(t, changes[i])
	}
	t.Logf("both listeners heard the revocation %s after it committed", time.Since(start).Round(time.Millisecond))
	_, err = b.st.PrincipalByKeyHash(ctx, sum[:])
	require.ErrorIs(t, err, kb.ErrNotFound, "the key no longer resolves")
	require.ErrorIs(t, b.st.RevokeKey(ctx, b.tenant.ID, id), kb.ErrNotFound, "revoking twice: no second notice")
	select {
	case <-revoked[0]:
		t.Fatal("a second revocation notified")
	case <-time.After(200 * time.Millisecond):
	}
}
