package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/zhiku/zhiku/internal/kb"
)

// TaskReindex names the re-index run in kb_maintenance.
const TaskReindex = "reindex"

// ReindexArgs is River's job to re-tokenize a knowledge base after its dictionary changed.
// Dictionary (a digest of the words and synonyms asked for) makes a request unique while a
// run for the same dictionary waits or runs, and lets a run that comes up after a later
// change step aside for the run of that change.
type ReindexArgs struct {
	TenantID   int64  `json:"tenant_id"`
	KBID       int64  `json:"kb_id"`
	Dictionary string `json:"dictionary"`
}

// Kind implements river.JobArgs.
func (ReindexArgs) Kind() string { return "zhiku_reindex" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ReindexArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueMaintenance, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWaiting}}
}

// dictionaryDigest identifies the dictionary a knowledge base's chunks are tokenized with.
func dictionaryDigest(k kb.KnowledgeBase) string {
	words, synonyms := k.Dictionary()
	b, _ := json.Marshal([]any{words, synonyms})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Reindex asks a worker to re-tokenize k's chunks with its dictionary and returns at once.
// Asking again while a run for the same dictionary waits or runs adds nothing; after a
// change, the newest dictionary's run comes last, so the last change always wins.
func (c *Client) Reindex(ctx context.Context, k kb.KnowledgeBase) error {
	res, err := c.river.Insert(ctx, ReindexArgs{TenantID: k.TenantID, KBID: k.ID, Dictionary: dictionaryDigest(k)}, nil)
	if err != nil {
		return fmt.Errorf("jobs: queue re-index of knowledge base %d: %w", k.ID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return nil
	}
	cur, err := c.q.TaskStatus(ctx, k.ID, TaskReindex)
	if err == nil && cur.State == TaskRunning {
		return nil // the running one's status stays until it ends; this one follows
	}
	return c.q.SetTaskStatus(ctx, k.ID, TaskReindex, TaskStatus{State: TaskQueued})
}

// ReindexStatus returns knowledge base kbID's latest re-index, if one was asked for.
func (c *Client) ReindexStatus(ctx context.Context, kbID int64) (TaskStatus, bool, error) {
	s, err := c.q.TaskStatus(ctx, kbID, TaskReindex)
	if errors.Is(err, kb.ErrNotFound) {
		return s, false, nil
	}
	return s, err == nil, err
}

type reindexWorker struct {
	river.WorkerDefaults[ReindexArgs]
	c *Client
}

// lockKeyReindex is the class of the advisory locks that let one re-index per knowledge base
// run at a time, across processes.
const lockKeyReindex = 0x7265696e // "rein"

// Work re-tokenizes one knowledge base while holding its advisory lock; a run that finds
// another holding it waits its turn (snoozed, no attempt counted).
func (w *reindexWorker) Work(ctx context.Context, rj *river.Job[ReindexArgs]) error {
	a := rj.Args
	conn, err := w.c.locks.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(lockKeyReindex), int32(a.KBID)).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return river.JobSnooze(time.Second)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, int32(lockKeyReindex), int32(a.KBID))
	}()

	k, err := w.c.q.GetKB(ctx, a.TenantID, strconv.FormatInt(a.KBID, 10))
	if errors.Is(err, kb.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("knowledge base %d no longer exists", a.KBID))
	}
	if err != nil {
		return err
	}
	if dictionaryDigest(k) != a.Dictionary {
		return nil // the dictionary changed again; that change's run does the work
	}
	log := w.c.log.With("kb_id", k.ID, "kb", k.Name, "river_job_id", rj.ID)
	bg := context.WithoutCancel(ctx)
	status := TaskStatus{State: TaskRunning, StartedAt: time.Now()}
	save := func() {
		if err := w.c.q.SetTaskStatus(bg, k.ID, TaskReindex, status); err != nil {
			log.Warn("save re-index status", "error", err)
		}
	}
	save()
	log.Info("re-index started")
	err = w.c.opts.Reindex(ctx, k, func(done, total int) {
		status.Done, status.Total = done, total
		save()
	})
	status.FinishedAt = time.Now()
	switch {
	case err == nil:
		status.State = TaskDone
		log.Info("re-index finished", "chunks", status.Done, "duration_ms", status.FinishedAt.Sub(status.StartedAt).Milliseconds())
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = TaskStatus{State: TaskQueued}
		save()
		return ctx.Err() // shutting down: River runs it again without counting the attempt
	default:
		status.State, status.Error = TaskFailed, err.Error()
		log.Error("re-index failed", "done", status.Done, "error", err)
	}
	save()
	return err
}

// PeriodicArgs is River's job for one run of a periodic chore.
type PeriodicArgs struct {
	Name string `json:"name"`
}

// Kind implements river.JobArgs.
func (PeriodicArgs) Kind() string { return "zhiku_periodic" }

// InsertOpts implements river.JobArgsWithInsertOpts: a missed run is not retried, the
// next period's run does the same work.
func (PeriodicArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueMaintenance, MaxAttempts: 1}
}

type periodicWorker struct {
	river.WorkerDefaults[PeriodicArgs]
	c *Client
}

// Work runs the named chore.
func (w *periodicWorker) Work(ctx context.Context, rj *river.Job[PeriodicArgs]) error {
	for _, p := range w.c.opts.Periodic {
		if p.Name == rj.Args.Name {
			if err := p.Run(ctx); err != nil {
				w.c.log.Error("periodic job failed", "name", p.Name, "error", err)
				return err
			}
			return nil
		}
	}
	return river.JobCancel(fmt.Errorf("no periodic job named %q in this build", rj.Args.Name))
}
