package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
)

// The store is the job queue the workers use.
var _ jobs.Queue = (*Store)(nil)

// jobSelect reads jobs (aliased j, possibly a CTE) with their knowledge base's name.
const jobSelect = `
	SELECT j.id, j.tenant_id, j.kb_id, k.name, j.state, j.spec, j.progress, j.result, j.error, j.error_zh,
	       j.attempt_errors, j.attempt, j.max_attempts, j.cancel_requested, j.created_by,
	       j.created_at, j.run_at, j.started_at, j.finished_at`

func scanJob(row pgx.Row) (jobs.Job, error) {
	var j jobs.Job
	var spec, progress, result []byte
	err := row.Scan(&j.ID, &j.TenantID, &j.KBID, &j.KBName, &j.State, &spec, &progress, &result, &j.Error, &j.ErrorZh,
		&j.AttemptErrors, &j.Attempt, &j.MaxAttempts, &j.CancelRequested, &j.CreatedBy,
		&j.CreatedAt, &j.RunAt, &j.StartedAt, &j.FinishedAt)
	if err != nil {
		return j, err
	}
	if err := json.Unmarshal(spec, &j.Spec); err != nil {
		return j, fmt.Errorf("job %d spec: %w", j.ID, err)
	}
	if err := json.Unmarshal(progress, &j.Progress); err != nil {
		return j, fmt.Errorf("job %d progress: %w", j.ID, err)
	}
	if result != nil {
		j.Result = &jobs.Result{}
		if err := json.Unmarshal(result, j.Result); err != nil {
			return j, fmt.Errorf("job %d result: %w", j.ID, err)
		}
	}
	return j, nil
}

// EnqueueJob stores a job and its file bytes and hands it to River (schedule) in one
// transaction: workers in any process may pick it up from then on. MaxAttempts defaults
// to jobs.DefaultMaxAttempts.
func (s *Store) EnqueueJob(ctx context.Context, n jobs.NewJob, schedule jobs.Schedule) (jobs.Job, error) {
	if n.MaxAttempts <= 0 {
		n.MaxAttempts = jobs.DefaultMaxAttempts
	}
	spec, err := json.Marshal(n.Spec)
	if err != nil {
		return jobs.Job{}, fmt.Errorf("store: enqueue job: %w", err)
	}
	progress, _ := json.Marshal(jobs.Progress{Stage: jobs.StageQueued})
	var out jobs.Job
	err = s.WithTx(ctx, func(tx *Store) error {
		var id int64
		err := tx.db.QueryRow(ctx, `
			INSERT INTO ingest_jobs (tenant_id, kb_id, spec, progress, max_attempts, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			n.TenantID, n.KBID, spec, progress, n.MaxAttempts, n.CreatedBy).Scan(&id)
		if err != nil {
			return fmt.Errorf("store: enqueue job: %w", interpret(err))
		}
		if _, err := tx.db.Exec(ctx, `INSERT INTO ingest_job_files (job_id, data, password) VALUES ($1, $2, $3)`,
			id, n.File.Data, n.File.Password); err != nil {
			return fmt.Errorf("store: enqueue job %d file: %w", id, interpret(err))
		}
		if err := tx.schedule(ctx, id, n.MaxAttempts, schedule); err != nil {
			return err
		}
		out, err = tx.GetJob(ctx, n.TenantID, id)
		return err
	})
	return out, err
}

// schedule hands job id to River within the store's transaction and records River's id.
func (s *Store) schedule(ctx context.Context, id int64, maxAttempts int, schedule jobs.Schedule) error {
	tx, ok := s.db.(pgx.Tx)
	if !ok {
		return fmt.Errorf("store: schedule job %d: not in a transaction", id)
	}
	riverID, err := schedule(ctx, tx, id, maxAttempts)
	if err != nil {
		return fmt.Errorf("store: schedule job %d: %w", id, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE ingest_jobs SET river_job_id = $2 WHERE id = $1`, id, riverID); err != nil {
		return fmt.Errorf("store: schedule job %d: %w", id, err)
	}
	return nil
}

// ScheduleOrphans implements jobs.Queue. Rows other workers are scheduling are skipped.
func (s *Store) ScheduleOrphans(ctx context.Context, schedule jobs.Schedule) (int, error) {
	n := 0
	err := s.WithTx(ctx, func(tx *Store) error {
		rows, err := tx.db.Query(ctx, `
			SELECT id, max_attempts FROM ingest_jobs WHERE state IN ('queued', 'running') AND river_job_id IS NULL
			ORDER BY id FOR UPDATE SKIP LOCKED`)
		if err != nil {
			return fmt.Errorf("store: orphan jobs: %w", err)
		}
		type orphan struct {
			ID          int64
			MaxAttempts int
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orphan])
		if err != nil {
			return fmt.Errorf("store: orphan jobs: %w", err)
		}
		for _, o := range list {
			if err := tx.schedule(ctx, o.ID, o.MaxAttempts, schedule); err != nil {
				return err
			}
		}
		n = len(list)
		return nil
	})
	return n, err
}

// GetJob returns a job of the tenant, or kb.ErrNotFound (also for another tenant's job).
func (s *Store) GetJob(ctx context.Context, tenantID, id int64) (jobs.Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, jobSelect+`
		FROM ingest_jobs j JOIN knowledge_bases k ON k.id = j.kb_id
		WHERE j.id = $1 AND j.tenant_id = $2`, id, tenantID))
	if err != nil {
		return j, fmt.Errorf("store: get job %d: %w", id, interpret(err))
	}
	return j, nil
}

// ListJobs returns the tenant's most recent jobs, newest first; kbID 0 means every
// knowledge base. Limit defaults to 50.
func (s *Store) ListJobs(ctx context.Context, tenantID, kbID int64, limit int) ([]jobs.Job, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.Query(ctx, jobSelect+`
		FROM ingest_jobs j JOIN knowledge_bases k ON k.id = j.kb_id
		WHERE j.tenant_id = $1 AND ($2 = 0 OR j.kb_id = $2)
		ORDER BY j.id DESC LIMIT $3`, tenantID, kbID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	defer rows.Close()
	out := []jobs.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	return out, nil
}

// ErrJobFinished is returned (wrapping kb.ErrConflict) when cancelling a finished job.
var ErrJobFinished = kb.Conflict("job has already finished", "任务已结束")

// CancelJob cancels a queued job at once (its file is deleted; River's job then ends
// without work when it comes up) and asks a running one to stop, which its worker notices
// at its next progress save. A finished job gives
// ErrJobFinished; another tenant's, kb.ErrNotFound.
func (s *Store) CancelJob(ctx context.Context, tenantID, id int64) (jobs.Job, error) {
	var out jobs.Job
	err := s.WithTx(ctx, func(tx *Store) error {
		var state jobs.State
		err := tx.db.QueryRow(ctx, `
			UPDATE ingest_jobs SET cancel_requested = true, updated_at = now(),
				state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
				error = CASE WHEN state = 'queued' THEN $3 ELSE error END,
				error_zh = CASE WHEN state = 'queued' THEN $4 ELSE error_zh END,
				finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,
				progress = CASE WHEN state = 'queued' THEN jsonb_set(progress, '{stage}', '"done"') ELSE progress END
			WHERE id = $1 AND tenant_id = $2 AND state IN ('queued', 'running')
			RETURNING state`, id, tenantID, jobs.CancelledOnRequest.En, jobs.CancelledOnRequest.Zh).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.GetJob(ctx, tenantID, id); err != nil {
				return err
			}
			return fmt.Errorf("store: cancel job %d: %w", id, ErrJobFinished)
		}
		if err != nil {
			return fmt.Errorf("store: cancel job %d: %w", id, interpret(err))
		}
		if state == jobs.StateCancelled {
			if _, err := tx.db.Exec(ctx, `DELETE FROM ingest_job_files WHERE job_id = $1`, id); err != nil {
				return fmt.Errorf("store: cancel job %d: %w", id, err)
			}
		}
		out, err = tx.GetJob(ctx, tenantID, id)
		return err
	})
	return out, err
}

// StartJob implements jobs.Queue.
func (s *Store) StartJob(ctx context.Context, id int64, attempt int) (jobs.Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `
		WITH j AS (
			UPDATE ingest_jobs u SET state = 'running', attempt = $2,
				started_at = coalesce(u.started_at, now()), updated_at = now(),
				progress = jsonb_set(u.progress, '{stage}', '"parsing"')
			WHERE u.id = $1 AND u.state IN ('queued', 'running')
			RETURNING u.*
		)`+jobSelect+` FROM j JOIN knowledge_bases k ON k.id = j.kb_id`, id, attempt))
	if err != nil {
		return j, fmt.Errorf("store: start job %d: %w", id, interpret(err))
	}
	return j, nil
}

// JobFile implements jobs.Queue.
func (s *Store) JobFile(ctx context.Context, id int64) (jobs.File, error) {
	var f jobs.File
	err := s.db.QueryRow(ctx, `SELECT data, password FROM ingest_job_files WHERE job_id = $1`, id).Scan(&f.Data, &f.Password)
	if err != nil {
		return f, fmt.Errorf("store: job %d file: %w", id, interpret(err))
	}
	return f, nil
}

// SaveProgress implements jobs.Queue.
func (s *Store) SaveProgress(ctx context.Context, id int64, p jobs.Progress) (bool, error) {
	progress, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("store: job %d progress: %w", id, err)
	}
	var cancel bool
	err = s.db.QueryRow(ctx, `
		UPDATE ingest_jobs SET progress = $2, updated_at = now()
		WHERE id = $1 AND state = 'running'
		RETURNING cancel_requested`, id, progress).Scan(&cancel)
	if err != nil {
		return false, fmt.Errorf("store: job %d progress: %w", id, interpret(err))
	}
	return cancel, nil
}

// RetryJob implements jobs.Queue.
func (s *Store) RetryJob(ctx context.Context, id int64, runAt time.Time, attemptErr string, r jobs.Result) error {
	return s.releaseJob(ctx, id, `
		UPDATE ingest_jobs SET state = 'queued', run_at = $2,
			attempt_errors = attempt_errors || $3::text, result = $4,
			progress = '{"stage":"queued"}', updated_at = now()
		WHERE id = $1 AND state = 'running'`, runAt, attemptErr, r)
}

// RequeueJob implements jobs.Queue.
func (s *Store) RequeueJob(ctx context.Context, id int64, r jobs.Result) error {
	return s.releaseJob(ctx, id, `
		UPDATE ingest_jobs SET state = 'queued', run_at = now(),
			attempt = greatest(attempt - 1, 0), result = $2,
			progress = '{"stage":"queued"}', updated_at = now()
		WHERE id = $1 AND state = 'running'`, r)
}

// FinishJob implements jobs.Queue: the final state and the file's deletion commit together.
func (s *Store) FinishJob(ctx context.Context, id int64, state jobs.State, msg kb.Text, r jobs.Result) error {
	if !state.Final() {
		return fmt.Errorf("store: finish job %d: %w: state %q is not final", id, kb.ErrInvalid, state)
	}
	return s.WithTx(ctx, func(tx *Store) error {
		if err := tx.releaseJob(ctx, id, `
			UPDATE ingest_jobs SET state = $2, error = $3, error_zh = $4, result = $5,
				finished_at = now(), updated_at = now(), progress = jsonb_set(progress, '{stage}', '"done"')
			WHERE id = $1 AND state = 'running'`, state, msg.En, msg.Zh, r); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `DELETE FROM ingest_job_files WHERE job_id = $1`, id); err != nil {
			return fmt.Errorf("store: finish job %d: delete file: %w", id, err)
		}
		return nil
	})
}

// releaseJob runs an update guarded by "the job is running"; no row updated means it is
// not, reported as kb.ErrNotFound. A jobs.Result argument is sent as JSON.
func (s *Store) releaseJob(ctx context.Context, id int64, sql string, args ...any) error {
	all := []any{id}
	for _, a := range args {
		if r, ok := a.(jobs.Result); ok {
			if r.Warnings == nil {
				r.Warnings = []kb.Text{}
			}
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("store: job %d result: %w", id, err)
			}
			a = b
		}
		all = append(all, a)
	}
	tag, err := s.db.Exec(ctx, sql, all...)
	if err != nil {
		return fmt.Errorf("store: job %d: %w", id, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: job %d is not running: %w", id, kb.ErrNotFound)
	}
	return nil
}

// SetTaskStatus implements jobs.Queue.
func (s *Store) SetTaskStatus(ctx context.Context, kbID int64, task string, t jobs.TaskStatus) error {
	return s.setTaskStatus(ctx, kbID, 0, task, t)
}

// TaskStatus implements jobs.Queue.
func (s *Store) TaskStatus(ctx context.Context, kbID int64, task string) (jobs.TaskStatus, error) {
	return s.taskStatus(ctx, kbID, 0, task)
}

// setTaskStatus writes a maintenance run's row: of the knowledge base (docID 0) or of one
// of its documents.
func (s *Store) setTaskStatus(ctx context.Context, kbID, docID int64, task string, t jobs.TaskStatus) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO kb_maintenance (kb_id, doc_id, task, state, done, total, error, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (kb_id, task, doc_id) DO UPDATE SET state = $4, done = $5, total = $6, error = $7,
			started_at = $8, finished_at = $9, updated_at = now()`,
		kbID, docID, task, t.State, t.Done, t.Total, t.Error, nullTime(t.StartedAt), nullTime(t.FinishedAt))
	if err != nil {
		return fmt.Errorf("store: %s status of knowledge base %d: %w", task, kbID, interpret(err))
	}
	return nil
}

func (s *Store) taskStatus(ctx context.Context, kbID, docID int64, task string) (jobs.TaskStatus, error) {
	var t jobs.TaskStatus
	var started, finished *time.Time
	err := s.db.QueryRow(ctx, `
		SELECT state, done, total, error, started_at, finished_at FROM kb_maintenance
		WHERE kb_id = $1 AND task = $2 AND doc_id = $3`, kbID, task, docID).Scan(&t.State, &t.Done, &t.Total, &t.Error, &started, &finished)
	if err != nil {
		return t, fmt.Errorf("store: %s status of knowledge base %d: %w", task, kbID, interpret(err))
	}
	if started != nil {
		t.StartedAt = *started
	}
	if finished != nil {
		t.FinishedAt = *finished
	}
	return t, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
