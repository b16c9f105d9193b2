package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

const adminKey = "test-admin-key-0123456789"

type testBundle struct {
	db      *storetest.DB
	srv     *httptest.Server
	tenant  kb.Tenant
	logs    *bytes.Buffer
	handler *api.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), kb.DefaultTenant)
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	h := api.New(api.Deps{
		Log:             slog.New(slog.NewJSONHandler(logs, nil)),
		Store:           db.Store,
		DB:              db.Pool,
		AdminKey:        adminKey,
		DefaultTenantID: tenant.ID,
		Embedding:       api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 768},
		MaxBodyBytes:    4096,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testBundle{db: db, srv: srv, tenant: tenant, logs: logs, handler: h}
}

// key creates an API key directly in the store and returns it.
func (b *testBundle) key(t *testing.T, tenant string, role kb.Role, kbIDs ...int64) string {
	t.Helper()
	ctx := context.Background()
	tn, err := b.db.Store.EnsureTenant(ctx, tenant)
	require.NoError(t, err)
	k := fmt.Sprintf("zk_test_%s_%s_%d", tenant, role, len(kbIDs))
	sum := sha256.Sum256([]byte(k))
	if kbIDs == nil {
		kbIDs = nil
	}
	_, err = b.db.Store.CreateKey(ctx, store.CreateKeyParams{TenantID: tn.ID, Prefix: k[:8], KeyHash: sum[:], Role: role, KBIDs: kbIDs})
	require.NoError(t, err)
	return k
}

type response struct {
	Code int
	Body map[string]any
	Raw  string
	Hdr  http.Header
}

func (b *testBundle) do(t *testing.T, key, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, r)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := response{Code: res.StatusCode, Raw: string(raw), Hdr: res.Header}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func errCode(r response) string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, 200, b.do(t, "", "GET", "/healthz", "").Code)
	require.Equal(t, 200, b.do(t, "", "GET", "/readyz", "").Code)
	b.do(t, "", "GET", "/v1/knowledge-bases", "")
	m := b.do(t, "", "GET", "/metrics", "")
	require.Equal(t, 200, m.Code)
	require.Contains(t, m.Raw, `zhiku_http_requests_total{method="GET",route="/v1/knowledge-bases",status="401"} 1`)
	require.Contains(t, m.Raw, "go_goroutines")
}

func TestReadyzWithUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the pool connects lazily, so only the ping fails.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/zhiku?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	defer pool.Close()
	h := api.New(api.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: store.New(pool), DB: pool})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, want, res.StatusCode, path)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	revoked := b.key(t, "default", kb.RoleAdmin)
	sum := sha256.Sum256([]byte(revoked))
	p, err := b.db.Store.PrincipalByKeyHash(context.Background(), sum[:])
	require.NoError(t, err)
	require.NoError(t, b.db.Store.RevokeKey(context.Background(), p.TenantID, p.KeyID))

	for name, key := range map[string]string{"missing": "", "wrong": "not-a-key", "revoked": revoked} {
		r := b.do(t, key, "GET", "/v1/knowledge-bases", "")
		require.Equal(t, 401, r.Code, name)
		require.Equal(t, "unauthorized", errCode(r), name)
		require.NotEmpty(t, r.Body["request_id"], name)
	}
	// A scheme other than Bearer is not a key.
	req, _ := http.NewRequest("GET", b.srv.URL+"/v1/knowledge-bases", nil)
	req.Header.Set("Authorization", "Basic "+adminKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	require.Equal(t, 200, b.do(t, adminKey, "GET", "/v1/knowledge-bases", "").Code)
	require.Equal(t, 200, b.do(t, b.key(t, "default", kb.RoleBot), "GET", "/v1/knowledge-bases", "").Code)
}

func TestKnowledgeBaseCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"售后","description":"家电售后问答","language":"zh"}`)
	require.Equal(t, 201, r.Code, r.Raw)
	require.Equal(t, "售后", r.Body["name"])
	require.Equal(t, "local", r.Body["embedder"])
	require.EqualValues(t, 768, r.Body["embedding_dim"])
	id := int64(r.Body["id"].(float64))

	r = b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"售后"}`)
	require.Equal(t, 409, r.Code)
	require.Equal(t, "conflict", errCode(r))

	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases", "")
	require.Equal(t, 200, r.Code)
	require.Len(t, r.Body["knowledge_bases"], 1)

	r = b.do(t, adminKey, "GET", fmt.Sprintf("/v1/knowledge-bases/%d", id), "")
	require.Equal(t, 200, r.Code)
	require.Equal(t, "售后", r.Body["name"])
	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases/%E5%94%AE%E5%90%8E", "") // by name, URL-encoded
	require.Equal(t, 200, r.Code)

	r = b.do(t, adminKey, "PATCH", "/v1/knowledge-bases/售后", `{"description":"updated","language":"en","settings":{"top_k":5}}`)
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, "updated", r.Body["description"])
	require.Equal(t, "en", r.Body["language"])

	r = b.do(t, adminKey, "PATCH", "/v1/knowledge-bases/售后", `{"language":"fr"}`)
	require.Equal(t, 422, r.Code)
	require.Contains(t, r.Body["error"].(map[string]any)["message"], "language")

	require.Equal(t, 204, b.do(t, adminKey, "DELETE", "/v1/knowledge-bases/售后", "").Code)
	r = b.do(t, adminKey, "GET", "/v1/knowledge-bases/售后", "")
	require.Equal(t, 404, r.Code)
	require.Equal(t, "not_found", errCode(r))

	n, err := b.db.Store.CountAudit(context.Background(), b.tenant.ID, "kb.delete")
	require.NoError(t, err)
	require.Equal(t, 1, n, "deletion is audited")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name, body string
		code       int
		mention    string
	}{
		{"malformed", `{"name":`, 400, "malformed JSON"},
		{"empty", ``, 400, "empty"},
		{"wrong type", `{"name":5}`, 400, "name"},
		{"unknown field", `{"name":"x","colour":"red"}`, 400, "colour"},
		{"trailing data", `{"name":"x"} {}`, 400, "after"},
		{"bad name", `{"name":"a b"}`, 422, "name"},
		{"numeric name", `{"name":"123"}`, 422, "digits"},
		{"bad language", `{"name":"ok","language":"jp"}`, 422, "language"},
		{"too large", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, "larger"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", tc.body)
			require.Equal(t, tc.code, r.Code, r.Raw)
			e := r.Body["error"].(map[string]any)
			require.NotEmpty(t, e["code"])
			require.Contains(t, e["message"], tc.mention)
			require.NotEmpty(t, e["message_zh"], "operators get a Chinese message")
			require.Equal(t, r.Hdr.Get("X-Request-ID"), r.Body["request_id"])
		})
	}
	r := b.do(t, adminKey, "GET", "/v1/nothing-here", "")
	require.Equal(t, 404, r.Code)
	require.Equal(t, "not_found", errCode(r))
}

func TestRolesAndTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acme := b.key(t, "acme", kb.RoleAdmin)
	globex := b.key(t, "globex", kb.RoleAdmin)
	r := b.do(t, acme, "POST", "/v1/knowledge-bases", `{"name":"acme-kb"}`)
	require.Equal(t, 201, r.Code)
	acmeKB := int64(r.Body["id"].(float64))
	require.Equal(t, 201, b.do(t, acme, "POST", "/v1/knowledge-bases", `{"name":"acme-other"}`).Code)

	t.Run("another tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/knowledge-bases/acme-kb", fmt.Sprintf("/v1/knowledge-bases/%d", acmeKB)} {
			require.Equal(t, 404, b.do(t, globex, "GET", path, "").Code)
			require.Equal(t, 404, b.do(t, globex, "PATCH", path, `{"description":"x"}`).Code)
			require.Equal(t, 404, b.do(t, globex, "DELETE", path, "").Code)
		}
		r := b.do(t, globex, "GET", "/v1/knowledge-bases", "")
		require.NotContains(t, r.Raw, "acme-kb")
		// The bootstrap admin key is the default tenant's, not a super-user.
		require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/knowledge-bases/acme-kb", "").Code)
	})

	t.Run("roles lacking the right get 403", func(t *testing.T) {
		t.Parallel()
		bot := b.key(t, "acme", kb.RoleBot)
		op := b.key(t, "acme", kb.RoleOperator)
		up := b.key(t, "acme", kb.RoleUploader)
		require.Equal(t, 403, b.do(t, bot, "POST", "/v1/knowledge-bases", `{"name":"bot-kb"}`).Code)
		require.Equal(t, 403, b.do(t, bot, "DELETE", "/v1/knowledge-bases/acme-kb", "").Code)
		require.Equal(t, 403, b.do(t, op, "DELETE", "/v1/knowledge-bases/acme-kb", "").Code)
		require.Equal(t, 403, b.do(t, up, "PATCH", "/v1/knowledge-bases/acme-kb", `{"description":"x"}`).Code)
		require.Equal(t, 200, b.do(t, bot, "GET", "/v1/knowledge-bases/acme-kb", "").Code)
		require.Equal(t, 200, b.do(t, op, "PATCH", "/v1/knowledge-bases/acme-kb", `{"description":"by operator"}`).Code)
		r := b.do(t, bot, "DELETE", "/v1/knowledge-bases/acme-kb", "")
		require.Equal(t, "forbidden", errCode(r))
	})

	t.Run("a key bound to one knowledge base sees only it", func(t *testing.T) {
		t.Parallel()
		bound := b.key(t, "acme", kb.RoleOperator, acmeKB)
		r := b.do(t, bound, "GET", "/v1/knowledge-bases", "")
		require.Len(t, r.Body["knowledge_bases"], 1)
		require.Contains(t, r.Raw, "acme-kb")
		require.Equal(t, 404, b.do(t, bound, "GET", "/v1/knowledge-bases/acme-other", "").Code)
		require.Equal(t, 403, b.do(t, bound, "POST", "/v1/knowledge-bases", `{"name":"new"}`).Code)
	})
}

func TestUnexpectedErrorsAreGeneric(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Closing the pool makes every query fail with an internal error.
	b.db.Pool.Close()
	r := b.do(t, adminKey, "POST", "/v1/knowledge-bases", `{"name":"x"}`)
	require.Equal(t, 500, r.Code)
	require.Equal(t, "internal", errCode(r))
	require.NotContains(t, r.Raw, "closed pool", "internals are never echoed")
	require.Contains(t, b.logs.String(), r.Body["request_id"], "the error is logged with its request id")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
