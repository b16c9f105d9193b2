package api

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// reviewRequest is the optional body of approve and reject.
type reviewRequest struct {
	Reason string `json:"reason"`
}

// approveDocument makes a document held for review (mined ticket pairs) searchable.
func (s *Server) approveDocument(c *gin.Context) { s.reviewDocument(c, true) }

// rejectDocument takes a document out of search and marks it failed, with an optional reason.
func (s *Server) rejectDocument(c *gin.Context) { s.reviewDocument(c, false) }

func (s *Server) reviewDocument(c *gin.Context, approve bool) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	var req reviewRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	ref := c.Param("doc")
	d, err := s.deps.Store.GetDocument(ctx, k.ID, ref)
	if err != nil {
		failDocument(c, err)
		return
	}
	switch d.Status {
	case kb.StatusReview, kb.StatusReady, kb.StatusFailed:
	default:
		fail(c, fmt.Errorf("%w: document %s is %s; only reviewed, ready or rejected documents can be approved or rejected / 文档正在处理中，无法审核", kb.ErrConflict, d.ExternalID, d.Status))
		return
	}
	p, _ := principal(c)
	status, action, detail := kb.StatusReady, "document.approve", "approved by "+p.Name+" / 已审核通过"
	if !approve {
		status, action, detail = kb.StatusFailed, "document.reject", "rejected by "+p.Name+" / 已驳回"
		if req.Reason != "" {
			detail += ": " + req.Reason
		}
	}
	if err := s.deps.Store.SetDocumentStatus(ctx, k.ID, d.ID, status, detail); err != nil {
		fail(c, err)
		return
	}
	s.audit(c, action, d.ExternalID, map[string]any{"kb": k.Name, "id": d.ID, "from": d.Status, "reason": req.Reason})
	d, err = s.deps.Store.GetDocument(ctx, k.ID, fmt.Sprint(d.ID))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}
