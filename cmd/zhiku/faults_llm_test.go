package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/llm/llmtest"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// The chat model hangs, fails or is not there at all: answers come back extractive, with the
// model's failure in debug, once the generation budget is spent; the hanging generation is
// abandoned, not waited out.
func TestFaultLLMDownOrSlow(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	var mode atomic.Value
	mode.Store("hang")
	fake := llmtest.NewServer(t, func(llmtest.Request) llmtest.Reply {
		switch mode.Load() {
		case "hang":
			return llmtest.Reply{Delay: time.Hour}
		case "500":
			return llmtest.Reply{Status: 500}
		}
		return llmtest.Reply{Text: "E104 表示电机过热 [1]。"}
	})
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_LLM_MODEL": "fake-chat"}
	_, _, err := run(t.Context(), env, "kb", "create", "shop")
	require.NoError(t, err)
	recs := filepath.Join(t.TempDir(), "r.jsonl")
	require.NoError(t, os.WriteFile(recs, []byte(faultRecords), 0o600))
	out, _, err := run(t.Context(), env, "ingest", "--kb", "shop", "--kind", "records", recs)
	require.NoError(t, err, out)

	ask := func(s server) map[string]any {
		r := mustCall(t, s.base, s.key, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": "E104 电机过热怎么办", "debug": true})
		require.Equal(t, 200, r.status, r.raw)
		return r.body
	}
	env["ZHIKU_LLM_BASE_URL"] = fake.BaseURL()
	s := serveWith(t, env)

	mode.Store("ok")
	a := ask(s)
	require.Equal(t, "generated", a["source"], "the model answers when it is up: %v", a)

	mode.Store("hang")
	a = ask(s)
	require.Equal(t, "extractive", a["source"], "%v", a)
	require.Equal(t, true, a["answered"])
	require.Contains(t, a["answer"], "E104")
	require.Contains(t, a["debug"].(map[string]any)["llm_error"], "deadline exceeded")
	require.Eventually(t, func() bool { return fake.Abandoned() >= 1 }, 5*time.Second, 20*time.Millisecond,
		"the generation was abandoned at its deadline, not waited out")

	mode.Store("500")
	a = ask(s)
	require.Equal(t, "extractive", a["source"], "%v", a)
	require.Contains(t, a["debug"].(map[string]any)["llm_error"], "HTTP 500")

	env["ZHIKU_LLM_BASE_URL"] = fmt.Sprintf("http://127.0.0.1:%d/v1", freePort(t)) // nothing listens
	a = ask(serveWith(t, env))
	require.Equal(t, "extractive", a["source"], "%v", a)
	require.Contains(t, a["debug"].(map[string]any)["llm_error"], "connection refused")
}
