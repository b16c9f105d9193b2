package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
)

// SessionStore keeps admin UI sessions and finds users by email; *store.Store implements
// it. SessionPrincipal reads the user or key afresh, so a disabled user or a revoked key
// ends its sessions at once; an unknown, expired or ended session is kb.ErrNotFound.
type SessionStore interface {
	UsersByEmail(ctx context.Context, email string) ([]kb.User, error)
	TenantByName(ctx context.Context, name string) (kb.Tenant, error)
	CreateSession(ctx context.Context, s kb.Session) error
	SessionPrincipal(ctx context.Context, idHash []byte, idle, maxAge time.Duration) (kb.Principal, kb.Session, error)
	DeleteSession(ctx context.Context, idHash []byte) error
}

// Accounts is what sign-in and the admin routes (users, keys, audit log) need;
// *store.Store implements it. Nil leaves out sign-in and those routes.
type Accounts interface {
	SessionStore
	UserStore
	KeyStore
	AuditReader
}

// Session cookie and lifetimes. A session lives while it is used: each request slides
// its end to sessionIdle from now, up to sessionMaxAge after sign-in.
const (
	sessionCookie  = "zhiku_session"
	csrfHeader     = "X-CSRF-Token"
	sessionIdle    = 12 * time.Hour       // a working day without a request ends it
	sessionMaxAge  = 7 * 24 * time.Hour   // then sign in again, whatever the use
	loginWindow    = 15 * time.Minute     // failed sign-ins are counted over this window
	loginMaxFailed = 10                   // per client address and email within the window
	loginMaxKeys   = 10000                // tracked address+email pairs, at most
	ctxSession     = "zhiku_session_csrf" // the CSRF token of the request's session, if any
)

var (
	errBadLogin       = newError(http.StatusUnauthorized, "unauthorized", "wrong email or password, or the account is disabled", "邮箱或密码错误，或账号已停用")
	errBadLoginKey    = newError(http.StatusUnauthorized, "unauthorized", "invalid or revoked API key", "API 密钥无效或已吊销")
	errSessionExpired = newError(http.StatusUnauthorized, "session_expired", "your session has ended; sign in again", "登录已过期，请重新登录")
	errCSRF           = newError(http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header; reload the page", "缺少或错误的 X-CSRF-Token 请求头，请刷新页面")
	errTooManyLogins  = newError(http.StatusTooManyRequests, "rate_limited", "too many failed sign-ins; wait 15 minutes and try again", "登录失败次数过多，请 15 分钟后再试")
)

// sessionRoutes registers sign-in and sign-out, "who am I" and the admin routes for
// users, keys and the audit log, when Deps.Accounts is set.
func (s *Server) sessionRoutes(r *gin.Engine, v1 *gin.RouterGroup) {
	if s.deps.Accounts == nil {
		return
	}
	s.logins = newLoginLimiter()
	limit := s.limitBody(s.deps.MaxBodyBytes)
	// POST only: GET /admin/* is the UI's catch-all route.
	r.POST("/admin/api/login", limit, s.login)
	r.POST("/admin/api/logout", limit, s.logout)
	v1.GET("/session", s.whoami)
	s.userRoutes(v1)
	s.keyRoutes(v1)
	s.auditRoutes(v1)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"` // only needed when the email is a user of several tenants
	Key      string `json:"key"`    // an API key (or ZHIKU_ADMIN_KEY) instead of email and password
}

// login answers POST /admin/api/login: {"email","password"} or {"key"} → a session cookie
// and the session as GET /v1/session shows it (with the CSRF token to send back).
func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if !bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	who := strings.ToLower(strings.TrimSpace(req.Email))
	if req.Key != "" {
		who = "key"
	}
	limitKey := c.ClientIP() + "|" + who
	if !s.logins.allowed(limitKey) {
		c.Header("Retry-After", strconv.Itoa(int(loginWindow.Seconds())))
		fail(c, errTooManyLogins)
		return
	}
	sess, p, err := s.signIn(ctx, req)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.logins.failed(limitKey)
		}
		fail(c, err)
		return
	}
	s.logins.succeeded(limitKey)
	id := randomToken()
	sum := sha256.Sum256([]byte(id))
	sess.IDHash, sess.ExpiresAt = sum[:], time.Now().Add(sessionIdle)
	if err := s.deps.Accounts.CreateSession(ctx, sess); err != nil {
		fail(c, err)
		return
	}
	s.setSessionCookie(c, id, int(sessionMaxAge.Seconds()))
	c.Set(ctxPrincipal, p)
	c.Set(ctxSession, csrfToken(id))
	s.audit(c, "session.login", p.Name, map[string]any{"ip": c.ClientIP()})
	c.JSON(http.StatusOK, s.sessionView(c, p))
}

// signIn checks the credentials and returns the session to store (without its id) and
// the principal it stands for.
func (s *Server) signIn(ctx context.Context, req loginRequest) (kb.Session, kb.Principal, error) {
	if req.Key != "" {
		p, err := s.resolveKey(ctx, req.Key)
		if errors.Is(err, kb.ErrNotFound) {
			return kb.Session{}, p, errBadLoginKey
		}
		if err != nil {
			return kb.Session{}, p, err
		}
		if p.ExpiresAt != nil && !time.Now().Before(*p.ExpiresAt) {
			return kb.Session{}, p, keyExpired(*p.ExpiresAt)
		}
		sess := kb.Session{TenantID: p.TenantID, KeyID: p.KeyID}
		if p.KeyID == 0 { // the bootstrap admin key
			sum := sha256.Sum256([]byte(s.deps.AdminKey))
			sess.AdminKeyHash = sum[:]
		}
		return sess, p, nil
	}
	if strings.TrimSpace(req.Email) == "" || req.Password == "" {
		return kb.Session{}, kb.Principal{}, invalid("enter an email and a password, or an API key", "请输入邮箱和密码，或 API 密钥")
	}
	users, err := s.deps.Accounts.UsersByEmail(ctx, req.Email)
	if err != nil {
		return kb.Session{}, kb.Principal{}, err
	}
	var tenantID int64
	if req.Tenant != "" {
		t, err := s.deps.Accounts.TenantByName(ctx, req.Tenant)
		if err != nil && !errors.Is(err, kb.ErrNotFound) {
			return kb.Session{}, kb.Principal{}, err
		}
		tenantID = t.ID
		if err != nil {
			tenantID = -1 // an unknown tenant matches no user
		}
	}
	for _, u := range users {
		if u.DisabledAt != nil || (tenantID != 0 && u.TenantID != tenantID) {
			continue
		}
		if password.Verify(u.PasswordHash, req.Password) {
			p := kb.Principal{Name: u.Email, TenantID: u.TenantID, Role: u.Role, KBIDs: u.KBIDs}
			return kb.Session{TenantID: u.TenantID, UserID: u.ID}, p, nil
		}
	}
	if len(users) == 0 {
		password.Waste(req.Password) // as slow as a wrong password: emails are not revealed
	}
	return kb.Session{}, kb.Principal{}, errBadLogin
}

// logout answers POST /admin/api/logout: the session ends and its cookie is cleared, and
// the audit log records who signed out (session.logout, with when and from where).
// Without a session it still succeeds, so a stale tab can always sign out.
func (s *Server) logout(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		if subtle.ConstantTimeCompare([]byte(c.GetHeader(csrfHeader)), []byte(csrfToken(id))) != 1 {
			fail(c, errCSRF)
			return
		}
		sum := sha256.Sum256([]byte(id))
		// Who is signing out, for the audit log; a session already gone is not logged.
		p, _, perr := s.deps.Accounts.SessionPrincipal(c.Request.Context(), sum[:], sessionIdle, sessionMaxAge)
		if err := s.deps.Accounts.DeleteSession(c.Request.Context(), sum[:]); err != nil {
			fail(c, err)
			return
		}
		if perr == nil {
			c.Set(ctxPrincipal, p)
			s.audit(c, "session.logout", p.Name, map[string]any{"ip": c.ClientIP()})
		}
	}
	s.setSessionCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

// authenticateSession authenticates a request by its session cookie: the session must be
// live, and a state-changing request must carry the session's CSRF token in X-CSRF-Token.
func (s *Server) authenticateSession(c *gin.Context, id string) {
	sum := sha256.Sum256([]byte(id))
	p, sess, err := s.deps.Accounts.SessionPrincipal(c.Request.Context(), sum[:], sessionIdle, sessionMaxAge)
	if err == nil && sess.AdminKeyHash != nil {
		want := sha256.Sum256([]byte(s.deps.AdminKey))
		if s.deps.AdminKey == "" || subtle.ConstantTimeCompare(want[:], sess.AdminKeyHash) != 1 {
			err = kb.ErrNotFound // the admin key changed since sign-in
		}
		p = kb.Principal{Name: "bootstrap-admin", TenantID: sess.TenantID, Role: kb.RoleAdmin}
	}
	if errors.Is(err, kb.ErrNotFound) {
		s.setSessionCookie(c, "", -1)
		fail(c, errSessionExpired)
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if subtle.ConstantTimeCompare([]byte(c.GetHeader(csrfHeader)), []byte(csrfToken(id))) != 1 {
			fail(c, errCSRF)
			return
		}
	}
	c.Set(ctxPrincipal, p)
	c.Set(ctxSession, csrfToken(id))
	c.Next()
}

func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	secure := c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
}

// csrfToken derives a session's CSRF token from its id: only a page that was told it (by
// sign-in or GET /v1/session, which other sites cannot read) can send it back.
func csrfToken(sessionID string) string {
	sum := sha256.Sum256([]byte("zhiku-csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionInfo is what GET /v1/session shows: who the caller is, what it may do, and which
// routes this server has, so the UI offers only what works.
type sessionInfo struct {
	Name        string          `json:"name"`
	TenantID    int64           `json:"tenant_id"`
	Role        kb.Role         `json:"role"`
	KBIDs       []int64         `json:"kb_ids"` // null: every knowledge base of the tenant
	Permissions []kb.Permission `json:"permissions"`
	Routes      []string        `json:"routes"` // "METHOD /v1/path" of every route served
	CSRFToken   string          `json:"csrf_token,omitempty"`
}

var allPermissions = []kb.Permission{kb.PermReadKB, kb.PermWriteKB, kb.PermDeleteKB, kb.PermUpload, kb.PermCurate, kb.PermSearch, kb.PermGaps, kb.PermManageKeys}

func (s *Server) sessionView(c *gin.Context, p kb.Principal) sessionInfo {
	info := sessionInfo{Name: p.Name, TenantID: p.TenantID, Role: p.Role, KBIDs: p.KBIDs, CSRFToken: c.GetString(ctxSession), Permissions: []kb.Permission{}}
	for _, perm := range allPermissions {
		if p.Role.Can(perm) {
			info.Permissions = append(info.Permissions, perm)
		}
	}
	for _, r := range s.engine.Routes() {
		if strings.HasPrefix(r.Path, "/v1/") {
			info.Routes = append(info.Routes, r.Method+" "+r.Path)
		}
	}
	sort.Strings(info.Routes)
	return info
}

// whoami answers GET /v1/session for a session or a key alike.
func (s *Server) whoami(c *gin.Context) {
	p, _ := principal(c)
	c.JSON(http.StatusOK, s.sessionView(c, p))
}

// loginLimiter counts failed sign-ins per client address and email over loginWindow.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]*loginFailures
}

type loginFailures struct {
	n     int
	start time.Time
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{m: map[string]*loginFailures{}} }

func (l *loginLimiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil || time.Since(f.start) > loginWindow {
		return true
	}
	return f.n < loginMaxFailed
}

func (l *loginLimiter) failed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil || time.Since(f.start) > loginWindow {
		if len(l.m) >= loginMaxKeys {
			for k, v := range l.m {
				if time.Since(v.start) > loginWindow {
					delete(l.m, k)
				}
			}
		}
		if len(l.m) >= loginMaxKeys {
			return // under a flood of addresses, forget rather than grow
		}
		f = &loginFailures{start: time.Now()}
		l.m[key] = f
	}
	f.n++
}

func (l *loginLimiter) succeeded(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}
