package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// FAQStore keeps a knowledge base's curated questions. Every method is scoped to the
// knowledge base it is given: a FAQ of another one is kb.ErrNotFound. Create and Update
// validate with kb.NormalizeFAQ (kb.ErrInvalid naming the field).
type FAQStore interface {
	CreateFAQ(ctx context.Context, f kb.FAQ) (kb.FAQ, error)
	GetFAQ(ctx context.Context, kbID, id int64) (kb.FAQ, error)
	// ListFAQs returns a page, newest first, and the count of FAQs matching query (a
	// case-insensitive substring of the question, answer or a similar question; "" for all).
	ListFAQs(ctx context.Context, kbID int64, query string, limit, offset int) ([]kb.FAQ, int, error)
	UpdateFAQ(ctx context.Context, kbID, id int64, f kb.FAQ) (kb.FAQ, error)
	DeleteFAQ(ctx context.Context, kbID, id int64) error
}

// CurationStore is what the FAQ and feedback routes need; *store.Store implements it.
type CurationStore interface {
	FAQStore
	FeedbackStore
}

// curationRoutes adds the curated Q&A and feedback routes when Deps.Curation is set.
func (s *Server) curationRoutes(v1 *gin.RouterGroup) {
	if s.deps.Curation == nil {
		return
	}
	v1.POST("/knowledge-bases/:kb/faqs", s.require(kb.PermCurate), s.createFAQ)
	v1.GET("/knowledge-bases/:kb/faqs", s.require(kb.PermReadKB), s.listFAQs)
	v1.GET("/knowledge-bases/:kb/faqs/:id", s.require(kb.PermReadKB), s.getFAQ)
	v1.PUT("/knowledge-bases/:kb/faqs/:id", s.require(kb.PermCurate), s.updateFAQ)
	v1.DELETE("/knowledge-bases/:kb/faqs/:id", s.require(kb.PermCurate), s.deleteFAQ)
	v1.POST("/knowledge-bases/:kb/documents/:doc/curate", s.require(kb.PermCurate), s.curateDocument)
	v1.POST("/feedback", s.require(kb.PermSearch), s.addFeedback)
}

// faqRequest is the body of a create and of an update, which replaces every field.
type faqRequest struct {
	Question         string     `json:"question"`
	Answer           string     `json:"answer"`
	SimilarQuestions []string   `json:"similar_questions"`
	Tags             []string   `json:"tags"`
	ValidFrom        *time.Time `json:"valid_from"`
	ValidUntil       *time.Time `json:"valid_until"`
}

func (r faqRequest) faq(kbID int64) kb.FAQ {
	return kb.FAQ{KBID: kbID, Question: r.Question, Answer: r.Answer, SimilarQuestions: r.SimilarQuestions,
		Tags: r.Tags, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil}
}

func (s *Server) createFAQ(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	var req faqRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	f := req.faq(k.ID)
	f.Source, f.CreatedBy = kb.FAQSourceAPI, p.Name
	created, err := s.deps.Curation.CreateFAQ(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "faq.create", faqTarget(created.ID), map[string]any{"kb": k.Name, "question": created.Question})
	c.JSON(http.StatusCreated, created)
}

func (s *Server) listFAQs(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "50"))
	offset, _ := strconv.Atoi(c.DefaultQuery("offset", "0"))
	faqs, total, err := s.deps.Curation.ListFAQs(c.Request.Context(), k.ID, c.Query("q"), limit, max(offset, 0))
	if err != nil {
		fail(c, err)
		return
	}
	if faqs == nil {
		faqs = []kb.FAQ{}
	}
	c.JSON(http.StatusOK, gin.H{"faqs": faqs, "total": total})
}

func (s *Server) getFAQ(c *gin.Context) {
	k, id, ok := s.faqRef(c)
	if !ok {
		return
	}
	f, err := s.deps.Curation.GetFAQ(c.Request.Context(), k.ID, id)
	if err != nil {
		failFAQ(c, err)
		return
	}
	c.JSON(http.StatusOK, f)
}

func (s *Server) updateFAQ(c *gin.Context) {
	k, id, ok := s.faqRef(c)
	if !ok {
		return
	}
	var req faqRequest
	if !bindJSON(c, &req) {
		return
	}
	updated, err := s.deps.Curation.UpdateFAQ(c.Request.Context(), k.ID, id, req.faq(k.ID))
	if err != nil {
		failFAQ(c, err)
		return
	}
	s.audit(c, "faq.update", faqTarget(id), map[string]any{"kb": k.Name, "question": updated.Question})
	c.JSON(http.StatusOK, updated)
}

func (s *Server) deleteFAQ(c *gin.Context) {
	k, id, ok := s.faqRef(c)
	if !ok {
		return
	}
	if err := s.deps.Curation.DeleteFAQ(c.Request.Context(), k.ID, id); err != nil {
		failFAQ(c, err)
		return
	}
	s.audit(c, "faq.delete", faqTarget(id), map[string]any{"kb": k.Name})
	c.Status(http.StatusNoContent)
}

// faqRef loads the :kb path parameter and reads :id; an id that is not a number names no
// FAQ (404).
func (s *Server) faqRef(c *gin.Context) (kb.KnowledgeBase, int64, bool) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return k, 0, false
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		failFAQ(c, kb.ErrNotFound)
		return k, 0, false
	}
	return k, id, true
}

// failFAQ answers an error about the :id path parameter, naming it when not found.
func failFAQ(c *gin.Context, err error) {
	if errors.Is(err, kb.ErrNotFound) {
		id := c.Param("id")
		err = notFound("FAQ", id)
	}
	fail(c, err)
}

func faqTarget(id int64) string { return "faq:" + strconv.FormatInt(id, 10) }
