package kbmaint

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// Re-index states reported by [Reindexer.Status].
const (
	StateQueued  = "queued"  // waiting for a worker
	StateRunning = "running" // re-tokenizing
	StateDone    = "done"    // every chunk has the dictionary's tokens
	StateFailed  = "failed"  // stopped; Error says why (the next dictionary change retries)
)

// Status is a knowledge base's latest background re-index.
type Status struct {
	State      string    `json:"state"`
	Done       int       `json:"done"`
	Total      int       `json:"total"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// KBStore is what the background re-indexer needs: the chunks, and the knowledge base's
// latest settings (the dictionary may change again while a run waits).
type KBStore interface {
	ReindexStore
	GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error)
}

// ReindexerOptions tune a [Reindexer]. The zero value takes the defaults.
type ReindexerOptions struct {
	Workers int // knowledge bases re-indexed at once. Default 1 (it is CPU-bound segmentation).
	Batch   int // chunks per batch. Default DefaultBatch.
}

// Reindexer re-tokenizes knowledge bases in the background of the server after their
// dictionary changed. At most one run per knowledge base is queued or running: asking
// again during a run makes it run once more afterwards with the newest dictionary, so
// the last change always wins. Safe for concurrent use.
type Reindexer struct {
	st    KBStore
	log   *slog.Logger
	batch int
	slots chan struct{}
	ctx   context.Context
	wg    sync.WaitGroup

	mu   sync.Mutex
	runs map[int64]*reindexRun
}

type reindexRun struct {
	status Status
	again  bool // asked again while running
	active bool // queued or running
}

// NewReindexer returns a re-indexer whose runs stop when ctx ends.
func NewReindexer(ctx context.Context, st KBStore, log *slog.Logger, opts ReindexerOptions) *Reindexer {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if log == nil {
		log = slog.Default()
	}
	return &Reindexer{st: st, log: log.With("component", "reindex"), batch: opts.Batch,
		slots: make(chan struct{}, opts.Workers), ctx: ctx, runs: map[int64]*reindexRun{}}
}

// Reindex starts re-tokenizing knowledge base k in the background (or, when a run is
// already queued or running, makes sure one more follows it) and returns at once.
func (r *Reindexer) Reindex(k kb.KnowledgeBase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run := r.runs[k.ID]
	if run == nil {
		run = &reindexRun{}
		r.runs[k.ID] = run
	}
	if run.active {
		if run.status.State == StateRunning {
			run.again = true
		}
		return
	}
	run.active = true
	run.status = Status{State: StateQueued}
	r.wg.Add(1)
	go r.loop(k, run)
}

// Status returns knowledge base kbID's latest re-index, if one ran since the start.
func (r *Reindexer) Status(kbID int64) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run := r.runs[kbID]
	if run == nil {
		return Status{}, false
	}
	return run.status, true
}

// Wait blocks until no run is queued or running (runs stop early when the context ends).
func (r *Reindexer) Wait() { r.wg.Wait() }

func (r *Reindexer) loop(k kb.KnowledgeBase, run *reindexRun) {
	defer r.wg.Done()
	select {
	case r.slots <- struct{}{}:
	case <-r.ctx.Done():
		r.mu.Lock()
		r.finishLocked(run, 0, 0, r.ctx.Err())
		r.mu.Unlock()
		return
	}
	defer func() { <-r.slots }()
	for {
		r.mu.Lock()
		run.again = false
		run.status = Status{State: StateRunning, StartedAt: time.Now()}
		r.mu.Unlock()
		done, total, err := r.runOnce(k, run)
		r.mu.Lock()
		// Decided under the lock that Reindex takes, so a request cannot slip in between.
		if run.again && err == nil && r.ctx.Err() == nil {
			r.mu.Unlock()
			continue
		}
		r.finishLocked(run, done, total, err)
		r.mu.Unlock()
		return
	}
}

func (r *Reindexer) runOnce(k kb.KnowledgeBase, run *reindexRun) (done, total int, err error) {
	start := time.Now()
	fresh, err := r.st.GetKB(r.ctx, k.TenantID, strconv.FormatInt(k.ID, 10))
	if err != nil {
		return 0, 0, err
	}
	log := r.log.With("kb_id", fresh.ID, "kb", fresh.Name)
	log.Info("re-index started")
	done, err = Reindex(r.ctx, r.st, fresh, r.batch, func(d, t int) {
		r.mu.Lock()
		run.status.Done, run.status.Total = d, t
		r.mu.Unlock()
		done, total = d, t
	})
	if err != nil {
		log.Error("re-index failed", "done", done, "err", err)
		return done, total, err
	}
	log.Info("re-index finished", "chunks", done, "duration_ms", time.Since(start).Milliseconds())
	return done, max(total, done), nil
}

func (r *Reindexer) finishLocked(run *reindexRun, done, total int, err error) {
	run.active = false
	run.status.Done, run.status.Total = done, total
	run.status.FinishedAt = time.Now()
	run.status.State = StateDone
	if err != nil {
		run.status.State = StateFailed
		run.status.Error = err.Error()
	}
}
