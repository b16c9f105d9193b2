package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/zhiku/zhiku/internal/kb"
)

// IngestArgs is River's job for one upload: the ingest_jobs row it runs.
type IngestArgs struct {
	JobID int64 `json:"job_id"`
}

// Kind implements river.JobArgs.
func (IngestArgs) Kind() string { return "zhiku_ingest" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (IngestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueIngest} }

type ingestWorker struct {
	river.WorkerDefaults[IngestArgs]
	c *Client
}

// CancelledOnRequest is the error of a job cancelled before it started.
var CancelledOnRequest = kb.T("cancelled on request", "已按请求取消")

var (
	errCancelRequested = kb.Plain(CancelledOnRequest.En, CancelledOnRequest.Zh)
	errJobGone         = errors.New("the job stopped running: it finished or its knowledge base was deleted")
)

// Work takes one upload to its next state. The job's record (ingest_jobs) says what the
// API shows; River only learns whether to run it again: an error retries (after
// NextRetry), JobCancel ends it, a cancelled context on shutdown hands it back.
func (w *ingestWorker) Work(ctx context.Context, rj *river.Job[IngestArgs]) error {
	q := w.c.q
	j, err := q.StartJob(ctx, rj.Args.JobID, rj.Attempt)
	if errors.Is(err, kb.ErrNotFound) {
		return nil // cancelled while queued, finished by an earlier run, or deleted
	}
	if err != nil {
		return err // the database hiccuped: River tries again
	}
	log := w.c.log.With("job_id", j.ID, "river_job_id", rj.ID, "kb_id", j.KBID, "attempt", j.Attempt)
	// Bookkeeping writes outlive a stopping worker, so a job is never left running for nothing.
	bg := context.WithoutCancel(ctx)
	prev := Result{}
	if j.Result != nil {
		prev = *j.Result
	}
	finish := func(state State, msg kb.Text, r Result) error {
		if err := q.FinishJob(bg, j.ID, state, msg, r); err != nil && !errors.Is(err, kb.ErrNotFound) {
			log.Error("finish job", "state", state, "error", err)
			return err // River runs it again; the record is written then
		}
		log.Info("job finished", "state", state, "error", msg.En)
		if state == StateSucceeded {
			return nil
		}
		return river.JobCancel(errors.New(msg.En))
	}

	if j.Attempt > j.MaxAttempts {
		last, lastZh := "the server stopped while it ran", "运行期间服务中断"
		if n := len(j.AttemptErrors); n > 0 {
			last, lastZh = j.AttemptErrors[n-1], j.AttemptErrors[n-1]
		}
		return finish(StateFailed, kb.T(fmt.Sprintf("gave up after %d attempts; last: %s", j.MaxAttempts, last),
			fmt.Sprintf("已重试 %d 次仍失败，最后一次：%s", j.MaxAttempts, lastZh)), prev)
	}
	k, err := q.GetKB(ctx, j.TenantID, strconv.FormatInt(j.KBID, 10))
	if err != nil {
		if errors.Is(err, kb.ErrNotFound) {
			return finish(StateFailed, kb.T("the knowledge base no longer exists", "知识库已不存在"), prev)
		}
		return w.interrupted(ctx, bg, log, j, prev, err)
	}
	f, err := q.JobFile(ctx, j.ID)
	if err != nil {
		if errors.Is(err, kb.ErrNotFound) {
			return finish(StateFailed, kb.T("the uploaded file is no longer stored; upload it again", "上传的文件已不存在，请重新上传"), prev)
		}
		return w.interrupted(ctx, bg, log, j, prev, err)
	}
	res, err, cause := w.process(ctx, log, j, k, f)
	res = mergeAttempts(prev, res)

	switch {
	case errors.Is(cause, errJobGone):
		log.Warn("job stopped running meanwhile")
		return nil
	case err == nil:
		return finish(StateSucceeded, kb.Text{}, res)
	case errors.Is(cause, errCancelRequested):
		msg := CancelledOnRequest
		if n := res.DocumentsNew + res.DocumentsUpdated; n > 0 {
			msg = kb.T(fmt.Sprintf("cancelled on request after %d documents were written; they stay searchable", n),
				fmt.Sprintf("已按请求取消，已写入的 %d 个文档保留", n))
		}
		return finish(StateCancelled, msg, res)
	case ctx.Err() != nil:
		return w.interrupted(ctx, bg, log, j, res, err)
	case w.c.opts.IsTransient(err) && j.Attempt < j.MaxAttempts:
		runAt := time.Now().Add(w.c.backoff(j.ID, j.Attempt))
		if rerr := q.RetryJob(bg, j.ID, runAt, kb.TextOf(err).En, res); rerr != nil {
			log.Error("retry job", "error", rerr)
		}
		log.Warn("job failed transiently; retrying", "run_at", runAt, "error", err)
		return err
	case w.c.opts.IsTransient(err):
		en, zh := kb.Texts(err)
		if zh == "" {
			zh = en
		}
		return finish(StateFailed, kb.T(fmt.Sprintf("still failing after %d attempts: %s", j.Attempt, en),
			fmt.Sprintf("重试 %d 次后仍失败：%s", j.Attempt, zh)), res)
	default:
		return finish(StateFailed, kb.TextOf(err), res)
	}
}

// interrupted ends an attempt that did not get to its end: on shutdown (or River's
// timeout) the record shows the job queued again and River runs it anew; a database error
// is retried like a transient failure.
func (w *ingestWorker) interrupted(ctx, bg context.Context, log *slog.Logger, j Job, r Result, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if rerr := w.c.q.RequeueJob(bg, j.ID, r); rerr != nil && !errors.Is(rerr, kb.ErrNotFound) {
			log.Error("requeue job", "error", rerr)
		}
		log.Info("job handed back to the queue")
		return ctx.Err() // River hands it back without counting the attempt
	}
	runAt := time.Now().Add(w.c.backoff(j.ID, j.Attempt))
	if rerr := w.c.q.RetryJob(bg, j.ID, runAt, err.Error(), r); rerr != nil {
		log.Error("retry job", "error", rerr)
	}
	return err
}

// process runs the Processor with progress saved every Heartbeat, stopping it when a
// cancel is asked or the job stops running. cause says why it was stopped, if it was.
func (w *ingestWorker) process(ctx context.Context, log *slog.Logger, j Job, k kb.KnowledgeBase, f File) (Result, error, error) {
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
		cancelAsked, err := w.c.q.SaveProgress(bg, j.ID, pr)
		switch {
		case errors.Is(err, kb.ErrNotFound):
			cancel(errJobGone)
		case err != nil:
			log.Warn("save job progress", "error", err) // the next beat may succeed
		case cancelAsked:
			cancel(errCancelRequested)
		}
	}
	beat() // catches a cancel asked just before the start
	stopBeats := make(chan struct{})
	beats := sync.WaitGroup{}
	beats.Go(func() {
		t := time.NewTicker(w.c.opts.Heartbeat)
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
	res, err := w.safeProcess(jctx, j, k, f, report)
	close(stopBeats)
	beats.Wait()
	beat() // saves the final progress, and learns of a cancel in the meantime
	return res, err, context.Cause(jctx)
}

// safeProcess turns a processor panic into the job's error: a bad file never takes the
// process down.
func (w *ingestWorker) safeProcess(ctx context.Context, j Job, k kb.KnowledgeBase, f File, report func(Progress)) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.c.log.Error("job panicked", "job_id", j.ID, "panic", r, "stack", string(debug.Stack()))
			err = kb.Plain(fmt.Sprintf("internal error while processing the file (%v)", r), "处理文件时发生内部错误")
		}
	}()
	return w.c.opts.Processor.Process(ctx, j, k, f, report)
}

// NextRetry is when River runs a failed attempt again: the run_at Work recorded.
func (w *ingestWorker) NextRetry(rj *river.Job[IngestArgs]) time.Time {
	return time.Now().Add(w.c.backoff(rj.Args.JobID, rj.Attempt))
}

// backoff is RetryBase·2^(attempt-1), capped at RetryMax, with ±20% jitter so jobs that
// failed together do not all retry together. The jitter is drawn from the job and
// attempt, so the time the record shows and the time River uses agree.
func (c *Client) backoff(id int64, attempt int) time.Duration {
	d := float64(c.opts.RetryBase) * math.Pow(2, float64(max(attempt-1, 0)))
	d = min(d, float64(c.opts.RetryMax))
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", id, attempt)
	jitter := float64(h.Sum64()%1000) / 1000
	return time.Duration(d * (0.8 + 0.4*jitter))
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
