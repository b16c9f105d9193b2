package api

import (
	"errors"
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

// rejectDocument takes a document out of search and marks it rejected, with an optional reason.
func (s *Server) rejectDocument(c *gin.Context) { s.reviewDocument(c, false) }

// reviewDocument applies kb.ReviewTarget, its UPDATE conditioned on the document still being
// in review: of two operators acting at once, the second gets a 409.
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
	status, err := kb.ReviewTarget(d.Status, approve)
	if err != nil {
		fail(c, newError(http.StatusConflict, "conflict",
			fmt.Sprintf("document %s is %s; only a document in review can be approved or rejected", d.ExternalID, d.Status),
			fmt.Sprintf("文档 %s 状态为 %s，只有待审核的文档可以通过或驳回", d.ExternalID, d.Status)))
		return
	}
	p, _ := principal(c)
	action, detail := "document.approve", "approved by "+p.Name+" / 已审核通过"
	if !approve {
		action, detail = "document.reject", "rejected by "+p.Name+" / 已驳回"
		if req.Reason != "" {
			detail += ": " + req.Reason
		}
	}
	change := kb.StatusChange{KBID: k.ID, DocID: d.ID, From: d.Status, To: status, Detail: detail}
	if err := s.deps.Store.ChangeDocumentStatus(ctx, change); err != nil {
		if errors.Is(err, kb.ErrConflict) {
			err = newError(http.StatusConflict, "conflict",
				fmt.Sprintf("document %s changed meanwhile (another operator acted first); reload it", d.ExternalID),
				fmt.Sprintf("文档 %s 已被其他运营人员处理，请刷新后再试", d.ExternalID))
		}
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
