package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/llm/llmtest"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// SIGTERM reaches a serving process (the built binary) while answers are being generated
// and an upload is being ingested: every answer in flight completes (200, generated), the
// process exits cleanly, and the job it was running goes back to the queue, where a second
// process picks it up and finishes it, every record landing once.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	fake := llmtest.NewServer(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Text: "E104 表示电机过热，请断电冷却 [1]。", Delay: 3 * time.Second} // slow answers
	})
	fake.Embeddings(16, func(_ int, inputs []string) llmtest.Reply {
		if len(inputs) > 1 {
			return llmtest.Reply{Delay: 2 * time.Second} // slow document batches, quick queries
		}
		return llmtest.Reply{}
	})
	key := "sigterm-admin-key-0123456789"
	env := map[string]string{
		"DATABASE_URL": db.URL, "ZHIKU_ADMIN_KEY": key, "ZHIKU_LOG_FORMAT": "text", "ZHIKU_LOG_LEVEL": "info",
		"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_BASE_URL": fake.BaseURL(), "ZHIKU_EMBED_MODEL": "fake-embed", "ZHIKU_EMBED_DIM": "16",
		"ZHIKU_LLM_BASE_URL": fake.BaseURL(), "ZHIKU_LLM_MODEL": "fake-chat", "ZHIKU_INGEST_WORKERS": "1", "ZHIKU_SHUTDOWN_TIMEOUT": "30s",
	}
	ctx := context.Background()
	for _, name := range []string{"shop", "bulk"} {
		_, _, err := run(ctx, env, "kb", "create", name)
		require.NoError(t, err)
	}
	recs := filepath.Join(t.TempDir(), "r.jsonl")
	require.NoError(t, os.WriteFile(recs, []byte(faultRecords), 0o600))
	out, _, err := run(ctx, env, "ingest", "--kb", "shop", "--kind", "records", recs)
	require.NoError(t, err, out)

	a := startProc(t, env)
	const n = 900
	job := upload(t, a.base, key, "bulk", "bulk.jsonl", recordsJSONL("S", n), "records")
	require.Eventually(t, func() bool {
		j, ok := jobState(a.base, key, job)
		return ok && j["state"] == "running"
	}, 60*time.Second, 50*time.Millisecond, "the job runs")

	const inFlight = 6
	type result struct {
		status int
		source any
		err    error
	}
	results := make(chan result, inFlight)
	var wg sync.WaitGroup
	for i := range inFlight {
		wg.Go(func() {
			r, err := call(ctx, &http.Client{}, a.base, key, "POST", "/v1/answer",
				map[string]any{"knowledge_base": "shop", "question": fmt.Sprintf("E104 电机过热怎么办 %d", i)})
			results <- result{r.status, r.body["source"], err}
		})
	}
	require.Eventually(t, func() bool { return len(fake.Requests()) >= inFlight }, 30*time.Second, 10*time.Millisecond,
		"every answer is waiting on the model")

	require.NoError(t, a.stopWith(t, syscall.SIGTERM, 60*time.Second), "a clean exit")
	wg.Wait()
	close(results)
	for r := range results {
		require.NoError(t, r.err, "an answer in flight was cut off")
		require.Equal(t, 200, r.status)
		require.Equal(t, "generated", r.source, "completed with the model's answer, not cut short")
	}
	_, err = http.Get(a.base + "/healthz")
	require.Error(t, err, "the listener is closed")
	require.Contains(t, a.logs.String(), "shutting down")

	// Released: not left running under a lease for the next process to wait out.
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	j, err := db.Store.GetJob(ctx, tn.ID, job)
	require.NoError(t, err)
	require.Equal(t, jobs.StateQueued, j.State, "the job is back in the queue: %+v", j)

	b := startProc(t, env)
	final := waitJobFinal(t, b.base, key, job, 3*time.Minute)
	require.Equal(t, "succeeded", final["state"], "%v", final)
	docs, ok := documentsOf(b.base, key, "bulk")
	require.True(t, ok)
	require.Len(t, docs, n)
	for id, d := range docs {
		require.Equal(t, float64(1), d["chunks"], id)
	}
}
