package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// procFunc adapts a function to jobs.Processor.
type procFunc func(ctx context.Context, j jobs.Job, f jobs.File, report func(jobs.Progress)) (jobs.Result, error)

func (p procFunc) Process(ctx context.Context, j jobs.Job, _ kb.KnowledgeBase, f jobs.File, report func(jobs.Progress)) (jobs.Result, error) {
	return p(ctx, j, f, report)
}

type testBundle struct {
	st *store.Store
	kb kb.KnowledgeBase
}

func setup(t *testing.T) testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	ctx := context.Background()
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tn.ID, Name: "kb1", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 8})
	require.NoError(t, err)
	return testBundle{st: db.Store, kb: k}
}

func (b testBundle) enqueue(t *testing.T, name string, maxAttempts int) jobs.Job {
	t.Helper()
	j, err := b.st.EnqueueJob(context.Background(), jobs.NewJob{
		TenantID: b.kb.TenantID, KBID: b.kb.ID, MaxAttempts: maxAttempts,
		Spec: jobs.Spec{FileName: name, Kind: "auto"}, File: jobs.File{Data: []byte("content of " + name)},
	})
	require.NoError(t, err)
	return j
}

func (b testBundle) run(t *testing.T, proc jobs.Processor, workers int) {
	t.Helper()
	pool := jobs.NewPool(b.st, proc, jobs.Options{
		Workers: workers, Lease: 2 * time.Second, Heartbeat: 20 * time.Millisecond, Poll: 10 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pool.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (b testBundle) wait(t *testing.T, id int64) jobs.Job {
	t.Helper()
	var j jobs.Job
	require.Eventually(t, func() bool {
		var err error
		j, err = b.st.GetJob(context.Background(), b.kb.TenantID, id)
		require.NoError(t, err)
		return j.State.Final()
	}, 20*time.Second, 10*time.Millisecond)
	return j
}

var succeed = procFunc(func(_ context.Context, _ jobs.Job, f jobs.File, _ func(jobs.Progress)) (jobs.Result, error) {
	return jobs.Result{DocumentsNew: 1, Chunks: len(f.Data)}, nil
})

// A worker that died without a word (kill -9, lost machine) leaves its job running with a
// lease nobody renews; once it runs out, another worker resumes the job.
func TestJobOfACrashedWorkerIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.md", 0)
	claimed, err := b.st.ClaimJob(context.Background(), "crashed-worker", 100*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, j.ID, claimed.ID)
	require.Equal(t, jobs.StateRunning, claimed.State)

	b.run(t, succeed, 1)
	j = b.wait(t, j.ID)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Equal(t, 2, j.Attempt)
	require.Equal(t, len("content of a.md"), j.Result.Chunks, "the resumed job read the stored bytes")
}

func TestJobInterruptedTooOftenFailsClearly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.md", 1)
	_, err := b.st.ClaimJob(context.Background(), "crashed-worker", 50*time.Millisecond)
	require.NoError(t, err)
	ran := atomic.Bool{}
	b.run(t, procFunc(func(context.Context, jobs.Job, jobs.File, func(jobs.Progress)) (jobs.Result, error) {
		ran.Store(true)
		return jobs.Result{}, nil
	}), 1)
	j = b.wait(t, j.ID)
	require.Equal(t, jobs.StateFailed, j.State)
	require.Contains(t, j.Error, "gave up after 1 attempts")
	require.Contains(t, j.Error, "server stopped")
	require.False(t, ran.Load())
	_, err = b.st.JobFile(context.Background(), j.ID)
	require.ErrorIs(t, err, kb.ErrNotFound, "a finished job's bytes are deleted")
}

func TestProcessorPanicFailsOnlyItsJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := b.enqueue(t, "bad.pdf", 0)
	good := b.enqueue(t, "good.md", 0)
	b.run(t, procFunc(func(ctx context.Context, j jobs.Job, f jobs.File, r func(jobs.Progress)) (jobs.Result, error) {
		if j.Spec.FileName == "bad.pdf" {
			panic("index out of range in a parser")
		}
		return succeed(ctx, j, f, r)
	}), 1)
	j := b.wait(t, bad.ID)
	require.Equal(t, jobs.StateFailed, j.State)
	require.Contains(t, j.Error, "index out of range in a parser")
	require.Equal(t, 1, j.Attempt, "a panic is not retried")
	require.Equal(t, jobs.StateSucceeded, b.wait(t, good.ID).State)
}

func TestWorkersRunJobsConcurrentlyWithinTheBound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []int64
	for i := range 6 {
		ids = append(ids, b.enqueue(t, fmt.Sprintf("f%d.md", i), 0).ID)
	}
	var mu sync.Mutex
	inFlight, peak := 0, 0
	both := make(chan struct{})
	var bothOnce sync.Once
	b.run(t, procFunc(func(ctx context.Context, j jobs.Job, f jobs.File, r func(jobs.Progress)) (jobs.Result, error) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		if inFlight == 2 {
			bothOnce.Do(func() { close(both) })
		}
		mu.Unlock()
		select { // hold the first jobs until two run side by side
		case <-both:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return succeed(ctx, j, f, r)
	}), 2)
	for _, id := range ids {
		require.Equal(t, jobs.StateSucceeded, b.wait(t, id).State)
	}
	require.Equal(t, 2, peak)
}

func TestProgressIsStoredWhileRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.pdf", 0)
	release := make(chan struct{})
	b.run(t, procFunc(func(ctx context.Context, j jobs.Job, f jobs.File, report func(jobs.Progress)) (jobs.Result, error) {
		report(jobs.Progress{Stage: jobs.StageEmbedding, PagesParsed: 12, DocumentsTotal: 1, ChunksEmbedded: 40})
		<-release
		return succeed(ctx, j, f, report)
	}), 1)
	require.Eventually(t, func() bool {
		got, err := b.st.GetJob(context.Background(), b.kb.TenantID, j.ID)
		require.NoError(t, err)
		return got.Progress.ChunksEmbedded == 40
	}, 10*time.Second, 10*time.Millisecond)
	got, err := b.st.GetJob(context.Background(), b.kb.TenantID, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, got.State)
	require.Equal(t, jobs.Progress{Stage: jobs.StageEmbedding, PagesParsed: 12, DocumentsTotal: 1, ChunksEmbedded: 40}, got.Progress)
	close(release)
	require.Equal(t, jobs.StateSucceeded, b.wait(t, j.ID).State)
}

func TestQueueOwnership(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j := b.enqueue(t, "a.md", 0)
	_, err := b.st.ClaimJob(ctx, "w1", time.Minute)
	require.NoError(t, err)
	_, err = b.st.ClaimJob(ctx, "w2", time.Minute)
	require.ErrorIs(t, err, kb.ErrNotFound, "a leased job is not handed out twice")
	_, err = b.st.HeartbeatJob(ctx, j.ID, "w2", time.Minute, jobs.Progress{})
	require.ErrorIs(t, err, kb.ErrNotFound, "only the holder renews")
	require.ErrorIs(t, b.st.FinishJob(ctx, j.ID, "w2", jobs.StateSucceeded, "", jobs.Result{}), kb.ErrNotFound)
	require.Error(t, b.st.FinishJob(ctx, j.ID, "w1", jobs.StateRunning, "", jobs.Result{}), "running is not final")

	c, err := b.st.CancelJob(ctx, b.kb.TenantID, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, c.State, "a running job is asked, not forced")
	stop, err := b.st.HeartbeatJob(ctx, j.ID, "w1", time.Minute, jobs.Progress{})
	require.NoError(t, err)
	require.True(t, stop)
	_, err = b.st.GetJob(ctx, b.kb.TenantID+1000, j.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)
}
