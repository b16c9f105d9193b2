package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// sessionBundle is a server with sign-in, two tenants' knowledge bases and users.
type sessionBundle struct {
	*testBundle
	kb1, kb2, other kb.KnowledgeBase
}

func setupSessions(t *testing.T) *sessionBundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	h := api.New(api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, Accounts: db.Store,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 8},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &sessionBundle{testBundle: &testBundle{db: db, srv: srv, tenant: tenant, handler: h}}
	mk := func(tenantID int64, name string) kb.KnowledgeBase {
		k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenantID, Name: name, Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 8})
		require.NoError(t, err)
		return k
	}
	other, err := db.Store.EnsureTenant(ctx, "other")
	require.NoError(t, err)
	b.kb1, b.kb2, b.other = mk(tenant.ID, "kb1"), mk(tenant.ID, "kb2"), mk(other.ID, "kb1")
	return b
}

func (b *sessionBundle) user(t *testing.T, tenantID int64, email, pw string, role kb.Role, kbIDs ...int64) kb.User {
	t.Helper()
	h, err := password.Hash(pw)
	require.NoError(t, err)
	u, err := b.db.Store.CreateUser(context.Background(), kb.User{TenantID: tenantID, Email: email, PasswordHash: h, Role: role, KBIDs: kbIDs})
	require.NoError(t, err)
	return u
}

// browser is a client with a cookie jar, as a browser tab is.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (b *sessionBundle) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: b.srv.URL, c: &http.Client{Jar: jar}}
}

func (br *browser) do(method, path, body string, hdr ...string) response {
	br.t.Helper()
	req, err := http.NewRequest(method, br.base+path, strings.NewReader(body))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := br.c.Do(req)
	require.NoError(br.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Code: res.StatusCode, Raw: string(raw), Hdr: res.Header}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// login signs in and keeps the CSRF token.
func (br *browser) login(body string) response {
	br.t.Helper()
	r := br.do("POST", "/admin/api/login", body)
	if r.Code == 200 {
		br.csrf, _ = r.Body["csrf_token"].(string)
	}
	return r
}

func (br *browser) write(method, path, body string) response {
	br.t.Helper()
	return br.do(method, path, body, "X-CSRF-Token", br.csrf)
}

func TestSessionSignIn(t *testing.T) {
	t.Parallel()
	b := setupSessions(t)
	b.user(t, b.tenant.ID, "ops@shop.cn", "s3cret-pass", kb.RoleOperator)

	t.Run("PasswordCookieAndCSRF", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		require.Equal(t, 401, br.do("GET", "/v1/knowledge-bases", "").Code)
		r := br.login(`{"email":"wrong@shop.cn","password":"s3cret-pass"}`)
		require.Equal(t, 401, r.Code)
		require.Equal(t, "unauthorized", errCode(r))
		require.Equal(t, 401, br.login(`{"email":"ops@shop.cn","password":"wrong-pass"}`).Code)

		r = br.login(`{"email":"OPS@shop.cn","password":"s3cret-pass"}`)
		require.Equal(t, 200, r.Code, r.Raw)
		require.Equal(t, "ops@shop.cn", r.Body["name"])
		require.Equal(t, "operator", r.Body["role"])
		require.NotEmpty(t, br.csrf)
		require.Contains(t, r.Raw, `"GET /v1/knowledge-bases"`)
		ck := r.Hdr.Get("Set-Cookie")
		require.Contains(t, ck, "zhiku_session=")
		require.Contains(t, ck, "HttpOnly")
		require.Contains(t, ck, "SameSite=Strict")
		require.NotContains(t, ck, "Secure", "plain HTTP here")

		// Reads need only the cookie; writes need the CSRF token too.
		require.Equal(t, 200, br.do("GET", "/v1/knowledge-bases", "").Code)
		who := br.do("GET", "/v1/session", "")
		require.Equal(t, br.csrf, who.Body["csrf_token"])
		r = br.do("PATCH", "/v1/knowledge-bases/kb1", `{"description":"x"}`)
		require.Equal(t, 403, r.Code)
		require.Equal(t, "csrf", errCode(r))
		require.Equal(t, 403, br.do("PATCH", "/v1/knowledge-bases/kb1", `{"description":"x"}`, "X-CSRF-Token", "forged").Code)
		require.Equal(t, 200, br.write("PATCH", "/v1/knowledge-bases/kb1", `{"description":"x"}`).Code)
		// The operator's role still rules: no key management.
		require.Equal(t, 403, br.do("GET", "/v1/keys", "").Code)

		require.Equal(t, 403, br.do("POST", "/admin/api/logout", "").Code, "logout needs the token too")
		before := time.Now().Add(-time.Second)
		require.Equal(t, 204, br.write("POST", "/admin/api/logout", "").Code)
		r = br.do("GET", "/v1/knowledge-bases", "")
		require.Equal(t, 401, r.Code)
		// Signing out is audited: who, when (and from where).
		var actor string
		var at time.Time
		require.NoError(t, b.db.Pool.QueryRow(context.Background(),
			`SELECT actor, created_at FROM audit_log WHERE action = 'session.logout' AND tenant_id = $1`, b.tenant.ID).Scan(&actor, &at))
		require.Equal(t, "ops@shop.cn", actor)
		require.True(t, at.After(before), "logged when it happened")
	})

	t.Run("Keys", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		require.Equal(t, 401, br.login(`{"key":"nope"}`).Code)
		r := br.login(`{"key":"` + adminKey + `"}`)
		require.Equal(t, 200, r.Code, r.Raw)
		require.Equal(t, "admin", r.Body["role"])
		require.Equal(t, 200, br.do("GET", "/v1/keys", "").Code)

		bot := b.key(t, "default", kb.RoleBot)
		br2 := b.browser(t)
		require.Equal(t, 200, br2.login(`{"key":"`+bot+`"}`).Code)
		require.Equal(t, 403, br2.write("POST", "/v1/knowledge-bases", `{"name":"x"}`).Code)
	})

	t.Run("SessionEndsWithUser", func(t *testing.T) {
		t.Parallel()
		u := b.user(t, b.tenant.ID, "temp@shop.cn", "temp-pass-1", kb.RoleOperator)
		br := b.browser(t)
		require.Equal(t, 200, br.login(`{"email":"temp@shop.cn","password":"temp-pass-1"}`).Code)
		admin := b.browser(t)
		require.Equal(t, 200, admin.login(`{"key":"`+adminKey+`"}`).Code)
		r := admin.write("PATCH", "/v1/users/"+jsonNum(u.ID), `{"disabled":true}`)
		require.Equal(t, 200, r.Code, r.Raw)
		r = br.do("GET", "/v1/knowledge-bases", "")
		require.Equal(t, 401, r.Code)
		require.Equal(t, "session_expired", errCode(r))
		require.Equal(t, 401, br.login(`{"email":"temp@shop.cn","password":"temp-pass-1"}`).Code)
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()
		br := b.browser(t)
		for range 10 {
			require.Equal(t, 401, br.login(`{"email":"victim@shop.cn","password":"guess-guess"}`).Code)
		}
		r := br.login(`{"email":"victim@shop.cn","password":"guess-guess"}`)
		require.Equal(t, 429, r.Code)
		require.NotEmpty(t, r.Hdr.Get("Retry-After"))
		// Another email from the same address is not blocked.
		require.Equal(t, 200, br.login(`{"email":"ops@shop.cn","password":"s3cret-pass"}`).Code)
	})
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestUploaderSessionSeesOnlyItsKnowledgeBases(t *testing.T) {
	t.Parallel()
	b := setupSessions(t)
	b.user(t, b.tenant.ID, "maker@factory.cn", "maker-pass-1", kb.RoleUploader, b.kb1.ID)
	br := b.browser(t)
	r := br.login(`{"email":"maker@factory.cn","password":"maker-pass-1"}`)
	require.Equal(t, 200, r.Code, r.Raw)

	r = br.do("GET", "/v1/knowledge-bases", "")
	require.Equal(t, 200, r.Code)
	list := r.Body["knowledge_bases"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "kb1", list[0].(map[string]any)["name"])
	require.Equal(t, 200, br.do("GET", "/v1/knowledge-bases/kb1/documents", "").Code)
	// Another knowledge base of its tenant, or another tenant's (same name, its id): 404.
	require.Equal(t, 404, br.do("GET", "/v1/knowledge-bases/kb2", "").Code)
	require.Equal(t, 404, br.do("GET", "/v1/knowledge-bases/"+jsonNum(b.other.ID)+"/documents", "").Code)
	// Nothing an uploader may not do: search, settings, keys, users, audit.
	require.Equal(t, 403, br.write("POST", "/v1/knowledge-bases/kb1/search", `{"query":"x"}`).Code)
	require.Equal(t, 403, br.write("PATCH", "/v1/knowledge-bases/kb1", `{"description":"x"}`).Code)
	for _, p := range []string{"/v1/keys", "/v1/users", "/v1/audit"} {
		require.Equal(t, 403, br.do("GET", p, "").Code, p)
	}
}

func TestUsersKeysAudit(t *testing.T) {
	t.Parallel()
	b := setupSessions(t)
	br := b.browser(t)
	require.Equal(t, 200, br.login(`{"key":"`+adminKey+`"}`).Code)

	r := br.write("POST", "/v1/users", `{"email":"m@f.cn","password":"short","role":"uploader"}`)
	require.Equal(t, 422, r.Code)
	r = br.write("POST", "/v1/users", `{"email":"m@f.cn","password":"long-enough","role":"bot"}`)
	require.Equal(t, 422, r.Code)
	r = br.write("POST", "/v1/users", `{"email":"m@f.cn","password":"long-enough","role":"uploader","knowledge_bases":["nope"]}`)
	require.Equal(t, 404, r.Code)
	r = br.write("POST", "/v1/users", `{"email":"m@f.cn","display_name":"厂商","password":"long-enough","role":"uploader","knowledge_bases":["kb2"]}`)
	require.Equal(t, 201, r.Code, r.Raw)
	require.NotContains(t, r.Raw, "password")
	require.Equal(t, []any{float64(b.kb2.ID)}, r.Body["kb_ids"])
	require.Equal(t, 409, br.write("POST", "/v1/users", `{"email":"M@f.cn","password":"long-enough","role":"uploader"}`).Code)
	r = br.do("GET", "/v1/users", "")
	require.Len(t, r.Body["users"], 1)

	// The new user signs in; the tenant's name picks among same-email users.
	u := b.browser(t)
	require.Equal(t, 401, u.login(`{"email":"m@f.cn","password":"long-enough","tenant":"other"}`).Code)
	require.Equal(t, 200, u.login(`{"email":"m@f.cn","password":"long-enough","tenant":"default"}`).Code)

	r = br.write("POST", "/v1/keys", `{"name":"客服机器人","role":"bot","knowledge_bases":["kb1"]}`)
	require.Equal(t, 201, r.Code, r.Raw)
	key := r.Body["key"].(string)
	require.True(t, strings.HasPrefix(key, "zk_"))
	id := jsonNum(int64(r.Body["api_key"].(map[string]any)["id"].(float64)))
	require.Equal(t, 200, b.do(t, key, "GET", "/v1/knowledge-bases/kb1", "").Code)
	require.Equal(t, 404, b.do(t, key, "GET", "/v1/knowledge-bases/kb2", "").Code)
	r = br.do("GET", "/v1/keys", "")
	require.NotContains(t, r.Raw, key)
	require.Equal(t, 204, br.write("DELETE", "/v1/keys/"+id, "").Code)
	require.Equal(t, 404, br.write("DELETE", "/v1/keys/"+id, "").Code)
	require.Equal(t, 401, b.do(t, key, "GET", "/v1/knowledge-bases/kb1", "").Code)

	// Another tenant's admin sees none of it.
	otherAdmin := b.key(t, "other", kb.RoleAdmin)
	require.Len(t, b.do(t, otherAdmin, "GET", "/v1/keys", "").Body["keys"], 1) // its own
	require.Len(t, b.do(t, otherAdmin, "GET", "/v1/users", "").Body["users"], 0)
	require.Equal(t, 404, b.do(t, otherAdmin, "DELETE", "/v1/keys/"+id, "").Code)

	r = br.do("GET", "/v1/audit?action=key.", "")
	require.Equal(t, 200, r.Code)
	actions := []string{}
	for _, e := range r.Body["entries"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	require.Equal(t, []string{"key.revoke", "key.create"}, actions)
	require.Equal(t, 422, br.do("GET", "/v1/audit?limit=0", "").Code)
}
