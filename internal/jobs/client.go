package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/zhiku/zhiku/internal/kb"
)

// River queues: uploads on one, knowledge-base maintenance and periodic chores on another,
// so a long re-index never holds up an upload.
const (
	queueIngest      = "ingest"
	queueMaintenance = "maintenance"
)

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// Processor runs upload jobs. A client without one only enqueues: it is the
	// `zhiku serve --no-worker` side, and the other work fields are ignored.
	Processor Processor
	// Reindex re-tokenizes a knowledge base's chunks with its current dictionary.
	Reindex TaskFunc
	// Reembed moves a knowledge base's chunks to the target embedding model. Nil fails
	// re-embedding jobs.
	Reembed func(ctx context.Context, k kb.KnowledgeBase, target EmbeddingTarget, progress func(done, total int)) error
	// ReindexDocument re-tokenizes and re-embeds one document's chunks, swapping them in
	// at once. Nil fails such jobs.
	ReindexDocument DocumentTaskFunc
	// Periodic chores (log retention), run once per interval across every worker process.
	Periodic []Periodic

	Workers int // upload jobs run at once by this process. Defaults to 2 (ZHIKU_INGEST_WORKERS).
	// Heartbeat is how often a running upload saves its progress and checks for a cancel.
	// Defaults to 1s.
	Heartbeat time.Duration
	RetryBase time.Duration // backoff before an upload's first retry, doubled each time. Defaults to 5s.
	RetryMax  time.Duration // backoff cap. Defaults to 5m.
	// Timeout stops an upload or periodic job that runs longer (its attempt fails and is
	// retried). River has no heartbeat: it also bounds how long the job of a killed process
	// stays running before River runs it again. Defaults to 30 minutes.
	Timeout time.Duration
	// TaskTimeout is Timeout for re-index and re-embedding runs, which may take hours on a
	// large knowledge base. Defaults to 6 hours.
	TaskTimeout time.Duration
	// RescueAfter is the least time a job of a dead process stays running before River runs
	// it again; a job is never rescued before its timeout either. Defaults to Timeout + 1
	// minute (a live job's own timeout ends it first).
	RescueAfter time.Duration
	// Poll is how often idle workers look for jobs besides River's notifications; also how
	// soon a leader is elected. Defaults to 1s.
	Poll time.Duration
	// IsTransient tells failures worth retrying (rate limits, provider 5xx, timeouts) from
	// the rest; cmd/zhiku wires llm.IsTransient. Nil retries nothing.
	IsTransient func(error) bool
	Log         *slog.Logger // defaults to slog.Default()
}

// TaskFunc does one maintenance run over knowledge base k, calling progress as it goes.
type TaskFunc func(ctx context.Context, k kb.KnowledgeBase, progress func(done, total int)) error

// Periodic is a chore River runs every Every on one worker process (the elected leader
// enqueues it), once at start too.
type Periodic struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// Client enqueues jobs on River and, when it has a Processor, works them. It also serves
// the API's job routes from the job table (Queue).
type Client struct {
	q     Queue
	river *river.Client[pgx.Tx]
	opts  Options
	log   *slog.Logger
	locks *pgxpool.Pool
}

// New builds a client on pool. Run starts the workers of a working client.
func New(pool *pgxpool.Pool, q Queue, opts Options) (*Client, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 5 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.TaskTimeout <= 0 {
		opts.TaskTimeout = 6 * time.Hour
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = opts.Timeout + time.Minute
	}
	opts.RescueAfter = max(opts.RescueAfter, opts.Timeout)
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.IsTransient == nil {
		opts.IsTransient = func(error) bool { return false }
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Reembed == nil {
		opts.Reembed = func(context.Context, kb.KnowledgeBase, EmbeddingTarget, func(int, int)) error {
			return kb.Plain("this worker cannot re-embed", "此工作进程不能重新向量化")
		}
	}
	if opts.ReindexDocument == nil {
		opts.ReindexDocument = func(context.Context, kb.KnowledgeBase, int64, func(int, int)) error {
			return kb.Plain("this worker cannot re-index documents", "此工作进程不能重建单个文档的索引")
		}
	}
	c := &Client{q: q, opts: opts, log: opts.Log.With("component", "jobs"), locks: pool}
	cfg := &river.Config{
		Logger:            slog.New(minLevel{opts.Log.Handler(), slog.LevelWarn}).With("component", "river"),
		FetchPollInterval: opts.Poll,
		FetchCooldown:     min(opts.Poll, river.FetchCooldownDefault),
	}
	if opts.Processor != nil {
		if opts.Reindex == nil {
			return nil, errors.New("jobs: a working client needs Reindex")
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, &ingestWorker{c: c})
		river.AddWorker(workers, &reindexWorker{c: c})
		river.AddWorker(workers, &reembedWorker{c: c})
		river.AddWorker(workers, &reindexDocumentWorker{c: c})
		river.AddWorker(workers, &periodicWorker{c: c})
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{
			queueIngest:      {MaxWorkers: opts.Workers},
			queueMaintenance: {MaxWorkers: 2},
		}
		cfg.JobTimeout = opts.Timeout
		cfg.RescueStuckJobsAfter = opts.RescueAfter
		// Finished jobs' records live in ingest_jobs and kb_maintenance; River's rows are
		// only its bookkeeping, kept a day for inspection.
		cfg.CompletedJobRetentionPeriod = 24 * time.Hour
		for _, p := range opts.Periodic {
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(p.Every),
				func() (river.JobArgs, *river.InsertOpts) {
					return PeriodicArgs{Name: p.Name}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: p.Every}}
				}, &river.PeriodicJobOpts{ID: p.Name, RunOnStart: true}))
		}
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	c.river = rc
	return c, nil
}

// Run works jobs until ctx ends, then stops: jobs in flight are cancelled and River hands
// them to the next worker (another process, or this one after a restart) without counting
// the attempt. A client without a Processor returns at once.
func (c *Client) Run(ctx context.Context) error {
	if c.opts.Processor == nil {
		return nil
	}
	if err := c.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start river: %w", err)
	}
	if n, err := c.q.ScheduleOrphans(ctx, c.scheduleIngest); err != nil {
		c.log.Error("scheduling jobs queued before River", "error", err)
	} else if n > 0 {
		c.log.Info("scheduled jobs queued before River", "jobs", n)
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.river.StopAndCancel(stop); err != nil {
		return fmt.Errorf("jobs: stop river: %w", err)
	}
	return nil
}

// EnqueueJob stores an upload's job and file and hands it to River, in one transaction.
func (c *Client) EnqueueJob(ctx context.Context, n NewJob) (Job, error) {
	return c.q.EnqueueJob(ctx, n, c.scheduleIngest)
}

// GetJob returns a job of the tenant, or kb.ErrNotFound.
func (c *Client) GetJob(ctx context.Context, tenantID, id int64) (Job, error) {
	return c.q.GetJob(ctx, tenantID, id)
}

// ListJobs returns the tenant's recent jobs, newest first; kbID 0 means every knowledge base.
func (c *Client) ListJobs(ctx context.Context, tenantID, kbID int64, limit int) ([]Job, error) {
	return c.q.ListJobs(ctx, tenantID, kbID, limit)
}

// CancelJob cancels a queued job at once and asks a running one to stop; its worker
// notices at its next progress save (Options.Heartbeat).
func (c *Client) CancelJob(ctx context.Context, tenantID, id int64) (Job, error) {
	return c.q.CancelJob(ctx, tenantID, id)
}

// scheduleIngest is the Schedule of uploads. River may run the job once more than the
// job's own limit: that run records why it gave up (the previous one died with its
// process) instead of River discarding the job silently.
func (c *Client) scheduleIngest(ctx context.Context, tx pgx.Tx, id int64, maxAttempts int) (int64, error) {
	res, err := c.river.InsertTx(ctx, tx, IngestArgs{JobID: id}, &river.InsertOpts{MaxAttempts: maxAttempts + 1})
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// uniqueWaiting makes a job unique among those not finished (River requires the running
// state in the set): asking again while one is waiting adds nothing.
var uniqueWaiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// minLevel drops records below level: River logs its routine (producer counts, starts and
// stops) at info, which would drown the jobs' own lines.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
