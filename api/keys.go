package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
	ExpiresAt      string   `json:"expires_at"`      // RFC 3339; absent: never
	RateLimit      *float64 `json:"rate_limit"`      // requests per second; absent: ZHIKU_RATE_LIMIT, 0: unlimited
}

// maxKeyRate is the highest rate a key may be given: the api_keys table's CHECK
// (migrations/00019_key_expiry_rate.sql).
const maxKeyRate = 1_000_000

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
	var expires *time.Time
	if req.ExpiresAt != "" {
		at, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			fail(c, invalid("expires_at must be an RFC 3339 time such as 2030-01-31T00:00:00Z, got "+strconv.Quote(req.ExpiresAt),
				"expires_at 须为 RFC 3339 时间，例如 2030-01-31T00:00:00Z"))
			return
		}
		if !at.After(time.Now()) {
			fail(c, invalid("expires_at must be in the future", "expires_at 必须是将来的时间"))
			return
		}
		expires = &at
	}
	if req.RateLimit != nil && (*req.RateLimit < 0 || *req.RateLimit > maxKeyRate) {
		fail(c, invalid(fmt.Sprintf("rate_limit must be 0 (unlimited) to %d requests per second", maxKeyRate),
			fmt.Sprintf("rate_limit 必须在 0（不限）到 %d 次每秒之间", maxKeyRate)))
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
		ExpiresAt: expires, RateLimit: req.RateLimit,
	}, sum[:])
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "key.create", k.Prefix, map[string]any{"id": k.ID, "role": k.Role, "kb_ids": k.KBIDs, "name": k.Name, "expires_at": k.ExpiresAt, "rate_limit": k.RateLimit})
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
