package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// panickyStore panics where listing knowledge bases would read the database.
type panickyStore struct{ *store.Store }

func (panickyStore) ListKBs(context.Context, int64, []int64) ([]kb.KnowledgeBase, error) {
	panic("store exploded")
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A handler's panic is logged with its stack, and with no secret the request carried: not
// the bearer key, a session cookie, a CSRF token, nor what was in the body or query.
func TestPanicLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), kb.DefaultTenant)
	require.NoError(t, err)
	logs := &syncBuffer{}
	h := api.New(api.Deps{
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Store: panickyStore{db.Store}, DB: db.Pool,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, Accounts: db.Store,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 256},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	const cookie, csrf, querySecret = "session-secret-cookie-8086", "csrf-secret-token-6502", "query-secret-1984"
	req, err := http.NewRequest("GET", srv.URL+"/v1/knowledge-bases?token="+querySecret, strings.NewReader(""))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Cookie", "zhiku_session="+cookie)
	req.Header.Set("X-CSRF-Token", csrf)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 500, res.StatusCode)
	// The server stays up.
	b := &testBundle{srv: srv}
	require.Equal(t, 200, b.do(t, adminKey, "GET", "/v1/session", "").Code)

	out := logs.String()
	require.Contains(t, out, "store exploded", "the panic is logged")
	require.Contains(t, out, "goroutine", "with its stack")
	for _, secret := range []string{adminKey, cookie, csrf, querySecret} {
		require.NotContains(t, out, secret)
	}
}
