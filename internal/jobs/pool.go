package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// Options tune a Pool. Zero values take the defaults.
type Options struct {
	Workers   int           // jobs run at once by this process. Defaults to 2 (ZHIKU_INGEST_WORKERS).
	Lease     time.Duration // how long a claimed job stays ours without a renewal. Defaults to 30s.
	Heartbeat time.Duration // how often the lease is renewed and progress saved. Defaults to 1s.
	Poll      time.Duration // how often an idle worker looks for work. Defaults to 1s.
	RetryBase time.Duration // backoff before the first retry, doubled each time. Defaults to 5s.
	RetryMax  time.Duration // backoff cap. Defaults to 5m.
	// IsTransient tells failures worth retrying (rate limits, provider 5xx, timeouts) from
	// the rest; cmd/zhiku wires llm.IsTransient. Nil retries nothing.
	IsTransient func(error) bool
	Name        string       // worker name prefix in the job table. Defaults to host-pid-random.
	Log         *slog.Logger // defaults to slog.Default()
}

// Pool runs queued jobs with a bounded number of workers.
type Pool struct {
	q    Queue
	proc Processor
	opts Options
	log  *slog.Logger
}

// NewPool builds a pool; Run starts it.
func NewPool(q Queue, proc Processor, opts Options) *Pool {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.Heartbeat > opts.Lease/2 {
		opts.Heartbeat = opts.Lease / 2
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 5 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Minute
	}
	if opts.IsTransient == nil {
		opts.IsTransient = func(error) bool { return false }
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		opts.Name = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Pool{q: q, proc: proc, opts: opts, log: opts.Log.With("component", "jobs")}
}

// Run works jobs until ctx ends, then hands the jobs in flight back to the queue (another
// process, or this one after a restart, resumes them) and returns once every worker has
// stopped.
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range p.opts.Workers {
		name := p.opts.Name + "/" + strconv.Itoa(i)
		wg.Go(func() { p.work(ctx, name) })
	}
	wg.Wait()
}

func (p *Pool) work(ctx context.Context, worker string) {
	for ctx.Err() == nil {
		j, err := p.q.ClaimJob(ctx, worker, p.opts.Lease)
		if err != nil {
			if !errors.Is(err, kb.ErrNotFound) && ctx.Err() == nil {
				p.log.Error("claim job", "worker", worker, "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(p.opts.Poll):
			}
			continue
		}
		p.run(ctx, worker, j)
	}
}

var (
	errCancelRequested = errors.New("cancelled on request / 已按请求取消")
	errLeaseLost       = errors.New("lease lost: another worker took the job")
)

// run takes one claimed job to its next state.
func (p *Pool) run(ctx context.Context, worker string, j Job) {
	log := p.log.With("job_id", j.ID, "kb_id", j.KBID, "worker", worker, "attempt", j.Attempt)
	// Bookkeeping writes outlive a stopping pool, so a job is never left claimed for nothing.
	bg := context.WithoutCancel(ctx)
	prev := Result{}
	if j.Result != nil {
		prev = *j.Result
	}
	finish := func(state State, msg string, r Result) {
		if err := p.q.FinishJob(bg, j.ID, worker, state, msg, r); err != nil {
			log.Error("finish job", "state", state, "error", err)
			return
		}
		log.Info("job finished", "state", state, "error", msg)
	}

	if j.Attempt > j.MaxAttempts {
		last := "the server stopped while it ran / 运行期间服务中断"
		if n := len(j.AttemptErrors); n > 0 {
			last = j.AttemptErrors[n-1]
		}
		finish(StateFailed, fmt.Sprintf("gave up after %d attempts; last: %s / 已重试 %d 次仍失败", j.MaxAttempts, last, j.MaxAttempts), prev)
		return
	}
	k, err := p.q.GetKB(ctx, j.TenantID, strconv.FormatInt(j.KBID, 10))
	if err == nil {
		var f File
		if f, err = p.q.JobFile(ctx, j.ID); err == nil {
			p.process(ctx, log, worker, j, k, f, prev, finish)
			return
		}
		if errors.Is(err, kb.ErrNotFound) {
			finish(StateFailed, "the uploaded file is no longer stored; upload it again / 上传的文件已不存在，请重新上传", prev)
			return
		}
	}
	switch {
	case errors.Is(err, kb.ErrNotFound):
		finish(StateFailed, "the knowledge base no longer exists / 知识库已不存在", prev)
	case ctx.Err() != nil:
		p.requeue(bg, log, worker, j.ID, prev)
	default: // the database hiccuped: let the lease run out and try again
		log.Error("load job", "error", err)
	}
}

func (p *Pool) process(ctx context.Context, log *slog.Logger, worker string, j Job, k kb.KnowledgeBase, f File, prev Result, finish func(State, string, Result)) {
	bg := context.WithoutCancel(ctx)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var mu sync.Mutex
	progress := Progress{Stage: StageParsing}
	report := func(pr Progress) {
		mu.Lock()
		progress = pr
		mu.Unlock()
	}
	beat := func() {
		mu.Lock()
		pr := progress
		mu.Unlock()
		cancelAsked, err := p.q.HeartbeatJob(bg, j.ID, worker, p.opts.Lease, pr)
		switch {
		case errors.Is(err, kb.ErrNotFound):
			cancel(errLeaseLost)
		case err != nil:
			log.Warn("renew job lease", "error", err) // the next beat may succeed; the lease is long
		case cancelAsked:
			cancel(errCancelRequested)
		}
	}
	beat() // shows the parsing stage at once, and catches a cancel asked while queued
	stopBeats := make(chan struct{})
	beats := sync.WaitGroup{}
	beats.Go(func() {
		t := time.NewTicker(p.opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stopBeats:
				return
			case <-t.C:
				beat()
			}
		}
	})

	log.Info("job started", "file", j.Spec.FileName, "size_bytes", j.Spec.Size, "kind", j.Spec.Kind)
	res, err := p.safeProcess(jctx, j, k, f, report)
	close(stopBeats)
	beats.Wait()
	beat() // saves the final progress, and learns of a cancel or a lost lease in the meantime
	res = mergeAttempts(prev, res)

	switch cause := context.Cause(jctx); {
	case errors.Is(cause, errLeaseLost):
		log.Warn("job lease lost; another worker owns it now")
	case err == nil:
		finish(StateSucceeded, "", res)
	case errors.Is(cause, errCancelRequested):
		msg := errCancelRequested.Error()
		if n := res.DocumentsNew + res.DocumentsUpdated; n > 0 {
			msg = fmt.Sprintf("cancelled on request after %d documents were written; they stay searchable / 已按请求取消，已写入的 %d 个文档保留", n, n)
		}
		finish(StateCancelled, msg, res)
	case ctx.Err() != nil:
		p.requeue(bg, log, worker, j.ID, res)
	case p.opts.IsTransient(err) && j.Attempt < j.MaxAttempts:
		runAt := time.Now().Add(p.backoff(j.Attempt))
		if rerr := p.q.RetryJob(bg, j.ID, worker, runAt, err.Error(), res); rerr != nil {
			log.Error("retry job", "error", rerr)
			return
		}
		log.Warn("job failed transiently; retrying", "run_at", runAt, "error", err)
	case p.opts.IsTransient(err):
		finish(StateFailed, fmt.Sprintf("still failing after %d attempts: %v / 重试 %d 次后仍失败", j.Attempt, err, j.Attempt), res)
	default:
		finish(StateFailed, err.Error(), res)
	}
}

// safeProcess turns a processor panic into the job's error: a bad file never takes the
// server down.
func (p *Pool) safeProcess(ctx context.Context, j Job, k kb.KnowledgeBase, f File, report func(Progress)) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("job panicked", "job_id", j.ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error while processing the file (%v) / 处理文件时发生内部错误", r)
		}
	}()
	return p.proc.Process(ctx, j, k, f, report)
}

func (p *Pool) requeue(ctx context.Context, log *slog.Logger, worker string, id int64, r Result) {
	if err := p.q.RequeueJob(ctx, id, worker, r); err != nil && !errors.Is(err, kb.ErrNotFound) {
		log.Error("requeue job; it resumes when its lease runs out", "error", err)
		return
	}
	log.Info("job handed back to the queue")
}

// backoff is RetryBase·2^(attempt-1), capped at RetryMax, with ±20% jitter so jobs that
// failed together do not all retry together.
func (p *Pool) backoff(attempt int) time.Duration {
	d := float64(p.opts.RetryBase) * math.Pow(2, float64(max(attempt-1, 0)))
	d = min(d, float64(p.opts.RetryMax))
	return time.Duration(d * (0.8 + 0.4*mrand.Float64()))
}

// mergeAttempts adds this attempt's result to earlier ones'. Documents an earlier attempt
// wrote come back unchanged on a retry (same content hash), so they still count as new or
// updated, not unchanged.
func mergeAttempts(prev, cur Result) Result {
	if prev.DocumentsNew+prev.DocumentsUpdated == 0 {
		return cur
	}
	carried := prev.DocumentsNew + prev.DocumentsUpdated
	cur.DocumentsNew += prev.DocumentsNew
	cur.DocumentsUpdated += prev.DocumentsUpdated
	cur.DocumentsUnchanged = max(0, cur.DocumentsUnchanged-carried)
	return cur
}
