package api

import (
	"context"
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
	action, detail, detailZh := "document.approve", "approved by "+p.Name, "由 "+p.Name+" 审核通过"
	if !approve {
		action, detail, detailZh = "document.reject", "rejected by "+p.Name, "由 "+p.Name+" 驳回"
		if req.Reason != "" {
			detail += ": " + req.Reason
			detailZh += "：" + req.Reason
		}
	}
	change := kb.StatusChange{KBID: k.ID, DocID: d.ID, From: d.Status, To: status, Detail: detail, DetailZh: detailZh}
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

// curateRequest is the body of curate: the reviewed pair as the operator edited it.
type curateRequest struct {
	Question         string   `json:"question"`
	Answer           string   `json:"answer"`
	SimilarQuestions []string `json:"similar_questions"`
	Tags             []string `json:"tags"`
}

// curateDocument is "edit and approve" for a Q&A pair mined from tickets: the edited pair
// becomes a curated answer (POST /faqs, live at once, answered as written), and the mined
// document leaves search as superseded, its detail naming the curated answer. Rewriting
// the mined document's text instead would need the ingestion pipeline's chunker and
// embedder on the request path, and would still leave an unreviewed-looking ticket
// passage; a curated answer is what an operator's edited, vouched-for pair is.
func (s *Server) curateDocument(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	var req curateRequest
	if !bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	d, err := s.deps.Store.GetDocument(ctx, k.ID, c.Param("doc"))
	if err != nil {
		failDocument(c, err)
		return
	}
	if d.Kind != kb.KindTickets {
		fail(c, kb.Conflict(fmt.Sprintf("document %s is a %s document; only Q&A pairs mined from tickets can be edited into curated answers", d.ExternalID, d.Kind), "只有从工单提取的问答可以编辑后通过"))
		return
	}
	switch d.Status {
	case kb.StatusReview, kb.StatusReady, kb.StatusFailed, kb.StatusRejected:
	default:
		fail(c, kb.Conflict(fmt.Sprintf("document %s is %s; only reviewed, ready or rejected pairs can be edited and approved", d.ExternalID, d.Status), "该问答当前状态无法编辑通过"))
		return
	}
	p, _ := principal(c)
	// Claim the pair first, conditioned on the status read: of two operators curating it
	// at once one gets a conflict, and no curated answer is made twice. Should the answer
	// then be refused (a bad field), the pair goes back to where it was.
	claim := kb.StatusChange{KBID: k.ID, DocID: d.ID, From: d.Status, To: kb.StatusSuperseded,
		Detail:   fmt.Sprintf("edited and approved by %s as a curated Q&A", p.Name),
		DetailZh: fmt.Sprintf("由 %s 编辑后通过，成为精选问答", p.Name)}
	if err := s.deps.Store.ChangeDocumentStatus(ctx, claim); err != nil {
		fail(c, err)
		return
	}
	f, err := s.deps.Curation.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: req.Question, Answer: req.Answer,
		SimilarQuestions: req.SimilarQuestions, Tags: req.Tags, Source: kb.FAQSourceAPI, CreatedBy: p.Name})
	if err != nil {
		back := kb.StatusChange{KBID: k.ID, DocID: d.ID, From: kb.StatusSuperseded, To: d.Status, Detail: d.StatusDetail, DetailZh: d.StatusDetailZh}
		if rerr := s.deps.Store.ChangeDocumentStatus(context.WithoutCancel(ctx), back); rerr != nil {
			s.log.Error("putting a pair back after a refused curated answer failed", "document_id", d.ID, "error", rerr)
		}
		fail(c, err)
		return
	}
	named := kb.StatusChange{KBID: k.ID, DocID: d.ID, From: kb.StatusSuperseded, To: kb.StatusSuperseded,
		Detail:   fmt.Sprintf("edited and approved by %s as curated Q&A #%d", p.Name, f.ID),
		DetailZh: fmt.Sprintf("由 %s 编辑后通过，成为精选问答 #%d", p.Name, f.ID)}
	if err := s.deps.Store.ChangeDocumentStatus(ctx, named); err != nil {
		s.log.Error("naming the curated answer on its pair failed", "document_id", d.ID, "error", err)
	}
	s.audit(c, "document.curate", d.ExternalID, map[string]any{"kb": k.Name, "id": d.ID, "from": d.Status, "faq": f.ID})
	s.audit(c, "faq.create", faqTarget(f.ID), map[string]any{"kb": k.Name, "question": f.Question, "from_document": d.ExternalID})
	d, err = s.deps.Store.GetDocument(ctx, k.ID, fmt.Sprint(d.ID))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"document": d, "faq": f})
}
