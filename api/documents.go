package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

func (s *Server) listDocuments(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "50"))
	offset, _ := strconv.Atoi(c.DefaultQuery("offset", "0"))
	docs, total, err := s.deps.Store.ListDocuments(c.Request.Context(), k.ID, c.Query("kind"), c.Query("status"), limit, max(offset, 0))
	if err != nil {
		fail(c, err)
		return
	}
	if docs == nil {
		docs = []kb.Document{}
	}
	c.JSON(http.StatusOK, gin.H{"documents": docs, "total": total})
}

func (s *Server) getDocument(c *gin.Context) {
	_, d, ok := s.document(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) deleteDocument(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	d, err := s.deps.Store.DeleteDocument(c.Request.Context(), k.ID, c.Param("doc"))
	if err != nil {
		failDocument(c, err)
		return
	}
	s.audit(c, "document.delete", d.ExternalID, map[string]any{"kb": k.Name, "id": d.ID})
	c.Status(http.StatusNoContent)
}

// failDocument answers an error about the :doc path parameter, naming it when not found.
// document resolves the {kb} and {doc} of the path to the caller's knowledge base and that
// document's current version, answering 404 (or the knowledge base's error) when either is
// not there.
func (s *Server) document(c *gin.Context) (kb.KnowledgeBase, kb.Document, bool) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return k, kb.Document{}, false
	}
	d, err := s.deps.Store.GetDocument(c.Request.Context(), k.ID, c.Param("doc"))
	if err != nil {
		failDocument(c, err)
		return k, d, false
	}
	return k, d, true
}

func failDocument(c *gin.Context, err error) {
	if errors.Is(err, kb.ErrNotFound) {
		err = notFound("document", c.Param("doc"))
	}
	fail(c, err)
}
