package api_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// keyServer is the API with accounts and the answer faces, with defaultRate as
// ZHIKU_RATE_LIMIT.
func keyServer(t *testing.T, defaultRate float64) *testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), kb.DefaultTenant)
	require.NoError(t, err)
	h := api.New(api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, Accounts: db.Store, Answers: &fakeAnswerer{},
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 256},
		RateLimit: defaultRate,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, err = db.Store.CreateKB(context.Background(), kb.KnowledgeBase{TenantID: tenant.ID, Name: "kb1", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 256})
	require.NoError(t, err)
	return &testBundle{db: db, srv: srv, tenant: tenant, handler: h}
}

// storedKey stores a key of the default tenant with p's expiry and rate.
func (b *testBundle) storedKey(t *testing.T, name string, p store.CreateKeyParams) string {
	t.Helper()
	key := "zk_" + name + "_0123456789abcdef"
	sum := sha256.Sum256([]byte(key))
	p.TenantID, p.Name, p.Prefix, p.KeyHash, p.Role = b.tenant.ID, name, key[:8], sum[:], kb.RoleBot
	_, err := b.db.Store.CreateKey(context.Background(), p)
	require.NoError(t, err)
	return key
}

func TestExpiredKey(t *testing.T) {
	t.Parallel()
	b := keyServer(t, 0)
	past := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	future := time.Now().Add(time.Hour)
	expired := b.storedKey(t, "expired", store.CreateKeyParams{ExpiresAt: &past})
	live := b.storedKey(t, "live", store.CreateKeyParams{ExpiresAt: &future})

	r := b.do(t, live, "GET", "/v1/knowledge-bases", "")
	require.Equal(t, 200, r.Code, r.Raw)

	r = b.do(t, expired, "GET", "/v1/knowledge-bases", "")
	require.Equal(t, 401, r.Code)
	require.Equal(t, "key_expired", errCode(r))
	en, zh := errMessages(r)
	require.Contains(t, en, "expired at "+past.Format(time.RFC3339))
	require.Contains(t, zh, "过期")

	// The OpenAI face answers in OpenAI's shape, Dify's in Dify's, MCP in JSON: all refuse.
	r = b.do(t, expired, "POST", "/v1/chat/completions", `{"model":"kb1","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 401, r.Code)
	require.Contains(t, r.Raw, "expired at")
	require.Contains(t, r.Raw, "invalid_api_key")
	r = b.do(t, expired, "POST", "/retrieval", `{"knowledge_id":"kb1","query":"x"}`)
	require.Equal(t, 403, r.Code)
	require.EqualValues(t, 1002, r.Body["error_code"])
	require.Contains(t, r.Body["error_msg"], "expired at")
	r = b.do(t, expired, "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	require.Equal(t, 401, r.Code)
	require.Equal(t, "key_expired", errCode(r))

	// Nor can it open an admin UI session.
	r = b.do(t, "", "POST", "/admin/api/login", `{"key":"`+expired+`"}`)
	require.Equal(t, 401, r.Code)
	require.Equal(t, "key_expired", errCode(r))
}

func TestKeyCreateExpiryAndRateFields(t *testing.T) {
	t.Parallel()
	b := keyServer(t, 0)
	for body, mention := range map[string]string{
		`{"role":"bot","expires_at":"2001-01-01T00:00:00Z"}`: "expires_at",
		`{"role":"bot","expires_at":"next week"}`:            "expires_at",
		`{"role":"bot","rate_limit":-1}`:                     "rate_limit",
		`{"role":"bot","rate_limit":1e9}`:                    "rate_limit",
	} {
		r := b.do(t, adminKey, "POST", "/v1/keys", body)
		require.Contains(t, []int{400, 422}, r.Code, body)
		en, zh := errMessages(r)
		require.Contains(t, en, mention, body)
		require.NotEmpty(t, zh, body)
	}
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r := b.do(t, adminKey, "POST", "/v1/keys", `{"name":"limited","role":"bot","expires_at":"`+at.Format(time.RFC3339)+`","rate_limit":0.5}`)
	require.Equal(t, 201, r.Code, r.Raw)
	k := r.Body["api_key"].(map[string]any)
	require.Equal(t, at.Format(time.RFC3339), k["expires_at"])
	require.EqualValues(t, 0.5, k["rate_limit"])
	r = b.do(t, adminKey, "GET", "/v1/keys", "")
	require.Contains(t, r.Raw, `"rate_limit":0.5`)
	require.Contains(t, r.Raw, `"expires_at":"`+at.Format(time.RFC3339)+`"`)
	n, err := b.db.Store.CountAudit(context.Background(), b.tenant.ID, "key.create")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	// A rate of 0.01 per second: one request, then the next token is 100 s away, so the
	// second request is refused however slow the machine.
	b := keyServer(t, 0.01)
	slow, unlimited := 0.01, 0.0
	own := b.storedKey(t, "own", store.CreateKeyParams{RateLimit: &slow})
	dflt := b.storedKey(t, "dflt", store.CreateKeyParams{})
	free := b.storedKey(t, "free", store.CreateKeyParams{RateLimit: &unlimited})

	for _, key := range []string{own, dflt} {
		require.Equal(t, 200, b.do(t, key, "GET", "/v1/knowledge-bases", "").Code)
		r := b.do(t, key, "GET", "/v1/knowledge-bases", "")
		require.Equal(t, 429, r.Code, r.Raw)
		require.Equal(t, "rate_limited", errCode(r))
		retry, err := strconv.Atoi(r.Hdr.Get("Retry-After"))
		require.NoError(t, err)
		require.True(t, retry >= 90 && retry <= 100, "Retry-After %d s: the next token is about 100 s away", retry)
		en, zh := errMessages(r)
		require.Contains(t, en, "0.01 requests per second")
		require.Contains(t, en, fmt.Sprintf("retry after %d s", retry))
		require.Contains(t, zh, "秒后重试")
		// Every face of the API counts against the same bucket.
		r = b.do(t, key, "POST", "/v1/chat/completions", `{"model":"kb1","messages":[{"role":"user","content":"hi"}]}`)
		require.Equal(t, 429, r.Code)
		require.NotEmpty(t, r.Hdr.Get("Retry-After"))
		r = b.do(t, key, "POST", "/retrieval", `{"knowledge_id":"kb1","query":"x"}`)
		require.Equal(t, 429, r.Code)
		require.NotEmpty(t, r.Hdr.Get("Retry-After"))
		require.Contains(t, r.Body["error_msg"], "requests per second")
	}
	// A key with rate 0 is unlimited, whatever the default; other keys are not slowed by
	// one that is refused.
	for range 20 {
		require.Equal(t, 200, b.do(t, free, "GET", "/v1/knowledge-bases", "").Code)
	}
	require.Equal(t, 200, b.do(t, adminKey, "GET", "/v1/knowledge-bases", "").Code, "the bootstrap key has its own bucket")
}
