package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/llm/llmtest"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// serveWith runs `zhiku serve` in-process with env (plus an address and an admin key) until
// t ends.
func serveWith(t *testing.T, env map[string]string) server {
	t.Helper()
	port := freePort(t)
	key := "fault-admin-key-0123456789"
	full := map[string]string{"ZHIKU_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "ZHIKU_ADMIN_KEY": key, "ZHIKU_LOG_LEVEL": "error"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _, _ = run(ctx, full, "serve"); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := server{base: fmt.Sprintf("http://127.0.0.1:%d", port), key: key}
	waitReady(t, s.base, done)
	return s
}

// providerFault is how the fake provider answers embeddings for now.
type providerFault struct {
	mode      atomic.Value // "ok", "429", "500" or "hang"
	failFirst atomic.Int64 // fail this many more requests with 429, then follow mode
}

func (f *providerFault) set(mode string) { f.mode.Store(mode) }

func (f *providerFault) reply(int, []string) llmtest.Reply {
	if f.failFirst.Add(-1) >= 0 {
		return llmtest.Reply{Status: 429}
	}
	switch f.mode.Load() {
	case "429":
		return llmtest.Reply{Status: 429}
	case "500":
		return llmtest.Reply{Status: 500}
	case "hang":
		return llmtest.Reply{Delay: time.Hour}
	}
	return llmtest.Reply{}
}

func embedEnv(t *testing.T, dbURL string) (map[string]string, *llmtest.Server, *providerFault) {
	t.Helper()
	fault := &providerFault{}
	fault.set("ok")
	fake := llmtest.NewServer(t, nil)
	fake.Embeddings(16, fault.reply)
	return map[string]string{
		"DATABASE_URL": dbURL, "ZHIKU_LOG_LEVEL": "error",
		"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_BASE_URL": fake.BaseURL(), "ZHIKU_EMBED_MODEL": "fake-embed", "ZHIKU_EMBED_DIM": "16",
	}, fake, fault
}

const faultRecords = `{"id":"e104","title":"故障代码 E104","text":"E104 表示电机过热。请断电冷却三十分钟后重启；仍报错请联系售后。"}
{"id":"return","title":"退货政策","text":"签收后七天内可以无理由退货，商品需保持完好并附上发票。"}
`

// The embedding provider rate-limits, fails or hangs. Ingestion retries with backoff and
// then fails naming the provider's answer (a job retries later and lands once the provider
// is back); searches and answers go on from the text leg and say so in "degraded".
func TestFaultEmbeddingProvider(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env, fake, fault := embedEnv(t, db.URL)
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)
	recs := filepath.Join(t.TempDir(), "faq.jsonl")
	require.NoError(t, os.WriteFile(recs, []byte(faultRecords), 0o600))

	t.Log("rate-limited throughout: retried with backoff, then a clear error; nothing half-written")
	fault.set("429")
	start := time.Now()
	out, stderr, err := run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", recs)
	took := time.Since(start)
	require.Error(t, err, out)
	require.Contains(t, out, "1 failed")
	require.Contains(t, stderr, "faq.jsonl")
	require.Contains(t, stderr, "2 of 2 documents failed")
	require.Contains(t, stderr, "HTTP 429")
	require.Contains(t, stderr, "after 4 attempts")
	require.Equal(t, 4, fake.EmbedRequests(), "one batch, tried 4 times; not once more per document")
	t.Logf("gave up after %d requests in %s (backoff 0.5 s doubling, with jitter)", fake.EmbedRequests(), took.Round(time.Millisecond))
	docs, total, err := db.Store.ListDocuments(ctx, kbID(t, db, "shop"), "", "", 10, 0)
	require.NoError(t, err)
	require.Zero(t, total, "%v", docs)

	t.Log("a passing rate limit: the retries carry the batch through")
	fault.set("ok")
	fault.failFirst.Store(2)
	before := fake.EmbedRequests()
	out, _, err = run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", recs)
	require.NoError(t, err, out)
	require.Contains(t, out, "2 new")
	require.Equal(t, 3, fake.EmbedRequests()-before, "two 429s, then the answer")

	s := serveWith(t, env)

	t.Log("an upload while the provider fails: the job records the provider's error, retries, and lands once it is back")
	fault.set("500")
	job := upload(t, s.base, s.key, "shop", "more.jsonl", []byte(`{"id":"e105","title":"故障代码 E105","text":"E105 表示水箱缺水，请加水后重启。"}`+"\n"), "records")
	require.Eventually(t, func() bool {
		j, ok := jobState(s.base, s.key, job)
		errs, _ := j["attempt_errors"].([]any)
		return ok && len(errs) > 0
	}, 60*time.Second, 100*time.Millisecond, "the failed attempt is recorded")
	j, _ := jobState(s.base, s.key, job)
	require.Equal(t, "queued", j["state"], "waiting to retry: %v", j)
	require.Contains(t, fmt.Sprint(j["attempt_errors"]), "HTTP 500")
	fault.set("ok")
	j = waitJobFinal(t, s.base, s.key, job, 2*time.Minute)
	require.Equal(t, "succeeded", j["state"], "%v", j)

	t.Log("queries while the provider fails: text search, said so")
	fault.set("500")
	search := func() apiResult {
		r := mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases/shop/search", map[string]any{"query": "E104 电机过热怎么办"})
		require.Equal(t, 200, r.status, r.raw)
		return r
	}
	r := search()
	require.Contains(t, r.body["degraded"], "vector leg unavailable")
	require.Contains(t, r.body["degraded"], "HTTP 500")
	hits, _ := r.body["results"].([]any)
	require.NotEmpty(t, hits)
	require.Equal(t, "e104", hits[0].(map[string]any)["external_id"], "the text leg finds it")

	ask := func() apiResult {
		r := mustCall(t, s.base, s.key, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": "E104 电机过热怎么办"})
		require.Equal(t, 200, r.status, r.raw)
		return r
	}
	a := ask()
	require.Equal(t, true, a.body["answered"], a.raw)
	require.Contains(t, a.body["answer"], "E104")
	require.Contains(t, a.body["degraded"], "vector leg unavailable")
	require.Equal(t, false, ask().body["cached"], "a degraded answer is not cached")
	dbg := mustCall(t, s.base, s.key, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": "E104 电机过热怎么办", "debug": true})
	require.Contains(t, dbg.body["debug"].(map[string]any)["degraded"], "vector leg unavailable")

	t.Log("the provider is back: after the cooldown a query probes it, and searches are whole again")
	fault.set("ok")
	require.Eventually(t, func() bool { _, degraded := search().body["degraded"]; return !degraded }, 30*time.Second, 500*time.Millisecond)
	require.Nil(t, ask().body["degraded"])
}

// A provider that hangs: each query gives up after its own timeout (not the minute a
// document batch may take), and during the cooldown that follows queries skip it at once.
func TestFaultEmbeddingProviderHangs(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env, fake, fault := embedEnv(t, db.URL)
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)
	recs := filepath.Join(t.TempDir(), "faq.jsonl")
	require.NoError(t, os.WriteFile(recs, []byte(faultRecords), 0o600))
	out, _, err := run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", recs)
	require.NoError(t, err, out)
	s := serveWith(t, env)

	fault.set("hang")
	r := mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases/shop/search", map[string]any{"query": "退货政策"})
	require.Equal(t, 200, r.status, r.raw)
	require.Contains(t, r.body["degraded"], "did not answer in time")
	require.Eventually(t, func() bool { return fake.Abandoned() == 2 }, 5*time.Second, 20*time.Millisecond,
		"the query's attempt and its one retry were given up, not waited out")
	r = mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases/shop/search", map[string]any{"query": "七天无理由退货"})
	require.Equal(t, 200, r.status, r.raw)
	require.Contains(t, r.body["degraded"], "skipped while it recovers")
	require.Equal(t, 2, fake.Abandoned(), "a query in the cooldown asks nothing")
	hits, _ := r.body["results"].([]any)
	require.NotEmpty(t, hits)
	require.True(t, strings.Contains(fmt.Sprint(hits[0]), "退货"))
}

func kbID(t *testing.T, db *storetest.DB, name string) int64 {
	t.Helper()
	tn, err := db.Store.EnsureTenant(context.Background(), "default")
	require.NoError(t, err)
	k, err := db.Store.GetKB(context.Background(), tn.ID, name)
	require.NoError(t, err)
	return k.ID
}
