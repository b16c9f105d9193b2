package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// DocumentReindexer re-tokenizes and re-embeds one document's chunks in the background
// (a River job), swapping them in at once when all are done. A Reindexer that implements
// it serves POST and GET /v1/knowledge-bases/{kb}/documents/{doc}/reindex.
type DocumentReindexer interface {
	// ReindexDocument queues the run (asking again while one waits or runs adds nothing)
	// and returns its status.
	ReindexDocument(ctx context.Context, k kb.KnowledgeBase, docID int64) (ReindexStatus, error)
	// DocumentReindexStatus reports the document's latest run, if one was asked for.
	DocumentReindexStatus(ctx context.Context, kbID, docID int64) (ReindexStatus, bool, error)
}

// reindexDocument answers POST /v1/knowledge-bases/{kb}/documents/{doc}/reindex: 202 with
// the run's state; GET on the same path follows it.
func (s *Server) reindexDocument(c *gin.Context) {
	k, d, ok := s.document(c)
	if !ok {
		return
	}
	st, err := s.deps.Reindexer.(DocumentReindexer).ReindexDocument(c.Request.Context(), k, d.ID)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "document.reindex", d.ExternalID, map[string]any{"kb": k.Name, "id": d.ID})
	c.Header("Location", "/v1/knowledge-bases/"+strconv.FormatInt(k.ID, 10)+"/documents/"+strconv.FormatInt(d.ID, 10)+"/reindex")
	c.JSON(http.StatusAccepted, gin.H{"document_id": d.ID, "reindex": st})
}

// documentReindexStatus answers GET /v1/knowledge-bases/{kb}/documents/{doc}/reindex:
// {"document_id": ID, "reindex": {state, done, total, error, started_at, finished_at}},
// reindex null when none was asked for.
func (s *Server) documentReindexStatus(c *gin.Context) {
	k, d, ok := s.document(c)
	if !ok {
		return
	}
	st, found, err := s.deps.Reindexer.(DocumentReindexer).DocumentReindexStatus(c.Request.Context(), k.ID, d.ID)
	if err != nil {
		fail(c, err)
		return
	}
	var out *ReindexStatus
	if found {
		out = &st
	}
	c.JSON(http.StatusOK, gin.H{"document_id": d.ID, "reindex": out})
}
