package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

type createKBRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Language    string `json:"language"`
}

func (s *Server) createKB(c *gin.Context) {
	var req createKBRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	if p.KBIDs != nil {
		// A key bound to some knowledge bases could not see one it created.
		fail(c, kb.ErrForbidden)
		return
	}
	if err := kb.ValidateKBName(req.Name); err != nil {
		fail(c, err)
		return
	}
	if req.Language == "" {
		req.Language = kb.LanguageZh
	}
	if !kb.ValidLanguage(req.Language) {
		fail(c, invalid("language must be zh or en", "language 只能是 zh 或 en"))
		return
	}
	created, err := s.deps.Store.CreateKB(c.Request.Context(), kb.KnowledgeBase{
		TenantID: p.TenantID, Name: req.Name, Description: req.Description, Language: req.Language,
		Embedder: s.deps.Embedding.Embedder, EmbeddingModel: s.deps.Embedding.Model, EmbeddingDim: s.deps.Embedding.Dimension,
	})
	if errors.Is(err, kb.ErrConflict) {
		fail(c, newError(http.StatusConflict, "conflict", "a knowledge base named "+strconv.Quote(req.Name)+" already exists", "同名知识库“"+req.Name+"”已存在"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "kb.create", created.Name, map[string]any{"id": created.ID})
	c.JSON(http.StatusCreated, created)
}

func (s *Server) listKBs(c *gin.Context) {
	p, _ := principal(c)
	list, err := s.deps.Store.ListKBs(c.Request.Context(), p.TenantID, p.KBIDs)
	if err != nil {
		fail(c, err)
		return
	}
	if list == nil {
		list = []kb.KnowledgeBase{}
	}
	c.JSON(http.StatusOK, gin.H{"knowledge_bases": list})
}

// Reindexer re-tokenizes a knowledge base's chunks in the background after its dictionary
// words or synonyms changed (new queries use them at once). Reindex returns at once and is
// idempotent; ReindexStatus reports the latest run, if any.
type Reindexer interface {
	Reindex(k kb.KnowledgeBase)
	ReindexStatus(kbID int64) (ReindexStatus, bool)
}

// ReindexStatus is a background re-index: state is queued, running, done or failed.
type ReindexStatus struct {
	State      string    `json:"state"`
	Done       int       `json:"done"`
	Total      int       `json:"total"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// kbView is a knowledge base with its background re-index, when one ran.
type kbView struct {
	kb.KnowledgeBase
	Reindex *ReindexStatus `json:"reindex,omitempty"`
}

func (s *Server) getKB(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	view := kbView{KnowledgeBase: k}
	if s.deps.Reindexer != nil {
		if st, ok := s.deps.Reindexer.ReindexStatus(k.ID); ok {
			view.Reindex = &st
		}
	}
	c.JSON(http.StatusOK, view)
}

// dictionaryChanged reports whether an update changed the words that tokenization keeps
// whole (custom words and synonym entries), so stored chunks need new tokens.
func dictionaryChanged(before, after kb.KnowledgeBase) bool {
	w1, s1 := before.Dictionary()
	w2, s2 := after.Dictionary()
	return !reflect.DeepEqual(w1, w2) || !reflect.DeepEqual(s1, s2)
}

// indexBuildChanged reports whether an update changed the HNSW build parameters (m,
// ef_construction): the re-index then rebuilds the vector indexes with them.
func indexBuildChanged(before, after kb.KnowledgeBase) bool {
	b, a := before.Retrieval().HNSW, after.Retrieval().HNSW
	return !reflect.DeepEqual(b.M, a.M) || !reflect.DeepEqual(b.EfConstruction, a.EfConstruction)
}

func (s *Server) updateKB(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	var patch kb.KBPatch
	if !bindJSON(c, &patch) {
		return
	}
	if patch.Name != nil {
		if err := kb.ValidateKBName(*patch.Name); err != nil {
			fail(c, err)
			return
		}
	}
	if patch.Language != nil && !kb.ValidLanguage(*patch.Language) {
		fail(c, invalid("language must be zh or en", "language 只能是 zh 或 en"))
		return
	}
	if len(patch.Settings) > 0 {
		var obj map[string]any
		if json.Unmarshal(patch.Settings, &obj) != nil || obj == nil {
			fail(c, invalid("settings must be a JSON object", "settings 必须是 JSON 对象"))
			return
		}
		if err := kb.ValidateRetrievalSettings(patch.Settings); err != nil {
			fail(c, err)
			return
		}
	}
	p, _ := principal(c)
	updated, err := s.deps.Store.UpdateKB(c.Request.Context(), p.TenantID, k.ID, patch)
	if errors.Is(err, kb.ErrConflict) {
		fail(c, newError(http.StatusConflict, "conflict", "a knowledge base with that name already exists", "同名知识库已存在"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "kb.update", updated.Name, map[string]any{"id": k.ID})
	if s.deps.Reindexer != nil && (dictionaryChanged(k, updated) || indexBuildChanged(k, updated)) {
		s.deps.Reindexer.Reindex(updated)
	}
	c.JSON(http.StatusOK, updated)
}

func (s *Server) deleteKB(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	if err := s.deps.Store.DeleteKB(c.Request.Context(), p.TenantID, k.ID); err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "kb.delete", k.Name, map[string]any{"id": k.ID})
	c.Status(http.StatusNoContent)
}
