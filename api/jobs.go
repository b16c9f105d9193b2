package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
)

// JobStore queues uploads and reports ingestion jobs; *store.Store implements it. Every
// method is tenant-scoped: another tenant's job is kb.ErrNotFound.
type JobStore interface {
	// EnqueueJob stores the job with its file bytes; workers pick it up from the database.
	EnqueueJob(ctx context.Context, n jobs.NewJob) (jobs.Job, error)
	GetJob(ctx context.Context, tenantID, id int64) (jobs.Job, error)
	// ListJobs returns recent jobs, newest first; kbID 0 means all knowledge bases.
	ListJobs(ctx context.Context, tenantID, kbID int64, limit int) ([]jobs.Job, error)
	// CancelJob cancels a queued job, or asks a running one to stop; a finished job is a
	// kb.ErrConflict.
	CancelJob(ctx context.Context, tenantID, id int64) (jobs.Job, error)
}

// jobView is a job as the API shows it: lists are never null.
func jobView(j jobs.Job) jobs.Job {
	if j.AttemptErrors == nil {
		j.AttemptErrors = []string{}
	}
	if j.Result != nil && j.Result.Warnings == nil {
		r := *j.Result
		r.Warnings = []kb.Text{}
		j.Result = &r
	}
	return j
}

// job loads the :id path parameter in the caller's tenant; a job of a knowledge base the
// key is not bound to is not found either.
func (s *Server) job(c *gin.Context) (jobs.Job, bool) {
	p, _ := principal(c)
	ref := c.Param("id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		fail(c, notFound("job", ref))
		return jobs.Job{}, false
	}
	j, err := s.deps.Jobs.GetJob(c.Request.Context(), p.TenantID, id)
	if err == nil && !p.CanAccessKB(j.KBID) {
		err = kb.ErrNotFound
	}
	if errors.Is(err, kb.ErrNotFound) {
		fail(c, notFound("job", ref))
		return j, false
	}
	if err != nil {
		fail(c, err)
		return j, false
	}
	return j, true
}

// getJob answers GET /v1/jobs/{id}: {"job": {...}}.
func (s *Server) getJob(c *gin.Context) {
	j, ok := s.job(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"job": jobView(j)})
}

// listJobs answers GET /v1/jobs[?kb=NAME][&limit=N]: {"jobs": [...]}, newest first.
func (s *Server) listJobs(c *gin.Context) {
	p, _ := principal(c)
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fail(c, invalid("limit must be an integer from 1 to 500", "limit 必须是 1 到 500 之间的整数"))
			return
		}
		limit = n
	}
	var kbID int64
	if ref := c.Query("kb"); ref != "" {
		k, err := s.deps.Store.GetKB(c.Request.Context(), p.TenantID, ref)
		if err == nil && !p.CanAccessKB(k.ID) {
			err = kb.ErrNotFound
		}
		if errors.Is(err, kb.ErrNotFound) {
			fail(c, notFound("knowledge base", ref))
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		kbID = k.ID
	}
	list, err := s.deps.Jobs.ListJobs(c.Request.Context(), p.TenantID, kbID, limit)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]jobs.Job, 0, len(list))
	for _, j := range list {
		if p.CanAccessKB(j.KBID) {
			out = append(out, jobView(j))
		}
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out})
}

// cancelJob answers POST /v1/jobs/{id}/cancel: a queued job is cancelled at once, a
// running one stops within a few seconds (the job shows cancel_requested until then); a
// finished job is a 409.
func (s *Server) cancelJob(c *gin.Context) {
	j, ok := s.job(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	j, err := s.deps.Jobs.CancelJob(c.Request.Context(), p.TenantID, j.ID)
	if errors.Is(err, kb.ErrConflict) {
		fail(c, newError(http.StatusConflict, "conflict", "the job has already finished", "任务已结束"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "job.cancel", strconv.FormatInt(j.ID, 10), map[string]any{"kb_id": j.KBID})
	c.JSON(http.StatusOK, gin.H{"job": jobView(j)})
}
