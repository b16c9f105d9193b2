package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/store"
)

// With the database unreachable, calls that need it answer 503 with a bilingual error and
// a Retry-After, never a 500. (cmd/zhiku's fault tests stop and restart a real PostgreSQL.)
func TestDatabaseDownIs503(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the pool connects lazily, so every query fails to connect.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/zhiku?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	defer pool.Close()
	h := api.New(api.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: store.New(pool), DB: pool, AdminKey: adminKey})
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, tc := range []struct{ method, path, key, body string }{
		{"GET", "/readyz", "", ""},
		{"GET", "/v1/knowledge-bases", adminKey, ""},                              // the bootstrap key needs no lookup
		{"POST", "/v1/knowledge-bases/shop/search", adminKey, `{"query":"退货"}`},   // the knowledge base's lookup fails
		{"GET", "/v1/knowledge-bases", "zk_0123456789abcdef0123456789abcdef", ""}, // the key's lookup fails
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body struct {
			Error struct {
				Code, Message string
				MessageZh     string `json:"message_zh"`
			} `json:"error"`
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, json.Unmarshal(raw, &body), string(raw))
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s %s: %s", tc.method, tc.path, raw)
		require.Equal(t, "database_unavailable", body.Error.Code, tc.path)
		require.Contains(t, body.Error.Message, "database is unavailable")
		require.Contains(t, body.Error.MessageZh, "数据库")
		require.Equal(t, "5", res.Header.Get("Retry-After"))
	}
}
