package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// KeyStore creates, lists and revokes API keys; *store.Store implements it. Every method
// is tenant-scoped; another tenant's key is kb.ErrNotFound.
type KeyStore interface {
	// CreateAPIKey stores k with hash, the SHA-256 of the key, and returns it as listed.
	CreateAPIKey(ctx context.Context, k kb.APIKey, hash []byte) (kb.APIKey, error)
	ListKeys(ctx context.Context, tenantID int64) ([]kb.APIKey, error)
	RevokeKey(ctx context.Context, tenantID, id int64) error
}

// keyRoutes: admins create, list and revoke their tenant's API keys, as `zhiku key` does.
func (s *Server) keyRoutes(v1 *gin.RouterGroup) {
	v1.GET("/keys", s.require(kb.PermManageKeys), s.tenantWide, s.listKeys)
	v1.POST("/keys", s.require(kb.PermManageKeys), s.tenantWide, s.createKey)
	v1.DELETE("/keys/:id", s.require(kb.PermManageKeys), s.tenantWide, s.revokeKey)
}

type createKeyRequest struct {
	Name           string   `json:"name"`
	Role           kb.Role  `json:"role"`
	KnowledgeBases []string `json:"knowledge_bases"` // names or ids; empty: all
}

func (s *Server) listKeys(c *gin.Context) {
	p, _ := principal(c)
	keys, err := s.deps.Accounts.ListKeys(c.Request.Context(), p.TenantID)
	if err != nil {
		fail(c, err)
		return
	}
	if keys == nil {
		keys = []kb.APIKey{}
	}
	c.JSON(http.StatusOK, gin.H{"keys": keys})
}

// createKey answers POST /v1/keys with the key itself, shown this once, and its listing.
func (s *Server) createKey(c *gin.Context) {
	var req createKeyRequest
	if !bindJSON(c, &req) {
		return
	}
	if !kb.ValidRole(req.Role) {
		fail(c, invalid("role must be admin, operator, uploader or bot", "角色只能是 admin、operator、uploader 或 bot"))
		return
	}
	if len(req.Name) > 200 {
		fail(c, invalid("name is longer than 200 characters", "名称超过 200 个字符"))
		return
	}
	p, _ := principal(c)
	ids, err := s.kbIDs(c.Request.Context(), p, req.KnowledgeBases)
	if err != nil {
		fail(c, err)
		return
	}
	key := "zk_" + randomHex(32)
	sum := sha256.Sum256([]byte(key))
	k, err := s.deps.Accounts.CreateAPIKey(c.Request.Context(), kb.APIKey{
		TenantID: p.TenantID, Name: req.Name, Prefix: key[:11], Role: req.Role, KBIDs: ids,
	}, sum[:])
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "key.create", k.Prefix, map[string]any{"id": k.ID, "role": k.Role, "kb_ids": k.KBIDs, "name": k.Name})
	c.JSON(http.StatusCreated, gin.H{"key": key, "api_key": k})
}

func (s *Server) revokeKey(c *gin.Context) {
	p, _ := principal(c)
	ref := c.Param("id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err == nil {
		err = s.deps.Accounts.RevokeKey(c.Request.Context(), p.TenantID, id)
	} else {
		err = kb.ErrNotFound
	}
	if errors.Is(err, kb.ErrNotFound) {
		fail(c, newError(http.StatusNotFound, "not_found", "no live key "+strconv.Quote(ref), "密钥“"+ref+"”不存在或已吊销"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "key.revoke", ref, map[string]any{"id": id})
	c.Status(http.StatusNoContent)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
