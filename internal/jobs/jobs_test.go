package jobs_test

import (
	"context"
	"fmt"
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
	db    *storetest.DB
	st    *store.Store
	kb    kb.KnowledgeBase
	queue *jobs.Client // enqueues only, as `serve --no-worker`
}

func setup(t *testing.T) testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	ctx := context.Background()
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tn.ID, Name: "kb1", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 8})
	require.NoError(t, err)
	q, err := jobs.New(db.Pool, db.Store, jobs.Options{})
	require.NoError(t, err)
	return testBundle{db: db, st: db.Store, kb: k, queue: q}
}

func (b testBundle) enqueue(t *testing.T, name string, maxAttempts int) jobs.Job {
	t.Helper()
	j, err := b.queue.EnqueueJob(context.Background(), jobs.NewJob{
		TenantID: b.kb.TenantID, KBID: b.kb.ID, MaxAttempts: maxAttempts,
		Spec: jobs.Spec{FileName: name, Kind: "auto"}, File: jobs.File{Data: []byte("content of " + name)},
	})
	require.NoError(t, err)
	return j
}

func nopReindex(context.Context, kb.KnowledgeBase, func(int, int)) error { return nil }

// run starts a worker client until the test ends; opts fills in what the test sets.
func (b testBundle) run(t *testing.T, proc jobs.Processor, opts jobs.Options) {
	t.Helper()
	opts.Processor, opts.Reindex = proc, nopReindex
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	opts.Heartbeat, opts.Poll, opts.RetryBase = 20*time.Millisecond, 20*time.Millisecond, 10*time.Millisecond
	opts.Log = slog.New(slog.DiscardHandler)
	c, err := jobs.New(b.db.Pool, b.st, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

func (b testBundle) wait(t *testing.T, id int64) jobs.Job {
	t.Helper()
	var j jobs.Job
	require.Eventually(t, func() bool {
		var err error
		j, err = b.st.GetJob(context.Background(), b.kb.TenantID, id)
		require.NoError(t, err)
		return j.State.Final()
	}, 30*time.Second, 10*time.Millisecond)
	return j
}

// crash leaves job j as a process killed while running it would: running in River and in
// the record, started long ago, its attempt spent.
func (b testBundle) crash(t *testing.T, j jobs.Job) {
	t.Helper()
	ctx := context.Background()
	_, err := b.st.StartJob(ctx, j.ID, 1)
	require.NoError(t, err)
	tag, err := b.db.Pool.Exec(ctx, `
		UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour',
			attempted_by = ARRAY['killed-worker']
		WHERE id = (SELECT river_job_id FROM ingest_jobs WHERE id = $1)`, j.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

var succeed = procFunc(func(_ context.Context, _ jobs.Job, f jobs.File, _ func(jobs.Progress)) (jobs.Result, error) {
	return jobs.Result{DocumentsNew: 1, Chunks: len(f.Data)}, nil
})

func TestEnqueuedJobIsQueuedWithItsRiverJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.md", 0)
	require.Equal(t, jobs.StateQueued, j.State)
	require.Equal(t, jobs.StageQueued, j.Progress.Stage)
	require.Equal(t, jobs.DefaultMaxAttempts, j.MaxAttempts)
	var kind string
	var maxAttempts int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
		SELECT r.kind, r.max_attempts FROM river_job r JOIN ingest_jobs j ON j.river_job_id = r.id
		WHERE j.id = $1`, j.ID).Scan(&kind, &maxAttempts))
	require.Equal(t, "zhiku_ingest", kind)
	require.Equal(t, jobs.DefaultMaxAttempts+1, maxAttempts, "one run more, to record why it gave up")
}

// A worker that died without a word (kill -9, lost machine) leaves its job running; River
// rescues it once RescueAfter has passed, and another worker resumes it.
func TestJobOfACrashedWorkerIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.md", 0)
	b.crash(t, j)

	b.run(t, succeed, jobs.Options{Timeout: time.Second, RescueAfter: time.Second})
	j = b.wait(t, j.ID)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Equal(t, 2, j.Attempt)
	require.Equal(t, len("content of a.md"), j.Result.Chunks, "the resumed job read the stored bytes")
}

func TestJobInterruptedTooOftenFailsClearly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, "a.md", 1)
	b.crash(t, j)
	ran := atomic.Bool{}
	b.run(t, procFunc(func(context.Context, jobs.Job, jobs.File, func(jobs.Progress)) (jobs.Result, error) {
		ran.Store(true)
		return jobs.Result{}, nil
	}), jobs.Options{Timeout: time.Second, RescueAfter: time.Second})
	j = b.wait(t, j.ID)
	require.Equal(t, jobs.StateFailed, j.State)
	require.Contains(t, j.Error, "gave up after 1 attempts")
	require.Contains(t, j.Error, "server stopped")
	require.False(t, ran.Load())
	_, err := b.st.JobFile(context.Background(), j.ID)
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
	}), jobs.Options{})
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
	}), jobs.Options{Workers: 2})
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
	}), jobs.Options{})
	require.Eventually(t, func() bool {
		got, err := b.st.GetJob(context.Background(), b.kb.TenantID, j.ID)
		require.NoError(t, err)
		return got.Progress.ChunksEmbedded == 40
	}, 20*time.Second, 10*time.Millisecond)
	got, err := b.st.GetJob(context.Background(), b.kb.TenantID, j.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, got.State)
	require.Equal(t, jobs.Progress{Stage: jobs.StageEmbedding, PagesParsed: 12, DocumentsTotal: 1, ChunksEmbedded: 40}, got.Progress)
	close(release)
	require.Equal(t, jobs.StateSucceeded, b.wait(t, j.ID).State)
}

// A job cancelled while queued never reaches the processor; a running one stops at its next
// progress save.
func TestCancelQueuedAndRunningJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	queued := b.enqueue(t, "queued.md", 0)
	c, err := b.queue.CancelJob(ctx, b.kb.TenantID, queued.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.StateCancelled, c.State)
	_, err = b.queue.CancelJob(ctx, b.kb.TenantID, queued.ID)
	require.ErrorIs(t, err, kb.ErrConflict, "a finished job cannot be cancelled")
	_, err = b.queue.CancelJob(ctx, b.kb.TenantID+1000, queued.ID)
	require.ErrorIs(t, err, kb.ErrNotFound, "another tenant's job")

	running := b.enqueue(t, "running.md", 0)
	started := make(chan struct{})
	processed := sync.Map{}
	b.run(t, procFunc(func(ctx context.Context, j jobs.Job, _ jobs.File, _ func(jobs.Progress)) (jobs.Result, error) {
		processed.Store(j.ID, true)
		close(started)
		<-ctx.Done()
		return jobs.Result{}, ctx.Err()
	}), jobs.Options{})
	<-started
	c, err = b.queue.CancelJob(ctx, b.kb.TenantID, running.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, c.State, "a running job is asked, not forced")
	require.True(t, c.CancelRequested)
	j := b.wait(t, running.ID)
	require.Equal(t, jobs.StateCancelled, j.State)
	require.Contains(t, j.Error, "cancelled on request")
	_, ok := processed.Load(queued.ID)
	require.False(t, ok, "the job cancelled while queued did not run")
	var riverState string
	require.Eventually(t, func() bool {
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT r.state FROM river_job r JOIN ingest_jobs j ON j.river_job_id = r.id
			WHERE j.id = $1`, queued.ID).Scan(&riverState))
		return riverState == "completed"
	}, 20*time.Second, 20*time.Millisecond, "River's job of the cancelled one ended without work: %s", riverState)
}

// Several worker processes on one database: each job runs once.
func TestJobsRunOnceAcrossWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs sync.Map
	count := procFunc(func(ctx context.Context, j jobs.Job, f jobs.File, r func(jobs.Progress)) (jobs.Result, error) {
		n, _ := runs.LoadOrStore(j.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(5 * time.Millisecond)
		return succeed(ctx, j, f, r)
	})
	for range 3 {
		b.run(t, count, jobs.Options{Workers: 2})
	}
	var ids []int64
	for i := range 30 {
		ids = append(ids, b.enqueue(t, fmt.Sprintf("f%d.md", i), 0).ID)
	}
	for _, id := range ids {
		require.Equal(t, jobs.StateSucceeded, b.wait(t, id).State)
		n, ok := runs.Load(id)
		require.True(t, ok)
		require.EqualValues(t, 1, n.(*atomic.Int32).Load(), "job %d", id)
	}
}

// A job queued by a binary from before River (no River job) is picked up by a new worker.
func TestJobQueuedBeforeRiverIsScheduled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var id int64
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
		INSERT INTO ingest_jobs (tenant_id, kb_id, spec, progress) VALUES ($1, $2, '{"file_name":"old.md"}', '{"stage":"queued"}')
		RETURNING id`, b.kb.TenantID, b.kb.ID).Scan(&id))
	_, err := b.db.Pool.Exec(ctx, `INSERT INTO ingest_job_files (job_id, data) VALUES ($1, 'old bytes')`, id)
	require.NoError(t, err)
	b.run(t, succeed, jobs.Options{})
	j := b.wait(t, id)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Equal(t, len("old bytes"), j.Result.Chunks)
}

// A periodic chore runs once per period across every worker process (River's leader
// enqueues it), and once at start.
func TestPeriodicJobRunsOnceAcrossWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	chore := []jobs.Periodic{{Name: "count", Every: time.Hour, Run: func(context.Context) error { runs.Add(1); return nil }}}
	b.run(t, succeed, jobs.Options{Periodic: chore})
	b.run(t, succeed, jobs.Options{Periodic: chore})
	require.Eventually(t, func() bool { return runs.Load() >= 1 }, 30*time.Second, 20*time.Millisecond)
	var enqueued int
	require.Eventually(t, func() bool {
		require.NoError(t, b.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'zhiku_periodic' AND state = 'completed'`).Scan(&enqueued))
		return enqueued >= 1
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(time.Second) // room for a second run, were there one
	require.EqualValues(t, 1, runs.Load())
}
