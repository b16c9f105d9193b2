package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// FeedbackStore records verdicts on logged answers.
type FeedbackStore interface {
	// GetExchange returns a logged answer of the tenant, or kb.ErrNotFound (also for
	// another tenant's).
	GetExchange(ctx context.Context, tenantID int64, answerID string) (kb.Exchange, error)
	// AddFeedback validates with kb.NormalizeFeedback and returns kb.ErrNotFound when the
	// answer id is unknown in f.TenantID.
	AddFeedback(ctx context.Context, f kb.Feedback) error
}

type feedbackRequest struct {
	AnswerID string `json:"answer_id"`
	Helpful  *bool  `json:"helpful"` // required: a missing verdict is not "unhelpful"
	Comment  string `json:"comment"`
}

func (s *Server) addFeedback(c *gin.Context) {
	var req feedbackRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Helpful == nil {
		fail(c, invalid("helpful is required: true or false", "helpful 不能为空：请填 true 或 false"))
		return
	}
	p, _ := principal(c)
	ctx := c.Request.Context()
	if p.KBIDs != nil && req.AnswerID != "" {
		// A key bound to some knowledge bases gives feedback on their answers only.
		e, err := s.deps.Curation.GetExchange(ctx, p.TenantID, req.AnswerID)
		if err == nil && !p.CanAccessKB(e.KBID) {
			err = kb.ErrNotFound
		}
		if err != nil {
			failAnswer(c, req.AnswerID, err)
			return
		}
	}
	err := s.deps.Curation.AddFeedback(ctx, kb.Feedback{AnswerID: req.AnswerID, TenantID: p.TenantID, Helpful: *req.Helpful, Comment: req.Comment})
	if err != nil {
		failAnswer(c, req.AnswerID, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"ok": true})
}

// failAnswer answers an error about an answer id, naming it when not found.
func failAnswer(c *gin.Context, answerID string, err error) {
	if errors.Is(err, kb.ErrNotFound) {
		err = notFound("answer", answerID)
	}
	fail(c, err)
}
