package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store"
)

// PostgreSQL stops under a running server: readiness fails, calls that need the database
// answer 503 with a bilingual error (never a 500), and once PostgreSQL is back the same
// process serves again, its pool reconnecting, without a restart.
func TestFaultDatabaseDownAndBack(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	s := startServe(t, pg.createDB(t, "zhiku"))
	require.Equal(t, 201, mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases", map[string]any{"name": "shop"}).status)
	r := mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases/shop/faqs", map[string]any{"question": "你们的营业时间是？", "answer": "客服每天 8:00–23:00 在线。"})
	require.Equal(t, 201, r.status, r.raw)

	var asked atomic.Int64
	type probe struct {
		name, key, method, path string
		body                    func() any
		cacheable               bool // may be answered from memory while the database is down
	}
	probes := []probe{
		{name: "list knowledge bases", key: s.key, method: "GET", path: "/v1/knowledge-bases"},
		{name: "search", key: s.key, method: "POST", path: "/v1/knowledge-bases/shop/search", body: func() any { return map[string]any{"query": "营业时间"} }},
		{name: "FAQ list", key: s.key, method: "GET", path: "/v1/knowledge-bases/shop/faqs"},
		// A key never seen before must be looked up: 503, not 401.
		{name: "unknown key", key: "zk_" + strings.Repeat("0", 40), method: "GET", path: "/v1/knowledge-bases"},
		// Answers may come from what the process holds in memory (the curated index, the
		// answer cache); when they need the database they are a 503 too.
		{name: "answer", key: s.key, method: "POST", path: "/v1/answer", cacheable: true, body: func() any {
			return map[string]any{"knowledge_base": "shop", "question": fmt.Sprintf("营业时间是几点 %d", asked.Add(1))}
		}},
	}
	do := func(p probe) apiResult {
		var body any
		if p.body != nil {
			body = p.body()
		}
		r, err := call(context.Background(), http.DefaultClient, s.base, p.key, p.method, p.path, body)
		require.NoError(t, err, p.name)
		return r
	}
	for _, p := range probes {
		if p.name != "unknown key" {
			require.Equal(t, 200, do(p).status, p.name)
		}
	}

	pg.stop(t)
	require.Equal(t, 200, mustCall(t, s.base, "", "GET", "/healthz", nil).status, "alive while the database is down")
	ready := mustCall(t, s.base, "", "GET", "/readyz", nil)
	require.Equal(t, 503, ready.status)
	require.Equal(t, "database_unavailable", ready.body["error"].(map[string]any)["code"])
	for _, p := range probes {
		r := do(p)
		if p.cacheable && r.status == 200 {
			continue
		}
		require.Equal(t, 503, r.status, "%s: %s", p.name, r.raw)
		e, _ := r.body["error"].(map[string]any)
		require.Equal(t, "database_unavailable", e["code"], p.name)
		require.Contains(t, e["message"], "database is unavailable", p.name)
		require.Contains(t, e["message_zh"], "数据库", p.name)
		require.NotEmpty(t, r.body["request_id"])
		require.Equal(t, "5", r.header.Get("Retry-After"), p.name)
	}
	upload := func() int {
		req, _ := http.NewRequest("POST", s.base+"/v1/knowledge-bases/shop/documents", strings.NewReader("--x--\r\n"))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Less(t, upload(), 500, "a malformed upload is still a 4xx")

	// Back: the same process serves again. Until it does, calls are 503s, never 500s.
	pg.start(t)
	statuses := map[int]int{}
	require.Eventually(t, func() bool {
		all := true
		for _, p := range append([]probe{{name: "ready", method: "GET", path: "/readyz"}}, probes...) {
			r := do(p)
			statuses[r.status]++
			want := 200
			if p.name == "unknown key" {
				want = 401
			}
			all = all && r.status == want
		}
		return all
	}, 60*time.Second, 200*time.Millisecond, "recovered without a restart; statuses seen: %v", statuses)
	for code := range statuses {
		require.Contains(t, []int{200, 401, 503}, code, "statuses seen while reconnecting: %v", statuses)
	}
	r = mustCall(t, s.base, s.key, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": "你们的营业时间是？"})
	require.Equal(t, "客服每天 8:00–23:00 在线。", r.body["answer"], r.raw)
}

// PostgreSQL restarts while an upload is being ingested: the job resumes (or fails naming
// the database), no document is ever visible with part of its chunks, and in the end every
// record is there once, with its one chunk, however often the job ran.
func TestFaultDatabaseRestartDuringIngestion(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	dbURL := pg.createDB(t, "zhiku")
	port := freePort(t)
	key := "fault-admin-key-0123456789"
	env := map[string]string{"DATABASE_URL": dbURL, "ZHIKU_ADDR": fmt.Sprintf("127.0.0.1:%d", port),
		"ZHIKU_ADMIN_KEY": key, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_INGEST_WORKERS": "1"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _, _, _ = run(ctx, env, "serve"); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitReady(t, base, done)
	require.Equal(t, 201, mustCall(t, base, key, "POST", "/v1/knowledge-bases", map[string]any{"name": "bulk"}).status)

	const n = 5000 // enough that an idle machine is still writing when the database stops
	job := upload(t, base, key, "bulk", "bulk.jsonl", recordsJSONL("R", n), "records")

	// A watcher lists the documents all along: a ready document always has its one chunk.
	var (
		mu        sync.Mutex
		halfSeen  []string
		listings  int
		stopWatch = make(chan struct{})
		watched   = make(chan struct{})
	)
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(300 * time.Millisecond):
			}
			docs, ok := documentsOf(base, key, "bulk")
			if !ok {
				continue // the database is down
			}
			mu.Lock()
			listings++
			for id, d := range docs {
				if d["status"] == "ready" && d["chunks"] != float64(1) {
					halfSeen = append(halfSeen, fmt.Sprintf("%s: %v chunks", id, d["chunks"]))
				}
			}
			mu.Unlock()
		}
	}()

	// Restart once the job is writing.
	var last atomic.Value
	require.Eventually(t, func() bool {
		j, ok := jobState(base, key, job)
		if !ok {
			return false
		}
		last.Store(fmt.Sprint(j))
		p, _ := j["progress"].(map[string]any)
		done, _ := p["documents_done"].(float64)
		return j["state"] == "running" && done >= 20 || j["state"] != "running" && j["state"] != "queued"
	}, 120*time.Second, 50*time.Millisecond, "the job starts writing")
	require.Contains(t, last.Load(), "state:running", "the job ended before the restart")
	pg.stop(t)
	time.Sleep(time.Second)
	pg.start(t)

	j := waitJobFinal(t, base, key, job, 4*time.Minute)
	close(stopWatch)
	<-watched
	t.Logf("job after the restart: state %v, attempt %v, attempt errors %v, error %q", j["state"], j["attempt"], j["attempt_errors"], j["error"])
	if j["state"] != "succeeded" {
		msg := strings.ToLower(fmt.Sprint(j["error"]))
		require.Equal(t, "failed", j["state"])
		require.Contains(t, msg, "database", "a job that fails of the restart says so")
		// The upload again lands what is missing, once.
		j = waitJobFinal(t, base, key, upload(t, base, key, "bulk", "bulk.jsonl", recordsJSONL("R", n), "records"), 4*time.Minute)
		require.Equal(t, "succeeded", j["state"], "%v", j)
	}

	mu.Lock()
	require.Empty(t, halfSeen, "documents seen ready without their chunk")
	require.Positive(t, listings)
	mu.Unlock()
	docs, ok := documentsOf(base, key, "bulk")
	require.True(t, ok)
	require.Len(t, docs, n, "every record once")
	for i := range n {
		d, ok := docs[fmt.Sprintf("R-%04d", i)]
		require.True(t, ok, "R-%04d", i)
		require.Equal(t, "ready", d["status"])
		require.Equal(t, float64(1), d["chunks"], "R-%04d has exactly its one chunk", i)
	}
	// The vector index set aside for the bulk write is back (searches are not left exact).
	k := mustCall(t, base, key, "GET", "/v1/knowledge-bases/bulk", nil)
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var indexes int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_indexes WHERE indexname = $1`,
		store.VectorIndexName(int64(k.body["id"].(float64)))).Scan(&indexes))
	require.Equal(t, 1, indexes, "the knowledge base's vector index exists after the job")
	// No duplicate chunks: a record's unique code finds one passage.
	for _, i := range []int{0, 700, n - 1} {
		r := mustCall(t, base, key, "POST", "/v1/knowledge-bases/bulk/search", map[string]any{"query": fmt.Sprintf("R%04d", i), "mode": "text", "top_k": 10})
		require.Equal(t, 200, r.status, r.raw)
		res, _ := r.body["results"].([]any)
		require.Len(t, res, 1, "R%04d: %s", i, r.raw)
	}
}
