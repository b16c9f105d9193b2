package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// pageParams reads limit and offset: limit 1..500 (default 50), offset ≥ 0.
func pageParams(c *gin.Context) (limit, offset int, ok bool) {
	limit, err1 := strconv.Atoi(c.DefaultQuery("limit", "50"))
	offset, err2 := strconv.Atoi(c.DefaultQuery("offset", "0"))
	if err1 != nil || limit < 1 || limit > 500 {
		fail(c, invalid("limit must be a whole number from 1 to 500", "limit 必须是 1 到 500 的整数"))
		return 0, 0, false
	}
	if err2 != nil || offset < 0 {
		fail(c, invalid("offset must be a whole number ≥ 0", "offset 必须是不小于 0 的整数"))
		return 0, 0, false
	}
	return limit, offset, true
}

// listChunks is the chunk preview of a document's current version: its passages in
// reading order with page, heading path and metadata, as search sees them.
func (s *Server) listChunks(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	limit, offset, ok := pageParams(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d, err := s.deps.Store.GetDocument(ctx, k.ID, c.Param("doc"))
	if err != nil {
		failDocument(c, err)
		return
	}
	chunks, total, err := s.deps.Store.ListChunks(ctx, k.ID, d.ID, limit, offset)
	if err != nil {
		fail(c, err)
		return
	}
	if chunks == nil {
		chunks = []kb.Chunk{}
	}
	c.JSON(http.StatusOK, gin.H{"document_id": d.ID, "external_id": d.ExternalID, "version": d.Version, "chunks": chunks, "total": total})
}

// listVersions lists every kept version of a document's external id, newest first.
func (s *Server) listVersions(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d, err := s.deps.Store.GetDocument(ctx, k.ID, c.Param("doc"))
	if err != nil {
		failDocument(c, err)
		return
	}
	vs, err := s.deps.Store.DocumentVersions(ctx, k.ID, d.ExternalID)
	if err != nil {
		fail(c, err)
		return
	}
	if vs == nil {
		vs = []kb.Document{}
	}
	c.JSON(http.StatusOK, gin.H{"external_id": d.ExternalID, "versions": vs})
}

// listProducts is the catalog view: products of the knowledge base's current catalog
// documents, searched by q (SKU, name or any attribute value), by SKU.
func (s *Server) listProducts(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	limit, offset, ok := pageParams(c)
	if !ok {
		return
	}
	ps, total, err := s.deps.Store.ListProducts(c.Request.Context(), k.ID, c.Query("q"), limit, offset)
	if err != nil {
		fail(c, err)
		return
	}
	if ps == nil {
		ps = []kb.Product{}
	}
	c.JSON(http.StatusOK, gin.H{"products": ps, "total": total})
}

// reindexKB starts re-tokenizing a knowledge base's chunks with its current dictionary
// in the background (as a dictionary change does), and answers 202 with the run's state;
// GET /v1/knowledge-bases/{kb} reports its progress under "reindex".
func (s *Server) reindexKB(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	s.deps.Reindexer.Reindex(k)
	s.audit(c, "kb.reindex", k.Name, map[string]any{"id": k.ID})
	st, ok := s.deps.Reindexer.ReindexStatus(k.ID)
	if !ok {
		st = ReindexStatus{State: "queued"}
	}
	c.Header("Location", "/v1/knowledge-bases/"+strconv.FormatInt(k.ID, 10))
	c.JSON(http.StatusAccepted, gin.H{"reindex": st})
}
