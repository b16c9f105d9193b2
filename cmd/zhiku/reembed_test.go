package main

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

// fakeEmbeddings speaks OpenAI's /v1/embeddings with deterministic vectors: each text's
// FNV hash spread over dim components, so equal texts get equal vectors.
type fakeEmbeddings struct {
	*httptest.Server
	dim   int
	mu    sync.Mutex
	texts []string
}

func newFakeEmbeddings(t *testing.T, dim int) *fakeEmbeddings {
	t.Helper()
	f := &fakeEmbeddings{dim: dim}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input json.RawMessage `json:"input"`
			Model string          `json:"model"`
		}
		if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		var inputs []string
		if json.Unmarshal(req.Input, &inputs) != nil {
			var one string
			_ = json.Unmarshal(req.Input, &one)
			inputs = []string{one}
		}
		f.mu.Lock()
		f.texts = append(f.texts, inputs...)
		f.mu.Unlock()
		data := make([]map[string]any, len(inputs))
		for i, in := range inputs {
			h := fnv.New64a()
			h.Write([]byte(in))
			x := h.Sum64()
			vec := make([]float32, dim)
			for j := range vec {
				vec[j] = float32(int(x>>(j*8)&0xff) - 128)
			}
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": vec}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": req.Model, "data": data,
			"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEmbeddings) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.texts...)
}

func TestReembedToAnOpenAICompatibleModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	local := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBED_DIM": "256"}
	fake := newFakeEmbeddings(t, 8)
	remote := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBEDDER": "openai",
		"ZHIKU_EMBED_BASE_URL": fake.URL + "/v1", "ZHIKU_EMBED_MODEL": "fake-embed-8", "ZHIKU_EMBED_DIM": "8"}

	_, _, err := run(ctx, local, "kb", "create", "shop")
	require.NoError(t, err)
	records := filepath.Join(t.TempDir(), "records.jsonl")
	require.NoError(t, os.WriteFile(records, []byte(
		`{"id":"r1","title":"扫地机器人","text":"这款扫拖一体机器人支持自动集尘"}`+"\n"+
			`{"id":"r2","title":"退货","text":"签收后七天内可无理由退货"}`+"\n"+
			`{"id":"r3","title":"发货","text":"付款后48小时内发货"}`+"\n"), 0o644))
	_, _, err = run(ctx, local, "ingest", "--kb", "shop", "--kind", "records", records)
	require.NoError(t, err)

	out, _, err := run(ctx, local, "reembed", "--kb", "shop")
	require.NoError(t, err)
	require.Contains(t, out, "already uses local")

	out, errOut, err := run(ctx, remote, "reembed", "--kb", "shop", "--batch", "2")
	require.NoError(t, err, errOut)
	require.Contains(t, out, `re-embedded "shop": 3 chunk(s)`)
	require.Contains(t, out, `-> openai "fake-embed-8" (8 dims)`)
	require.Contains(t, errOut, "reembed shop: 2/3 chunks")
	require.Contains(t, errOut, "reembed shop: 3/3 chunks")
	require.Contains(t, fake.seen(), "扫地机器人\n这款扫拖一体机器人支持自动集尘", "the index text ingestion embedded: title, newline, text")

	def, err := db.Store.TenantByName(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.GetKB(ctx, def.ID, "shop")
	require.NoError(t, err)
	require.Equal(t, [3]any{"openai", "fake-embed-8", 8}, [3]any{k.Embedder, k.EmbeddingModel, k.EmbeddingDim})
	var models []string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT array_agg(DISTINCT embedding_model) FROM chunks WHERE kb_id = $1`, k.ID).Scan(&models))
	require.Equal(t, []string{"fake-embed-8"}, models)

	// A server configured with the new model searches with it; one still on the old refuses.
	search := func(env map[string]string) ([]kb.Hit, error) {
		cfg, err := config.Load(func(key string) string { return env[key] })
		require.NoError(t, err)
		eng, err := (&app{cfg: cfg}).buildEngines(db.Store)
		require.NoError(t, err)
		return eng.search.Search(ctx, retrieval.Request{KB: k, Query: "发货\n付款后48小时内发货", Mode: kb.ModeVector, TopK: 3})
	}
	hits, err := search(remote)
	require.NoError(t, err)
	require.Equal(t, "r3", hits[0].ExternalID)
	require.InDelta(t, 1.0, *hits[0].Scores.Vector, 1e-6)
	_, err = search(local)
	require.ErrorIs(t, err, kb.ErrInvalid)

	out, _, err = run(ctx, remote, "reembed", "--kb", "shop")
	require.NoError(t, err)
	require.Contains(t, out, `already uses openai "fake-embed-8"`)
	_, _, err = run(ctx, remote, "reembed")
	require.ErrorContains(t, err, "--kb")
}

func TestReindexCommandKeepsDictionaryWordsWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBED_DIM": "256"}
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)
	records := filepath.Join(t.TempDir(), "records.jsonl")
	require.NoError(t, os.WriteFile(records, []byte(`{"id":"r1","title":"扫地机器人","text":"这款扫拖一体机器人支持自动集尘"}`+"\n"), 0o644))
	_, _, err = run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", records)
	require.NoError(t, err)
	def, err := db.Store.TenantByName(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.GetKB(ctx, def.ID, "shop")
	require.NoError(t, err)
	tokens := func() []string {
		var toks []string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT tsvector_to_array(tsv) FROM chunks WHERE kb_id = $1`, k.ID).Scan(&toks))
		return toks
	}
	require.NotContains(t, tokens(), "扫拖一体")
	_, err = db.Store.UpdateKB(ctx, def.ID, k.ID, kb.KBPatch{Settings: json.RawMessage(`{"dictionary":["扫拖一体"]}`)})
	require.NoError(t, err)

	out, errOut, err := run(ctx, env, "reindex", "--kb", "shop")
	require.NoError(t, err, errOut)
	require.Contains(t, out, `re-indexed "shop": 1 chunk(s)`)
	require.Contains(t, errOut, "reindex shop: 1/1 chunks")
	require.Contains(t, tokens(), "扫拖一体")
}

func TestServerReindexesInBackgroundAfterDictionaryPatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBED_DIM": "256"}
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)
	records := filepath.Join(t.TempDir(), "records.jsonl")
	require.NoError(t, os.WriteFile(records, []byte(`{"id":"w1","title":"手表","text":"小天才电话手表支持定位"}`+"\n"), 0o644))
	_, _, err = run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", records)
	require.NoError(t, err)
	def, err := db.Store.TenantByName(ctx, kb.DefaultTenant)
	require.NoError(t, err)

	const key = "test-admin-key-reindex-0123456789"
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	a := &app{log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: cfg}
	eng, err := a.buildEngines(db.Store)
	require.NoError(t, err)
	jc, err := a.jobs(db.Pool, db.Store, eng, true) // the re-index runs on River, as in `zhiku worker`
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- jc.Run(wctx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	srv := httptest.NewServer(api.New(api.Deps{
		Log: a.log, Store: db.Store, DB: db.Pool, AdminKey: key, DefaultTenantID: def.ID,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: localEmbeddingModel, Dimension: 256},
		Reindexer: reindexAdapter{jobs: jc, log: a.log},
	}))
	t.Cleanup(srv.Close)
	call := func(method, body string) map[string]any {
		req, err := http.NewRequest(method, srv.URL+"/v1/knowledge-bases/shop", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out
	}
	call(http.MethodPatch, `{"settings":{"dictionary":["小天才"]}}`)
	var status map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		status, _ = call(http.MethodGet, "")["reindex"].(map[string]any)
		if status != nil && (status["state"] == "done" || status["state"] == "failed") {
			break
		}
	}
	require.Equal(t, "done", status["state"], status)
	require.Equal(t, float64(1), status["total"])
	var toks []string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT tsvector_to_array(tsv) FROM chunks`).Scan(&toks))
	require.Contains(t, toks, "小天才")
}

// `zhiku reembed --queue` hands the run to a worker; --status follows it to the end.
func TestReembedQueuedRunsOnAWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	local := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBED_DIM": "256"}
	fake := newFakeEmbeddings(t, 8)
	remote := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_EMBEDDER": "openai",
		"ZHIKU_EMBED_BASE_URL": fake.URL + "/v1", "ZHIKU_EMBED_MODEL": "fake-embed-8", "ZHIKU_EMBED_DIM": "8"}
	_, _, err := run(ctx, local, "kb", "create", "shop")
	require.NoError(t, err)
	records := filepath.Join(t.TempDir(), "records.jsonl")
	require.NoError(t, os.WriteFile(records, []byte(`{"id":"r1","title":"发货","text":"付款后48小时内发货"}`+"\n"+
		`{"id":"r2","title":"退货","text":"签收后七天内可无理由退货"}`+"\n"), 0o644))
	_, _, err = run(ctx, local, "ingest", "--kb", "shop", "--kind", "records", records)
	require.NoError(t, err)

	out, _, err := run(ctx, remote, "reembed", "--kb", "shop", "--status")
	require.NoError(t, err)
	require.Contains(t, out, "no re-embedding was queued")
	out, _, err = run(ctx, remote, "reembed", "--kb", "shop", "--queue")
	require.NoError(t, err)
	require.Contains(t, out, `queued re-embedding of "shop" to openai "fake-embed-8" (8 dims)`)
	out, _, err = run(ctx, remote, "reembed", "--kb", "shop", "--status")
	require.NoError(t, err)
	require.Contains(t, out, "re-embedding queued, 0/0 chunks; now local")
	require.Empty(t, fake.seen(), "nothing runs without a worker")

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, _, err := run(wctx, remote, "worker"); done <- err }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		out, _, err = run(ctx, remote, "reembed", "--kb", "shop", "--status")
		require.NoError(t, err)
		return strings.Contains(out, "re-embedding done") || strings.Contains(out, "failed")
	}, 60*time.Second, 100*time.Millisecond)
	require.Contains(t, out, `re-embedding done, 2/2 chunks; now openai "fake-embed-8" (8 dims)`)
	require.Len(t, fake.seen(), 2)
}
