package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// Knowledge bases are created and deleted while documents with question units are written
// into other knowledge bases: every creation, deletion and write succeeds. (Attaching a
// units partition locks every chunks partition against writes; a writer caught in the
// middle made PostgreSQL abort the creation as a deadlock, a 500 for the operator.)
func TestCreateAndDeleteKBsWhileOthersWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	targets := []kb.KnowledgeBase{newKB(t, b.st, b.tenant.ID, "w1", 4), newKB(t, b.st, b.tenant.ID, "w2", 4)}
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w, k := range targets {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				ext := fmt.Sprintf("faq-%d-%d", w, i%20)
				_, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: ext, Title: ext, Kind: kb.KindFAQ, Status: kb.StatusReady, ContentHash: fmt.Sprint(ext, i)},
					[]kb.Chunk{{Content: "问：保修多久\n答：一年", Embedding: []float32{1, 0, 0, float32(i % 7)}, Tokens: []string{"保修"},
						Units: []kb.Unit{{Kind: kb.UnitQuestion, Content: "保修多久", Embedding: []float32{0, 1, 0, 1}}}}}, "test-model", 2)
				if err != nil {
					errs <- fmt.Errorf("write %s: %w", ext, err)
					return
				}
				writes.Add(1)
				time.Sleep(2 * time.Millisecond) // a busy ingestion, not a lock-holding loop
			}
		})
	}
	deadline := time.Now().Add(4 * time.Second)
	created := 0
	for i := 0; time.Now().Before(deadline); i++ {
		k, err := b.st.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: fmt.Sprintf("new-%d", i), Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 4})
		require.NoError(t, err, "create %d while others write", i)
		began := time.Now()
		require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, k.ID), "delete %d while others write", i)
		t.Logf("delete %d took %s", i, time.Since(began).Round(time.Millisecond))
		// Its partitions went with it, even when a detach gave way halfway (pending detach).
		var left []string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT coalesce(array_agg(relname), '{}') FROM pg_class WHERE relname IN ($1, $2)`,
			store.PartitionName(k.ID), store.UnitPartitionName(k.ID)).Scan(&left))
		require.Empty(t, left, "delete %d left partitions behind", i)
		created++
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, writes.Load())
	t.Logf("%d knowledge bases created and deleted beside %d writes", created, writes.Load())
}
