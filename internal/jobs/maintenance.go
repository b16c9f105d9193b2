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
	return c.TaskStatus(ctx, kbID, TaskReindex)
}

type reindexWorker struct {
	river.WorkerDefaults[ReindexArgs]
	c *Client
}

// Timeout implements river.Worker: re-indexing a large knowledge base takes long.
func (w *reindexWorker) Timeout(*river.Job[ReindexArgs]) time.Duration { return w.c.opts.TaskTimeout }

// Work re-tokenizes the knowledge base, unless its dictionary changed again since the request
// (that change's run does it).
func (w *reindexWorker) Work(ctx context.Context, rj *river.Job[ReindexArgs]) error {
	a := rj.Args
	return w.c.runKBTask(ctx, rj.ID, TaskReindex, a.TenantID, a.KBID,
		func(k kb.KnowledgeBase) bool { return dictionaryDigest(k) == a.Dictionary }, w.c.opts.Reindex)
}

// TaskReembed names the re-embedding run in kb_maintenance.
const TaskReembed = "reembed"

// EmbeddingTarget is the model a knowledge base is re-embedded with.
type EmbeddingTarget struct {
	Embedder string `json:"embedder"`
	Model    string `json:"model"`
	Dim      int    `json:"dim"`
}

// ReembedArgs is River's job to move a knowledge base's chunks to another embedding model.
type ReembedArgs struct {
	TenantID int64           `json:"tenant_id"`
	KBID     int64           `json:"kb_id"`
	Target   EmbeddingTarget `json:"target"`
}

// Kind implements river.JobArgs.
func (ReembedArgs) Kind() string { return "zhiku_reembed" }

// InsertOpts implements river.JobArgsWithInsertOpts. A retry continues where the failed
// attempt stopped (the vectors written so far are kept), so attempts are generous.
func (ReembedArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueMaintenance, MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWaiting}}
}

// Reembed asks a worker to re-embed k with target and returns River's job id (that of the
// run already waiting for the same target, when there is one).
func (c *Client) Reembed(ctx context.Context, k kb.KnowledgeBase, target EmbeddingTarget) (int64, error) {
	res, err := c.river.Insert(ctx, ReembedArgs{TenantID: k.TenantID, KBID: k.ID, Target: target}, nil)
	if err != nil {
		return 0, fmt.Errorf("jobs: queue re-embedding of knowledge base %d: %w", k.ID, err)
	}
	if !res.UniqueSkippedAsDuplicate {
		if err := c.q.SetTaskStatus(ctx, k.ID, TaskReembed, TaskStatus{State: TaskQueued}); err != nil {
			return res.Job.ID, err
		}
	}
	return res.Job.ID, nil
}

// TaskStatus returns knowledge base kbID's latest run of task, if one was asked for.
func (c *Client) TaskStatus(ctx context.Context, kbID int64, task string) (TaskStatus, bool, error) {
	s, err := c.q.TaskStatus(ctx, kbID, task)
	if errors.Is(err, kb.ErrNotFound) {
		return s, false, nil
	}
	return s, err == nil, err
}

type reembedWorker struct {
	river.WorkerDefaults[ReembedArgs]
	c *Client
}

// Timeout implements river.Worker: re-embedding with a remote model takes long; a run
// stopped by it resumes where it was.
func (w *reembedWorker) Timeout(*river.Job[ReembedArgs]) time.Duration { return w.c.opts.TaskTimeout }

// Work re-embeds the knowledge base with the job's target.
func (w *reembedWorker) Work(ctx context.Context, rj *river.Job[ReembedArgs]) error {
	a := rj.Args
	return w.c.runKBTask(ctx, rj.ID, TaskReembed, a.TenantID, a.KBID, func(kb.KnowledgeBase) bool { return true },
		func(ctx context.Context, k kb.KnowledgeBase, progress func(done, total int)) error {
			return w.c.opts.Reembed(ctx, k, a.Target, progress)
		})
}

// Permanent marks a task's error as one a retry cannot fix (say, a worker configured
// without the target model's embedder): the run fails at once.
func Permanent(err error) error { return river.JobCancel(err) }

// Advisory lock classes: one run of a task per knowledge base at a time, across processes.
var lockClass = map[string]int32{TaskReindex: 0x7265696e, TaskReembed: 0x7265656d, TaskReindexDocument: 0x72656964} // "rein", "reem", "reid"

// runKBTask runs one maintenance task over a knowledge base while holding the task's
// advisory lock for it, recording its progress in kb_maintenance. A run that finds the lock
// taken waits its turn (snoozed, no attempt counted); one whose wanted returns false for
// the knowledge base as it is now ends without work.
func (c *Client) runKBTask(ctx context.Context, riverID int64, task string, tenantID, kbID int64,
	wanted func(kb.KnowledgeBase) bool, run TaskFunc) error {
	return c.runTask(ctx, riverID, task, tenantID, kbID, 0, wanted, run)
}

// runTask is runKBTask over one document of the knowledge base when docID is not 0: the
// lock and the kb_maintenance row are the document's.
func (c *Client) runTask(ctx context.Context, riverID int64, task string, tenantID, kbID, docID int64,
	wanted func(kb.KnowledgeBase) bool, run TaskFunc) error {
	lockKey := int32(kbID)
	if docID != 0 {
		lockKey = int32(docID)
	}
	conn, err := c.locks.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	// Ids past 2^31 share a lock with a smaller one: such runs wait for each other, no more.
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockClass[task], lockKey).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return river.JobSnooze(time.Second)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass[task], lockKey)
	}()

	k, err := c.q.GetKB(ctx, tenantID, strconv.FormatInt(kbID, 10))
	if errors.Is(err, kb.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("knowledge base %d no longer exists", kbID))
	}
	if err != nil {
		return err
	}
	if !wanted(k) {
		return nil
	}
	log := c.log.With("task", task, "kb_id", k.ID, "kb", k.Name, "river_job_id", riverID)
	if docID != 0 {
		log = log.With("doc_id", docID)
	}
	bg := context.WithoutCancel(ctx)
	status := TaskStatus{State: TaskRunning, StartedAt: time.Now()}
	save := func() {
		var err error
		if docID != 0 {
			err = c.q.SetDocumentTaskStatus(bg, k.ID, docID, task, status)
		} else {
			err = c.q.SetTaskStatus(bg, k.ID, task, status)
		}
		if err != nil {
			log.Warn("save task status", "error", err)
		}
	}
	save()
	log.Info("task started")
	err = run(ctx, k, func(done, total int) {
		status.Done, status.Total = done, total
		save()
	})
	status.FinishedAt = time.Now()
	switch {
	case err == nil:
		status.State = TaskDone
		log.Info("task finished", "chunks", status.Done, "duration_ms", status.FinishedAt.Sub(status.StartedAt).Milliseconds())
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = TaskStatus{State: TaskQueued}
		save()
		return ctx.Err() // shutting down: River runs it again without counting the attempt
	default:
		status.State, status.Error = TaskFailed, err.Error()
		log.Error("task failed", "done", status.Done, "error", err)
	}
	save()
	return err
}

// TaskReindexDocument names the re-index of one document in kb_maintenance.
const TaskReindexDocument = "reindex_document"

// DocumentTaskFunc does one maintenance run over document docID of knowledge base k.
type DocumentTaskFunc func(ctx context.Context, k kb.KnowledgeBase, docID int64, progress func(done, total int)) error

// ReindexDocumentArgs is River's job to re-tokenize and re-embed one document's chunks
// with its knowledge base's current dictionary and model.
type ReindexDocumentArgs struct {
	TenantID int64 `json:"tenant_id"`
	KBID     int64 `json:"kb_id"`
	DocID    int64 `json:"doc_id"`
}

// Kind implements river.JobArgs.
func (ReindexDocumentArgs) Kind() string { return "zhiku_reindex_document" }

// InsertOpts implements river.JobArgsWithInsertOpts: asking again while a run for the
// document waits or runs adds nothing.
func (ReindexDocumentArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueMaintenance, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWaiting}}
}

// ReindexDocument asks a worker to re-index document docID of k and returns the run's
// status as recorded (queued, or the one already running).
func (c *Client) ReindexDocument(ctx context.Context, k kb.KnowledgeBase, docID int64) (TaskStatus, error) {
	res, err := c.river.Insert(ctx, ReindexDocumentArgs{TenantID: k.TenantID, KBID: k.ID, DocID: docID}, nil)
	if err != nil {
		return TaskStatus{}, fmt.Errorf("jobs: queue re-index of document %d: %w", docID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		if cur, ok, err := c.DocumentReindexStatus(ctx, k.ID, docID); err == nil && ok {
			return cur, nil
		}
	}
	queued := TaskStatus{State: TaskQueued}
	return queued, c.q.SetDocumentTaskStatus(ctx, k.ID, docID, TaskReindexDocument, queued)
}

// DocumentReindexStatus returns document docID's latest re-index, if one was asked for.
func (c *Client) DocumentReindexStatus(ctx context.Context, kbID, docID int64) (TaskStatus, bool, error) {
	s, err := c.q.DocumentTaskStatus(ctx, kbID, docID, TaskReindexDocument)
	if errors.Is(err, kb.ErrNotFound) {
		return s, false, nil
	}
	return s, err == nil, err
}

type reindexDocumentWorker struct {
	river.WorkerDefaults[ReindexDocumentArgs]
	c *Client
}

// Timeout implements river.Worker: one document embeds in seconds or minutes.
func (w *reindexDocumentWorker) Timeout(*river.Job[ReindexDocumentArgs]) time.Duration {
	return w.c.opts.Timeout
}

// Work re-indexes the document.
func (w *reindexDocumentWorker) Work(ctx context.Context, rj *river.Job[ReindexDocumentArgs]) error {
	a := rj.Args
	return w.c.runTask(ctx, rj.ID, TaskReindexDocument, a.TenantID, a.KBID, a.DocID, func(kb.KnowledgeBase) bool { return true },
		func(ctx context.Context, k kb.KnowledgeBase, progress func(done, total int)) error {
			return w.c.opts.ReindexDocument(ctx, k, a.DocID, progress)
		})
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
