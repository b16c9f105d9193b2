package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// fakeProvider speaks OpenAI's /v1/embeddings: each text becomes a deterministic 8-dim
// vector of its character bigram hashes, so similar texts are close.
func fakeProvider(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusUnauthorized)
			return
		}
		calls.Add(1)
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		data := make([]map[string]any, len(req.Input))
		for i, text := range req.Input {
			v := make([]float64, 8)
			rs := []rune(text)
			for j := 0; j+1 < len(rs); j++ {
				h := sha256.Sum256([]byte(string(rs[j : j+2])))
				v[h[0]%8] += 1
			}
			v[0] += 0.01
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// remoteEnv configures zhiku for db with the fake provider as its embedder, counting calls.
func remoteEnv(t *testing.T, db *storetest.DB, calls *atomic.Int64) map[string]string {
	t.Helper()
	srv := fakeProvider(t, calls)
	return map[string]string{
		"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error",
		"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_BASE_URL": srv.URL + "/v1", "ZHIKU_EMBED_API_KEY": "sk-test",
		"ZHIKU_EMBED_MODEL": "fake-embed", "ZHIKU_EMBED_DIM": "8",
	}
}

func TestRemoteEmbedderEndToEnd(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	var calls atomic.Int64
	env := remoteEnv(t, db, &calls)
	ctx := context.Background()
	dir := t.TempDir()
	recs := filepath.Join(dir, "recs.jsonl")
	require.NoError(t, os.WriteFile(recs, []byte(strings.Join([]string{
		`{"id":"r1","title":"退货政策","text":"七天无理由退货，商品未使用且包装完好。"}`,
		`{"id":"r2","title":"E104","text":"E104 表示电机过热，请断电冷却后重启。"}`,
	}, "\n")), 0o600))
	queries := filepath.Join(dir, "q.jsonl")
	require.NoError(t, os.WriteFile(queries, []byte(`{"id":"q1","text":"E104 电机过热怎么办","relevant":["r2"]}`+"\n"), 0o600))

	_, _, err := run(ctx, env, "kb", "create", "remote")
	require.NoError(t, err)
	out, _, err := run(ctx, env, "ingest", "--kb", "remote", "--kind", "records", recs)
	require.NoError(t, err, out)
	require.Contains(t, out, "2 new")
	require.Positive(t, calls.Load(), "documents were embedded by the provider")

	var model string
	var dim int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT embedding_model, vector_dims(embedding) FROM chunks LIMIT 1`).Scan(&model, &dim))
	require.Equal(t, "fake-embed", model)
	require.Equal(t, 8, dim)

	out, _, err = run(ctx, env, "eval", "--kb", "remote", "--queries", queries, "--json")
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m))
	require.Equal(t, 1.0, m["recall@1"])

	// A knowledge base built with the remote model cannot be searched with another one.
	local := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	_, _, err = run(ctx, local, "eval", "--kb", "remote", "--queries", queries)
	require.ErrorContains(t, err, "fake-embed")

	// A provider that rejects the key fails the file with the provider's reason.
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["ZHIKU_EMBED_API_KEY"] = "sk-wrong"
	require.NoError(t, os.WriteFile(recs, []byte(`{"id":"r3","text":"新的记录"}`), 0o600))
	out, _, err = run(ctx, bad, "ingest", "--kb", "remote", "--kind", "records", recs)
	require.Error(t, err)
	require.Contains(t, out, "FAILED")
	require.Contains(t, out, "401")
}

// The retrieval benchmark measures the configured embedder, so a remote model's figures
// can be taken too; its --rebuild rows report the rebuilt index's own size.
func TestBenchRetrievalWithConfiguredEmbedder(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	var calls atomic.Int64
	env := remoteEnv(t, db, &calls)
	ctx := context.Background()
	out, errOut, err := run(ctx, env, "bench", "retrieval", "--sizes", "400", "--queries", "30", "--qps-duration", "100ms",
		"--ef-search", "40,100", "--rebuild", "8:32")
	require.NoError(t, err, errOut)
	require.Positive(t, calls.Load(), "chunks and queries were embedded by the provider")
	require.Contains(t, out, "8-dimension fake-embed vectors")
	for _, mode := range []string{"hybrid", "vector", "text"} {
		require.Regexp(t, `\s`+mode+`\s+\d+\.\d+\s+\d+\.\d+\s+\d+`, out)
	}
	// corpus chunks m ef_construction build_s index_MB ef_search recall@10 …: the rebuilt
	// index (m 8) has a size.
	require.Regexp(t, `generated\s+400\s+8\s+32\s+\d+\.\d\s+(?:[1-9]\d*\.\d|0\.[1-9])\s+40\s`, out)

	_, _, err = run(ctx, env, "bench", "retrieval", "--sizes", "400", "--dim", "256")
	require.ErrorContains(t, err, "--dim sizes the local embedder")
}

// --fake-embedder measures through the openai embedder against the fake dense model it
// serves on loopback, whatever ZHIKU_EMBEDDER says; a bad spec is refused before anything
// is loaded.
func TestBenchRetrievalFakeEmbedder(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()
	out, errOut, err := run(ctx, env, "bench", "retrieval", "--sizes", "400", "--queries", "30", "--qps-duration", "100ms",
		"--ef-search", "40,100", "--units", "off", "--fake-embedder", "lsa:16", "--dim", "64")
	require.NoError(t, err, errOut)
	require.Contains(t, errOut, "fake embedder (LSA rank 16, 64 dims)")
	require.Contains(t, out, "64-dimension fake-lsa-16 vectors")
	require.Regexp(t, `generated\s+400\s+16\s+64\s+\d+\.\d\s+\d+\.\d\s+100\s+[01]\.\d{3}`, out)

	_, _, err = run(ctx, env, "bench", "retrieval", "--sizes", "400", "--fake-embedder", "bert:16")
	require.ErrorContains(t, err, "--fake-embedder")
	_, _, err = run(ctx, env, "bench", "scale", "--chunks", "1000", "--fake-embedder", "lsa:2")
	require.ErrorContains(t, err, "--fake-embedder")
}
