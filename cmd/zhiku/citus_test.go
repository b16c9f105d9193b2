package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/migrations"
)

// TestCitus is `make test-citus` (scripts/citus.sh builds Citus and starts a coordinator
// and two workers, then runs it; skipped otherwise). Zhiku migrates the coordinator in
// Citus mode and serves on it; the same two knowledge bases go into a Citus server and a
// single-node one (plain PostgreSQL) through the API. It checks the layout, that each
// search's vector and text statements run on one worker with that shard's indexes (EXPLAIN:
// Task Count: 1, the HNSW index), that searches and answers equal the single node's, and
// that a stopped worker fails its knowledge bases' searches with a quick 503 while the other
// worker's knowledge base answers, until the worker is back (no Zhiku restart).
func TestCitus(t *testing.T) {
	citusURL, ctl := os.Getenv("ZHIKU_TEST_CITUS_URL"), os.Getenv("ZHIKU_TEST_CITUS_CTL")
	if citusURL == "" || ctl == "" {
		t.Skip("needs a Citus cluster: make test-citus")
	}
	ctx := context.Background()
	started := time.Now()
	step := func(format string, args ...any) {
		t.Logf("citus_test: [%5.1fs] %s", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}

	// 1. Migrate in Citus mode (twice: the second run changes nothing) and check the layout.
	// Both servers search with hnsw.ef_search 1000, more than a knowledge base's rows, so
	// HNSW returns the exact top k on both sides: two HNSW graphs of the same rows differ
	// (random levels, insertion order), and equality then tests the routing and the data,
	// not graph luck. It also shows the setting reaching the workers (their default is 40).
	const ef = "1000"
	citusEnv := map[string]string{"DATABASE_URL": citusURL, "ZHIKU_CITUS": "1", "ZHIKU_LOG_LEVEL": "error", "ZHIKU_HNSW_EF_SEARCH": ef}
	for range 2 {
		_, stderr, err := run(ctx, citusEnv, "migrate")
		require.NoError(t, err, stderr)
	}
	conn, err := pgx.Connect(ctx, citusURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	layout := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT logicalrelid::regclass::text, partmethod::text || coalesce(':' || column_to_column_name(logicalrelid, partkey), '') || ':' || colocationid
		FROM pg_dist_partition`)
	require.NoError(t, err)
	for rows.Next() {
		var table, how string
		require.NoError(t, rows.Scan(&table, &how))
		layout[table] = how
	}
	require.NoError(t, rows.Err())
	colocation := layout[migrations.DistributedTables[0]]
	for _, table := range migrations.DistributedTables {
		require.True(t, strings.HasPrefix(layout[table], "h:kb_id:"), "%s is not distributed by kb_id: %q", table, layout[table])
		require.Equal(t, colocation, layout[table], "%s is not co-located with %s", table, migrations.DistributedTables[0])
	}
	for _, table := range migrations.ReferenceTables {
		require.True(t, strings.HasPrefix(layout[table], "n"), "%s is not a reference table: %q", table, layout[table])
	}
	for _, table := range []string{"river_job", "exchanges"} {
		require.False(t, strings.HasPrefix(layout[table], "h"), "%s must stay on the coordinator: %q", table, layout[table])
	}
	step("migrated in Citus mode: %d distributed tables co-located by kb_id, %d reference tables", len(migrations.DistributedTables), len(migrations.ReferenceTables))

	// 2. A Citus server and a single-node one.
	single := storetest.NewDB(t)
	cs := serveWith(t, citusEnv)
	ss := serveWith(t, map[string]string{"DATABASE_URL": single.URL, "ZHIKU_HNSW_EF_SEARCH": ef})
	ctlRun := func(args ...string) {
		out, err := exec.Command("bash", append([]string{ctl}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s %v: %s", ctl, args, out)
	}

	// kb_a on one worker, kb_b on the other: candidates are created until one lands on the
	// other worker (knowledge bases hash to shards), the rest are deleted.
	workerOf := func(kbID int64) int {
		var port int
		require.NoError(t, conn.QueryRow(ctx, `SELECT nodeport FROM pg_dist_shard_placement
			WHERE shardid = get_shard_id_for_distribution_column('chunks', $1::bigint)`, kbID).Scan(&port))
		return port
	}
	createKB := func(s server, name string) int64 {
		r := mustCall(t, s.base, s.key, "POST", "/v1/knowledge-bases", map[string]any{"name": name})
		require.Equal(t, 201, r.status, r.raw)
		return int64(r.body["id"].(float64))
	}
	kbA := createKB(cs, "kb_a")
	portA := workerOf(kbA)
	var kbB int64
	for i := range 16 {
		id := createKB(cs, fmt.Sprintf("kb_b_%d", i))
		if kbB == 0 && workerOf(id) != portA {
			kbB = id
			r := mustCall(t, cs.base, cs.key, "PATCH", fmt.Sprintf("/v1/knowledge-bases/%d", id), map[string]any{"name": "kb_b"})
			require.Equal(t, 200, r.status, r.raw)
			continue
		}
		r := mustCall(t, cs.base, cs.key, "DELETE", fmt.Sprintf("/v1/knowledge-bases/%d", id), nil)
		require.Equal(t, 204, r.status, r.raw)
		if kbB != 0 {
			break
		}
	}
	require.NotZero(t, kbB, "no knowledge base landed on the second worker")
	portB := workerOf(kbB)
	for _, name := range []string{"kb_a", "kb_b"} {
		id := createKB(ss, name)
		// Citus mode reads no column statistics (CommonTerms): keep the single node without
		// them too, so both score common terms from exact counts.
		_, err := single.Pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s SET (autovacuum_enabled = off)`, store.PartitionName(id)))
		require.NoError(t, err)
	}
	step("kb_a (id %d) on the worker at port %d, kb_b (id %d) on the worker at port %d", kbA, portA, kbB, portB)

	// 3. The same generated shop pages into both, through uploads (River jobs).
	const docs = 300
	queries := map[string][]string{}
	for i, name := range []string{"kb_a", "kb_b"} {
		gen, err := newKBGen(uint64(21+i), docs)
		require.NoError(t, err)
		var b strings.Builder
		var passages []genPassage
		for j := range docs {
			p := gen.passage()
			passages = append(passages, p)
			line, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("%s-%04d", name, j), "title": strings.SplitN(p.text, "\n", 2)[0], "text": p.text})
			b.Write(line)
			b.WriteByte('\n')
		}
		for j := 0; j < docs; j += docs / 40 {
			queries[name] = append(queries[name], gen.query(passages[j]))
		}
		for _, s := range []server{cs, ss} {
			job := upload(t, s.base, s.key, name, name+".jsonl", []byte(b.String()), "records")
			j := waitJobFinal(t, s.base, s.key, job, 5*time.Minute)
			require.Equal(t, "succeeded", j["state"], "%v", j)
		}
	}
	step("ingested %d documents into each knowledge base on both", docs)

	// 4. Routing: each leg of a search is one task on one worker, with the shard's indexes.
	//    The shards' statistics first, as autovacuum keeps them (ANALYZE on the coordinator
	//    runs on every shard): without them the planner may read a small shard by its key.
	_, err = conn.Exec(ctx, `ANALYZE chunks`)
	require.NoError(t, err)
	cst := store.New(mustPool(t, citusURL), store.Options{Citus: true})
	for name, id := range map[string]int64{"kb_a": kbA, "kb_b": kbB} {
		k := kb.KnowledgeBase{ID: id, Name: name, EmbeddingDim: 768}
		vec := make([]float32, 768)
		for i := range vec {
			vec[i] = float32(math.Sin(float64(i + int(id))))
		}
		q := kb.TextQuery{Match: []string{"质量"}, Terms: []string{"质量"}, IDF: []float64{1}, K1: 1.2, B: 0.75, AvgLen: 60}
		vplan, tplan, err := cst.ExplainSearch(ctx, k, vec, q, 10)
		require.NoError(t, err)
		for leg, plan := range map[string]string{"vector": vplan, "text": tplan} {
			require.Contains(t, plan, "Task Count: 1", "%s leg of %s:\n%s", leg, name, plan)
			require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`port=%d`, workerOf(id))), plan, "%s leg of %s on another node:\n%s", leg, name, plan)
		}
		require.Regexp(t, `Index Scan using chunks_embedding_d768_\d+ on chunks_\d+`, vplan, "vector leg of %s without the shard's HNSW index:\n%s", name, vplan)
		// The text leg reads that shard; whether by its GIN index or sequentially is the
		// worker planner's choice by the term's frequency (a few hundred rows: often a scan).
		require.Regexp(t, `on chunks_\d+`, tplan, "text leg of %s:\n%s", name, tplan)
	}
	step("EXPLAIN: each search leg of each knowledge base is Task Count: 1 on its worker, the vector leg on the shard's HNSW index (chunks_embedding_d768_<shard>)")

	// 5. Searches and answers equal the single node's.
	type searchKey struct{ kb, mode, q string }
	results := map[searchKey]string{}
	search := func(s server, kbName, mode, q string) apiResult {
		r, err := call(ctx, httpClient, s.base, s.key, "POST", "/v1/knowledge-bases/"+kbName+"/search", map[string]any{"query": q, "mode": mode, "top_k": 10})
		require.NoError(t, err)
		return r
	}
	searches, answers := 0, 0
	for _, name := range []string{"kb_a", "kb_b"} {
		for _, q := range queries[name] {
			for _, mode := range []string{"vector", "text", "hybrid"} {
				a, b := search(cs, name, mode, q), search(ss, name, mode, q)
				require.Equal(t, 200, a.status, a.raw)
				require.Equal(t, 200, b.status, b.raw)
				require.Equal(t, hitsOf(t, b), hitsOf(t, a), "%s search of %s for %q differs from the single node", mode, name, q)
				results[searchKey{name, mode, q}] = hitsOf(t, a)
				searches++
			}
			ask := func(s server) map[string]any {
				r := mustCall(t, s.base, s.key, "POST", "/v1/answer", map[string]any{"knowledge_base": name, "question": q})
				require.Equal(t, 200, r.status, r.raw)
				// Citations without the row ids, which the two databases allocate differently.
				cites, _ := r.body["citations"].([]any)
				for _, c := range cites {
					if m, ok := c.(map[string]any); ok {
						delete(m, "chunk_id")
						delete(m, "document_id")
					}
				}
				return map[string]any{"answer": r.body["answer"], "answered": r.body["answered"], "source": r.body["source"], "citations": fmt.Sprint(cites)}
			}
			require.Equal(t, ask(ss), ask(cs), "answer in %s to %q differs from the single node", name, q)
			answers++
		}
	}
	step("%d searches (vector, text, hybrid) and %d answers equal the single node's", searches, answers)

	// 6. What Citus mode does not support answers 501, not 500.
	r := mustCall(t, cs.base, cs.key, "GET", "/v1/stats", nil)
	require.Equal(t, 501, r.status, r.raw)
	require.Equal(t, "not_supported", r.body["error"].(map[string]any)["code"], r.raw)
	step("GET /v1/stats in Citus mode: 501 not_supported")

	// 7. A worker stops: kb_b's searches fail fast with 503; kb_a's still work; the worker
	//    comes back and kb_b's searches recover, the server not restarted.
	var base int // the coordinator's port: worker numbers in scripts/citus.sh are port offsets
	require.NoError(t, conn.QueryRow(ctx, `SELECT inet_server_port()`).Scan(&base))
	workerB := portB - base
	q := queries["kb_b"][0]
	ctlRun("stop-worker", fmt.Sprint(workerB))
	stopped := true
	defer func() {
		if stopped {
			_ = exec.Command("bash", ctl, "start-worker", fmt.Sprint(workerB)).Run()
		}
	}()
	var slowest time.Duration
	for range 5 {
		t0 := time.Now()
		r := search(cs, "kb_b", "hybrid", q)
		took := time.Since(t0)
		slowest = max(slowest, took)
		require.Equal(t, 503, r.status, r.raw)
		require.Equal(t, "database_unavailable", r.body["error"].(map[string]any)["code"], r.raw)
		require.Less(t, took, 5*time.Second, "a search of a stopped worker's shard should fail fast")
	}
	for _, mode := range []string{"vector", "text", "hybrid"} {
		qa := queries["kb_a"][1]
		r := search(cs, "kb_a", mode, qa)
		require.Equal(t, 200, r.status, r.raw)
		require.Equal(t, results[searchKey{"kb_a", mode, qa}], hitsOf(t, r))
	}
	step("worker %d (port %d) stopped: kb_b searches 503 database_unavailable in at most %d ms; kb_a searches unchanged", workerB, portB, slowest.Milliseconds())

	ctlRun("start-worker", fmt.Sprint(workerB))
	stopped = false
	t0 := time.Now()
	var back apiResult
	for time.Since(t0) < 30*time.Second {
		if back = search(cs, "kb_b", "hybrid", q); back.status == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 200, back.status, back.raw)
	require.Equal(t, results[searchKey{"kb_b", "hybrid", q}], hitsOf(t, back))
	step("worker %d started again: kb_b searches recovered %d ms after pg_ctl returned, same results, same Zhiku process", workerB, time.Since(t0).Milliseconds())
}

// httpClient bounds the test's calls: a hang is a failure, not a stuck test.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// hitsOf renders a search's hits as comparable text: document, rounded score, matched terms.
func hitsOf(t *testing.T, r apiResult) string {
	t.Helper()
	hits, ok := r.body["results"].([]any)
	require.True(t, ok, r.raw)
	lines := make([]string, len(hits))
	scores := make([]string, len(hits))
	for i, h := range hits {
		m := h.(map[string]any)
		scores[i] = fmt.Sprintf("%.6f", m["score"])
		lines[i] = fmt.Sprintf("%v %s %v\n", m["external_id"], scores[i], m["matched_terms"])
	}
	// Exact ties are ordered by chunk id, which the two databases allocate in different
	// orders (concurrent ingestion): within a tie, order by document.
	sort.SliceStable(lines, func(i, j int) bool {
		si, sj := strings.Fields(lines[i])[1], strings.Fields(lines[j])[1]
		return si == sj && lines[i] < lines[j]
	})
	return strings.Join(lines, "")
}

// mustPool opens a store pool on url, closed with the test.
func mustPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := store.OpenPool(context.Background(), url, store.PoolOptions{Citus: true})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
