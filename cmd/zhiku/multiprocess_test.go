package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// runAsZhiku, set in a child's environment, makes the test binary run main() instead of the
// tests: the test starts real zhiku processes (each with its own pool, River client, caches
// and listeners) without a separate `go build`, which costs about a minute here.
const runAsZhiku = "ZHIKU_TEST_RUN_AS_ZHIKU"

func TestMain(m *testing.M) {
	if os.Getenv(runAsZhiku) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	cleanupFaultTests()
	os.Exit(code)
}

// child is one running zhiku process; its output goes to a file the test prints on failure.
type child struct {
	cmd *exec.Cmd
	log string
}

// startChild runs `zhiku args...` as a child process with env as its whole environment.
func startChild(t *testing.T, env map[string]string, args ...string) *child {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), strings.Join(args, "_")+".log")
	f, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{runAsZhiku + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	p := &child{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		p.stop(t)
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- zhiku %s output:\n%s", strings.Join(args, " "), b)
		}
	})
	return p
}

// stop sends SIGTERM and waits (the process drains and hands its jobs back).
func (p *child) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "zhiku exits cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		t.Errorf("zhiku did not stop within 30 s of SIGTERM")
	}
}

func (s server) upload(t *testing.T, name, kind string, data []byte) int64 {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("kind", kind))
	fw, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, _ = fw.Write(data)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", s.base+"/v1/knowledge-bases/shop/documents", &body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusAccepted, res.StatusCode, "%s", raw)
	var out struct {
		Job struct {
			ID int64 `json:"id"`
		} `json:"job"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out.Job.ID
}

// waitJob polls a job through server s until it is final and returns it.
func (s server) waitJob(t *testing.T, id int64) map[string]any {
	t.Helper()
	var job map[string]any
	require.Eventually(t, func() bool {
		code, out := s.call(t, "GET", fmt.Sprintf("/v1/jobs/%d", id), nil)
		require.Equal(t, 200, code, "%v", out)
		job, _ = out["job"].(map[string]any)
		st := job["state"]
		return st == "succeeded" || st == "failed" || st == "cancelled"
	}, 180*time.Second, 50*time.Millisecond)
	return job
}

// Two `zhiku serve --no-worker` and one `zhiku worker` on one database, as separate
// processes: uploads through either server run once, on the worker; both servers' answer
// caches drop what the new documents change; answers are right on both.
func TestServersWithoutWorkersAndOneWorker(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	const key = "e2e-admin-key-multiprocess-0123"
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_ADMIN_KEY": key, "ZHIKU_LOG_LEVEL": "info", "ZHIKU_LOG_FORMAT": "text"}
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)

	servers := make([]server, 2)
	for i := range servers {
		port := freePort(t)
		senv := map[string]string{"ZHIKU_ADDR": fmt.Sprintf("127.0.0.1:%d", port)}
		for k, v := range env {
			senv[k] = v
		}
		startChild(t, senv, "serve", "--no-worker")
		servers[i] = server{base: fmt.Sprintf("http://127.0.0.1:%d", port), key: key}
	}
	for _, s := range servers {
		require.Eventually(t, func() bool {
			res, err := http.Get(s.base + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		}, 180*time.Second, 50*time.Millisecond)
	}
	a, b := servers[0], servers[1]

	// Both servers cache "not answered" for questions the knowledge base cannot answer yet.
	questions := map[string]string{"E104 是什么故障": "电机过热", "E201 是什么故障": "水箱缺水", "E305 是什么故障": "滤网堵塞"}
	for _, s := range servers {
		for q := range questions {
			require.Equal(t, false, s.ask(t, q)["answered"])
			require.Equal(t, true, s.ask(t, q)["cached"], "the repeat comes from the cache")
		}
	}

	// Jobs queued with no worker wait: the servers do not run them.
	first := a.upload(t, "e104.jsonl", "records", []byte(`{"id":"e104","title":"故障代码 E104","text":"E104 表示电机过热。请断电冷却30分钟后重启。"}`+"\n"))
	time.Sleep(2 * time.Second)
	code, out := b.call(t, "GET", fmt.Sprintf("/v1/jobs/%d", first), nil)
	require.Equal(t, 200, code)
	require.Equal(t, "queued", out["job"].(map[string]any)["state"], "no server ran it")

	worker := startChild(t, env, "worker")
	ids := []int64{first,
		b.upload(t, "e201.jsonl", "records", []byte(`{"id":"e201","title":"故障代码 E201","text":"E201 表示水箱缺水。请加水后按启动键。"}`+"\n")),
		a.upload(t, "e305.jsonl", "records", []byte(`{"id":"e305","title":"故障代码 E305","text":"E305 表示滤网堵塞。请取出滤网用清水冲洗。"}`+"\n")),
	}
	for i := range 6 { // more uploads through both servers, to give a duplicate run a chance
		s := servers[i%2]
		ids = append(ids, s.upload(t, fmt.Sprintf("faq%d.jsonl", i), "records",
			[]byte(fmt.Sprintf(`{"id":"tip%d","title":"保养提示 %d","text":"第 %d 条保养提示：每月清洁一次刷头。"}`+"\n", i, i, i))))
	}
	for i, id := range ids {
		job := servers[(i+1)%2].waitJob(t, id) // polled through the other server
		require.Equal(t, "succeeded", job["state"], "%v", job)
		require.Equal(t, float64(1), job["attempt"], "ran once: %v", job)
	}

	// Each River job was attempted once, by the worker's client alone.
	var attemptedBy []string
	require.NoError(t, db.Pool.QueryRow(ctx, `
		SELECT array_agg(DISTINCT b) FROM river_job r, unnest(r.attempted_by) b WHERE r.kind = 'zhiku_ingest'`).Scan(&attemptedBy))
	require.Len(t, attemptedBy, 1, "one process ran the uploads: %v", attemptedBy)
	var runs, jobsDone int
	require.Eventually(t, func() bool { // River marks its jobs completed in batches, just after the records
		require.NoError(t, db.Pool.QueryRow(ctx, `
			SELECT coalesce(sum(r.attempt), 0), count(*) FROM river_job r WHERE r.kind = 'zhiku_ingest' AND r.state = 'completed'`).Scan(&runs, &jobsDone))
		return jobsDone == len(ids)
	}, 60*time.Second, 20*time.Millisecond, "%d of %d River jobs completed", jobsDone, len(ids))
	require.Equal(t, len(ids), runs, "no job ran twice")
	var docs, versions int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE is_current), count(*) FROM documents`).Scan(&docs, &versions))
	require.Equal(t, len(ids), docs)
	require.Equal(t, len(ids), versions, "no document was written twice")

	// Both servers' caches dropped the stale "not answered", and both answer right.
	for _, s := range servers {
		for q, want := range questions {
			require.Eventually(t, func() bool { return s.ask(t, q)["answered"] == true }, 60*time.Second, 20*time.Millisecond,
				"%s still answers %q from its stale cache", s.base, q)
			require.Contains(t, s.ask(t, q)["answer"], want)
		}
	}

	// An update through one server replaces the answer on both.
	id := b.upload(t, "e104-v2.jsonl", "records", []byte(`{"id":"e104","title":"故障代码 E104","text":"E104 表示电机过热保护已触发。请断电冷却60分钟后重启。"}`+"\n"))
	require.Equal(t, "succeeded", a.waitJob(t, id)["state"])
	for _, s := range servers {
		require.Eventually(t, func() bool {
			return strings.Contains(fmt.Sprint(s.ask(t, "E104 是什么故障")["answer"]), "60分钟")
		},
			60*time.Second, 20*time.Millisecond, "%s answers from the old version", s.base)
	}

	// A dictionary change made through one server is re-indexed by the worker and reported
	// by the other.
	code, out = a.call(t, "PATCH", "/v1/knowledge-bases/shop", map[string]any{"settings": map[string]any{"dictionary": []string{"电机过热"}}})
	require.Equal(t, 200, code, "%v", out)
	var reindex map[string]any
	require.Eventually(t, func() bool {
		_, out := b.call(t, "GET", "/v1/knowledge-bases/shop", nil)
		reindex, _ = out["reindex"].(map[string]any)
		return reindex != nil && (reindex["state"] == "done" || reindex["state"] == "failed")
	}, 120*time.Second, 50*time.Millisecond)
	require.Equal(t, "done", reindex["state"], "%v", reindex)
	require.Equal(t, float64(len(ids)), reindex["total"])

	// A key revoked through one server is refused by the other well before its cached
	// entry there would expire (keyTTL, 5 s): every process hears the revocation.
	code, out = a.call(t, "POST", "/v1/keys", map[string]any{"name": "bot", "role": "bot"})
	require.Equal(t, 201, code, "%v", out)
	bot := server{base: b.base, key: out["key"].(string)}
	keyID := int64(out["api_key"].(map[string]any)["id"].(float64))
	code, _ = bot.call(t, "GET", "/v1/knowledge-bases", nil)
	require.Equal(t, 200, code, "the new key works on the other server, which now caches it")
	code, _ = a.call(t, "DELETE", fmt.Sprintf("/v1/keys/%d", keyID), nil)
	require.Equal(t, 204, code)
	revoked := time.Now()
	require.Eventually(t, func() bool {
		code, _ := bot.call(t, "GET", "/v1/knowledge-bases", nil)
		return code == 401
	}, 2500*time.Millisecond, 10*time.Millisecond, "the other server still takes the revoked key")
	t.Logf("the other server refused the revoked key %s after the revocation", time.Since(revoked).Round(time.Millisecond))

	worker.stop(t)
}
