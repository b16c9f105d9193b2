package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/kb"
)

// loopRoutes registers the closed loop's queue, stats and exports, when Deps.Loop is set.
func (s *Server) loopRoutes(v1 *gin.RouterGroup) {
	if s.deps.Loop == nil {
		return
	}
	gaps := s.require(kb.PermGaps)
	v1.GET("/gaps", gaps, s.listGaps)
	v1.GET("/gaps/export", gaps, s.exportGaps)
	v1.POST("/gaps/merge", gaps, s.mergeGaps)
	v1.GET("/gaps/:id", gaps, s.getGap)
	v1.GET("/gaps/:id/draft", gaps, s.draftGap)
	v1.POST("/gaps/:id/assign", gaps, s.assignGap)
	v1.POST("/gaps/:id/resolve", gaps, s.resolveGap)
	v1.POST("/gaps/:id/dismiss", gaps, s.dismissGap)
	v1.POST("/gaps/:id/split", gaps, s.splitGap)
	v1.GET("/stats", gaps, s.stats)
	v1.GET("/conversations/export", gaps, s.exportConversations)
}

// scopeKBs is the knowledge bases a request reaches: the ?knowledge_base= one (name or
// id, in the caller's reach), else every one the key may see (nil: all of the tenant's).
func (s *Server) scopeKBs(c *gin.Context) ([]int64, bool) {
	p, _ := principal(c)
	if ref := strings.TrimSpace(c.Query("knowledge_base")); ref != "" {
		k, err := s.lookupKB(c.Request.Context(), p, ref)
		if err != nil {
			fail(c, err)
			return nil, false
		}
		return []int64{k.ID}, true
	}
	return p.KBIDs, true
}

func queryInt(c *gin.Context, name string, def int) (int, bool) {
	v := c.Query(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fail(c, invalid(name+" must be a non-negative integer", name+" 必须是非负整数"))
		return 0, false
	}
	return n, true
}

func queryTime(c *gin.Context, name string) (time.Time, bool) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	fail(c, invalid(name+" must be a date (2006-01-02) or RFC 3339 time", name+" 须为日期（2006-01-02）或 RFC 3339 时间"))
	return time.Time{}, false
}

// gapFilter reads the list filters: knowledge_base, status, channel, since, sort, limit, offset.
func (s *Server) gapFilter(c *gin.Context) (kb.GapFilter, bool) {
	p, _ := principal(c)
	kbIDs, ok := s.scopeKBs(c)
	if !ok {
		return kb.GapFilter{}, false
	}
	f := kb.GapFilter{TenantID: p.TenantID, KBIDs: kbIDs, Status: c.Query("status"), Channel: c.Query("channel"), Sort: c.Query("sort")}
	if f.Since, ok = queryTime(c, "since"); !ok {
		return f, false
	}
	if f.Limit, ok = queryInt(c, "limit", 50); !ok {
		return f, false
	}
	if f.Offset, ok = queryInt(c, "offset", 0); !ok {
		return f, false
	}
	return f, true
}

// listGaps lists gaps; ?type=review lists instead what else awaits review (ticket Q&A held
// for review, curated answers whose source document changed).
func (s *Server) listGaps(c *gin.Context) {
	if t := c.Query("type"); t == "review" {
		s.listReview(c)
		return
	} else if t != "" && t != "gap" {
		fail(c, invalid("type must be gap or review", "type 只能是 gap 或 review"))
		return
	}
	f, ok := s.gapFilter(c)
	if !ok {
		return
	}
	list, total, err := s.deps.Loop.List(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	if list == nil {
		list = []kb.Gap{}
	}
	c.JSON(http.StatusOK, gin.H{"gaps": list, "total": total, "limit": f.Limit, "offset": f.Offset})
}

func (s *Server) listReview(c *gin.Context) {
	p, _ := principal(c)
	kbIDs, ok := s.scopeKBs(c)
	if !ok {
		return
	}
	limit, ok := queryInt(c, "limit", 100)
	if !ok {
		return
	}
	items, err := s.deps.Loop.Review(c.Request.Context(), p.TenantID, kbIDs, limit)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) exportGaps(c *gin.Context) {
	f, ok := s.gapFilter(c)
	if !ok {
		return
	}
	// Pages of gapExportPage stream out as they are read: an export of any size, in
	// bounded memory. The first page is read before the header goes, so a bad filter is
	// still an ordinary error.
	const gapExportPage = 500
	f.Limit, f.Offset = gapExportPage, 0
	list, _, err := s.deps.Loop.List(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="gaps.csv"`)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Status(http.StatusOK)
	out := closedloop.NewGapsCSV(c.Writer)
	for {
		for _, g := range list {
			out.Write(g)
		}
		if len(list) < gapExportPage {
			break
		}
		f.Offset += gapExportPage
		if list, _, err = s.deps.Loop.List(c.Request.Context(), f); err != nil {
			s.log.Error("reading gaps for the CSV export failed", "request_id", c.GetString(ctxRequestID), "error", err)
			break
		}
	}
	if err := out.Flush(); err != nil {
		s.log.Error("writing gaps CSV failed", "request_id", c.GetString(ctxRequestID), "error", err)
	}
}

func (s *Server) exportConversations(c *gin.Context) {
	p, _ := principal(c)
	kbIDs, ok := s.scopeKBs(c)
	if !ok {
		return
	}
	f := kb.ConversationFilter{TenantID: p.TenantID, KBIDs: kbIDs}
	if f.Since, ok = queryTime(c, "since"); !ok {
		return
	}
	if f.Until, ok = queryTime(c, "until"); !ok {
		return
	}
	c.Header("Content-Disposition", `attachment; filename="conversations.csv"`)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Status(http.StatusOK)
	if err := s.deps.Loop.ExportConversations(c.Request.Context(), c.Writer, f); err != nil {
		s.log.Error("writing conversations CSV failed", "request_id", c.GetString(ctxRequestID), "error", err)
	}
}

// gapID reads the :id path parameter.
func gapID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(c, notFound("gap", c.Param("id")))
		return 0, false
	}
	return id, true
}

func (s *Server) getGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	d, err := s.deps.Loop.Get(c.Request.Context(), p.TenantID, p.KBIDs, id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) draftGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	ctx := c.Request.Context()
	d, err := s.deps.Loop.Get(ctx, p.TenantID, p.KBIDs, id)
	if err != nil {
		fail(c, err)
		return
	}
	k, err := s.lookupKB(ctx, p, strconv.FormatInt(d.KBID, 10))
	if err != nil {
		fail(c, err)
		return
	}
	draft, err := s.deps.Loop.Draft(ctx, k, d.Gap)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, draft)
}

type assignRequest struct {
	Assignee string `json:"assignee"`
}

func (s *Server) assignGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	var req assignRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	g, err := s.deps.Loop.Assign(c.Request.Context(), p.TenantID, p.KBIDs, id, req.Assignee)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "gap.assign", strconv.FormatInt(id, 10), map[string]any{"assignee": req.Assignee})
	c.JSON(http.StatusOK, g)
}

func (s *Server) resolveGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	var req closedloop.Resolution
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	req.By = p.Name
	g, faq, err := s.deps.Loop.Resolve(c.Request.Context(), p.TenantID, p.KBIDs, id, req)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "gap.resolve", strconv.FormatInt(id, 10), map[string]any{"faq_id": faq.ID, "kb_id": g.KBID})
	c.JSON(http.StatusOK, gin.H{"gap": g, "faq": faq})
}

type dismissRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) dismissGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	var req dismissRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	g, err := s.deps.Loop.Dismiss(c.Request.Context(), p.TenantID, p.KBIDs, id, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "gap.dismiss", strconv.FormatInt(id, 10), map[string]any{"reason": req.Reason})
	c.JSON(http.StatusOK, g)
}

type mergeRequest struct {
	IDs []int64 `json:"ids"`
}

func (s *Server) mergeGaps(c *gin.Context) {
	var req mergeRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	g, err := s.deps.Loop.Merge(c.Request.Context(), p.TenantID, p.KBIDs, req.IDs)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "gap.merge", strconv.FormatInt(g.ID, 10), map[string]any{"ids": req.IDs})
	c.JSON(http.StatusOK, g)
}

type splitRequest struct {
	OccurrenceIDs []int64 `json:"occurrence_ids"`
}

func (s *Server) splitGap(c *gin.Context) {
	id, ok := gapID(c)
	if !ok {
		return
	}
	var req splitRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	g, err := s.deps.Loop.Split(c.Request.Context(), p.TenantID, p.KBIDs, id, req.OccurrenceIDs)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "gap.split", strconv.FormatInt(id, 10), map[string]any{"new_gap": g.ID, "occurrence_ids": req.OccurrenceIDs})
	c.JSON(http.StatusCreated, g)
}

// stats: GET /v1/stats?knowledge_base=&days=7&top=10. Besides the figures per knowledge
// base and day, it ranks the window's most asked questions and the ones most often left
// unanswered (top of each; 0 leaves them out), from the answer log when this server reads
// it (Deps.Conversations).
func (s *Server) stats(c *gin.Context) {
	p, _ := principal(c)
	kbIDs, ok := s.scopeKBs(c)
	if !ok {
		return
	}
	days, ok := queryInt(c, "days", 7)
	if !ok {
		return
	}
	top, ok := queryInt(c, "top", 10)
	if !ok {
		return
	}
	if top > 100 {
		fail(c, invalid("top must be 0..100", "top 须在 0 到 100 之间"))
		return
	}
	ctx := c.Request.Context()
	st, err := s.deps.Loop.Stats(ctx, p.TenantID, kbIDs, days)
	if err != nil {
		fail(c, err)
		return
	}
	if st == nil {
		st = []kb.DayStats{}
	}
	if days == 0 {
		days = 7 // Stats' default
	}
	asked, unanswered := []kb.TopQuestion{}, []kb.TopQuestion{}
	if s.deps.Conversations != nil && top > 0 {
		if asked, err = s.deps.Conversations.TopQuestions(ctx, p.TenantID, kbIDs, days, top, false); err == nil {
			unanswered, err = s.deps.Conversations.TopQuestions(ctx, p.TenantID, kbIDs, days, top, true)
		}
		if err != nil {
			fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"days": days, "stats": st, "top_questions": nonNil(asked), "top_unanswered": nonNil(unanswered)})
}

// nonNil makes a nil list an empty one, so JSON says [] rather than null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
