package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/kb"
)

// ConversationStore reads the answer log; *store.Store implements it.
type ConversationStore interface {
	// ListConversations returns a page of q's exchanges, newest first, and the count of all.
	ListConversations(ctx context.Context, q kb.ConversationQuery) ([]kb.Exchange, int, error)
	// GetExchange returns a logged answer of the tenant, or kb.ErrNotFound.
	GetExchange(ctx context.Context, tenantID int64, answerID string) (kb.Exchange, error)
	// ExchangePassages gives the logged results their chunks' text.
	ExchangePassages(ctx context.Context, kbID int64, results []kb.ExchangeResult) ([]kb.ConversationPassage, error)
	// TopQuestions ranks the questions of the last days days, per knowledge base: the most
	// asked, or with unanswered the most often left unanswered (GET /v1/stats).
	TopQuestions(ctx context.Context, tenantID int64, kbIDs []int64, days, limit int, unanswered bool) ([]kb.TopQuestion, error)
}

// conversationRoutes registers the answer log's listing, when Deps.Conversations is set.
// They need PermGaps, as the conversation export does: the log holds every customer's
// questions, for the operators who work the closed loop, not for bots (PermReadKB) or
// manufacturers' uploaders.
func (s *Server) conversationRoutes(v1 *gin.RouterGroup) {
	if s.deps.Conversations == nil {
		return
	}
	v1.GET("/conversations", s.require(kb.PermGaps), s.listConversations)
	v1.GET("/conversations/:answer_id", s.require(kb.PermGaps), s.getConversation)
}

// conversation is an exchange as the listing shows it: the customer id masked, as in the
// CSV export (an operator who needs a customer's log has the id and searches by it).
type conversation struct {
	AnswerID       string    `json:"answer_id"`
	KBID           int64     `json:"kb_id"`
	SessionID      string    `json:"session_id"`
	Channel        string    `json:"channel"`
	Customer       string    `json:"customer"`
	Question       string    `json:"question"`
	RewrittenQuery string    `json:"rewritten_query"`
	Language       string    `json:"language"`
	Answer         string    `json:"answer"`
	Source         string    `json:"source"`
	Answered       bool      `json:"answered"`
	Handoff        bool      `json:"handoff"`
	HandoffReason  string    `json:"handoff_reason"`
	Confidence     float64   `json:"confidence"`
	CuratedRef     string    `json:"curated_ref"`
	LatencyMS      float64   `json:"latency_ms"`
	CreatedAt      time.Time `json:"created_at"`
}

func conversationOf(e kb.Exchange) conversation {
	return conversation{AnswerID: e.AnswerID, KBID: e.KBID, SessionID: e.SessionID, Channel: e.Channel,
		Customer: closedloop.MaskCustomerID(e.CustomerID), Question: e.Question, RewrittenQuery: e.RewrittenQuery,
		Language: e.Language, Answer: e.Answer, Source: e.Source, Answered: e.Answered, Handoff: e.Handoff,
		HandoffReason: e.HandoffReason, Confidence: e.Confidence, CuratedRef: e.CuratedRef, LatencyMS: e.LatencyMS,
		CreatedAt: e.CreatedAt}
}

// listConversations: GET /v1/conversations?knowledge_base=&q=&channel=&customer=&session=
// &answered=&since=&until=&limit=&offset=.
func (s *Server) listConversations(c *gin.Context) {
	p, _ := principal(c)
	kbIDs, ok := s.scopeKBs(c)
	if !ok {
		return
	}
	q := kb.ConversationQuery{ConversationFilter: kb.ConversationFilter{TenantID: p.TenantID, KBIDs: kbIDs},
		Text: c.Query("q"), Channel: strings.TrimSpace(c.Query("channel")), Customer: strings.TrimSpace(c.Query("customer")),
		Session: strings.TrimSpace(c.Query("session"))}
	switch c.Query("answered") {
	case "":
	case "true":
		q.Answered = new(true)
	case "false":
		q.Answered = new(false)
	default:
		fail(c, invalid("answered must be true or false", "answered 只能是 true 或 false"))
		return
	}
	if q.Since, ok = queryTime(c, "since"); !ok {
		return
	}
	if q.Until, ok = queryTime(c, "until"); !ok {
		return
	}
	if q.Limit, ok = queryInt(c, "limit", 50); !ok {
		return
	}
	if q.Offset, ok = queryInt(c, "offset", 0); !ok {
		return
	}
	if q.Limit == 0 || q.Limit > 200 {
		fail(c, invalid("limit must be 1..200", "limit 须在 1 到 200 之间"))
		return
	}
	list, total, err := s.deps.Conversations.ListConversations(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]conversation, len(list))
	for i, e := range list {
		out[i] = conversationOf(e)
	}
	c.JSON(http.StatusOK, gin.H{"conversations": out, "total": total, "limit": q.Limit, "offset": q.Offset})
}

// getConversation: one exchange with its retrieved passages. Another tenant's, or one of
// a knowledge base the key is not bound to, is not found.
func (s *Server) getConversation(c *gin.Context) {
	p, _ := principal(c)
	ctx := c.Request.Context()
	id := c.Param("answer_id")
	e, err := s.deps.Conversations.GetExchange(ctx, p.TenantID, id)
	if err == nil && !p.CanAccessKB(e.KBID) {
		err = kb.ErrNotFound
	}
	if errors.Is(err, kb.ErrNotFound) {
		fail(c, notFound("answer", id))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	passages, err := s.deps.Conversations.ExchangePassages(ctx, e.KBID, e.Results)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": conversationOf(e), "passages": passages})
}
