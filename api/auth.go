package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// authenticate resolves "Authorization: Bearer <key>" to a principal (resolveKey), or
// else the admin UI's session cookie (authenticateSession), or answers 401. A key past its
// expiry is a 401 saying so, a key over its rate a 429 with Retry-After (admitKey).
func (s *Server) authenticate(c *gin.Context) {
	key, ok := bearer(c.GetHeader("Authorization"))
	if id, err := c.Cookie(sessionCookie); !ok && err == nil && id != "" && s.deps.Accounts != nil {
		s.authenticateSession(c, id) // the admin UI's session cookie (session.go)
		return
	}
	if !ok {
		fail(c, errNoKey)
		return
	}
	p, err := s.resolveKey(c.Request.Context(), key)
	if errors.Is(err, kb.ErrNotFound) {
		fail(c, errBadKey)
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(ctxPrincipal, p) // before admitKey, so the access log names the refused key
	if ae, retryAfter := s.admitKey(p); ae != nil {
		if retryAfter != "" {
			c.Header("Retry-After", retryAfter)
		}
		fail(c, ae)
		return
	}
	c.Next()
}

// resolveKey maps an API key to its principal: the bootstrap admin key is compared in
// constant time and never stored; other keys are looked up by their SHA-256. A key that
// matches nothing is kb.ErrNotFound.
func (s *Server) resolveKey(ctx context.Context, key string) (kb.Principal, error) {
	if s.deps.AdminKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.deps.AdminKey)) == 1 {
		return kb.Principal{Name: "bootstrap-admin", TenantID: s.deps.DefaultTenantID, Role: kb.RoleAdmin}, nil
	}
	sum := sha256.Sum256([]byte(key))
	return s.deps.Store.PrincipalByKeyHash(ctx, sum[:])
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// require answers 403 unless the caller's role holds perm.
func (s *Server) require(perm kb.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _ := principal(c)
		if !p.Role.Can(perm) {
			fail(c, kb.ErrForbidden)
			return
		}
		c.Next()
	}
}

func principal(c *gin.Context) (kb.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return kb.Principal{}, false
	}
	p, ok := v.(kb.Principal)
	return p, ok
}

// knowledgeBase loads the :kb path parameter (id or name) in the caller's tenant. Another
// tenant's knowledge base, or one the key is not bound to, is reported as not found, so a
// caller cannot learn what exists outside its reach.
func (s *Server) knowledgeBase(c *gin.Context) (kb.KnowledgeBase, bool) {
	p, _ := principal(c)
	k, err := s.lookupKB(c.Request.Context(), p, c.Param("kb"))
	if err != nil {
		fail(c, err)
		return k, false
	}
	return k, true
}

// audit records an action by the caller; a failure is logged, never shown to the caller.
func (s *Server) audit(c *gin.Context, action, target string, details map[string]any) {
	p, _ := principal(c)
	err := s.deps.Store.Audit(c.Request.Context(), kb.AuditEntry{
		TenantID: p.TenantID, Actor: p.Name, Action: action, Target: target, Details: details,
		RequestID: c.GetString(ctxRequestID),
	})
	if err != nil {
		s.log.Error("audit failed", "action", action, "request_id", c.GetString(ctxRequestID), "error", err)
	}
}
