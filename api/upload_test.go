package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/filejob"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/llm"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

const manualMD = "# XR-500 扫地机器人手册\n\n## 故障代码\n\nE104 表示电机过热。请断电冷却30分钟后重启；如仍报错，请联系售后更换电机。\n\n## 保养\n\n每周清理滚刷与尘盒，每三个月更换滤网。\n"

const threeRecords = `{"id":"p1","title":"退货政策","text":"自签收之日起七天内可申请七天无理由退货。"}
{"id":"p2","title":"发货时间","text":"现货商品在付款后48小时内发货。"}
{"id":"p3","title":"保修","text":"整机保修一年，电机保修三年。"}
`

// flakyEmbedder is the local embedder with faults on demand: a number of transient
// failures (like a provider's 429), and a gate that holds every call after the first
// `allow` ones until it opens or the caller gives up.
type flakyEmbedder struct {
	local     *embedding.Local
	failures  atomic.Int32
	calls     atomic.Int32
	allow     atomic.Int32 // calls let through before the gate applies; -1: gate open
	gate      chan struct{}
	blocked   chan struct{} // receives once per call held at the gate
	closeOnce sync.Once
}

func (e *flakyEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	n := e.calls.Add(1)
	if e.failures.Add(-1) >= 0 {
		return nil, &llm.Error{Op: "embeddings", StatusCode: 429, Message: "rate limited", Transient: true}
	}
	if a := e.allow.Load(); a >= 0 && n > a {
		select {
		case e.blocked <- struct{}{}:
		default:
		}
		select {
		case <-e.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return e.local.EmbedDocuments(ctx, texts)
}

func (e *flakyEmbedder) open() { e.allow.Store(-1); e.closeOnce.Do(func() { close(e.gate) }) }

type uploadBundle struct {
	*testBundle
	kb  kb.KnowledgeBase
	emb *flakyEmbedder
}

func setupUpload(t *testing.T, maxUpload int64) *uploadBundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "kb1", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	emb := &flakyEmbedder{local: local, gate: make(chan struct{}), blocked: make(chan struct{}, 1)}
	emb.allow.Store(-1)
	engine := retrieval.New(db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return local, nil }, nil, retrieval.Options{})
	queue, err := jobs.New(db.Pool, db.Store, jobs.Options{}) // queues only, as `serve --no-worker`
	require.NoError(t, err)
	h := api.New(api.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool, Search: engine, Jobs: queue,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, MaxUploadBytes: maxUpload,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &uploadBundle{testBundle: &testBundle{db: db, srv: srv, tenant: tenant, handler: h}, kb: k, emb: emb}
}

// startWorkers runs River workers on the bundle's database until the returned stop is
// called (or the test ends); stop cancels their context, as a stopping server would, and
// waits for them.
func (b *uploadBundle) startWorkers(t *testing.T) (stop func()) {
	t.Helper()
	proc := filejob.New(filejob.Options{
		Writer: b.db.Store,
		EmbedderFor: func(kb.KnowledgeBase) (ingest.Embedder, string, error) {
			return b.emb, embedding.LocalModel, nil
		},
		NoExternalTools: true,
		// One document per transaction, so a job can be caught between two documents.
		Pipeline: ingest.Options{GroupChunks: 1},
	})
	workers, err := jobs.New(b.db.Pool, b.db.Store, jobs.Options{
		Processor: proc, Reindex: func(context.Context, kb.KnowledgeBase, func(int, int)) error { return nil },
		Workers: 2, Heartbeat: 20 * time.Millisecond, Poll: 10 * time.Millisecond,
		RetryBase: 10 * time.Millisecond, IsTransient: llm.IsTransient,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { assert.NoError(t, workers.Run(ctx)); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// upload posts a multipart form; fields are sent in order, "file" as a file part.
func (b *uploadBundle) upload(t *testing.T, key, kbRef, name string, data []byte, fields map[string]string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	if data != nil {
		fw, err := mw.CreateFormFile("file", name)
		require.NoError(t, err)
		_, err = fw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", b.srv.URL+"/v1/knowledge-bases/"+kbRef+"/documents", &body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := response{Code: res.StatusCode, Raw: string(raw), Hdr: res.Header}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// jobOf decodes the "job" of a response.
func jobOf(t *testing.T, r response) jobs.Job {
	t.Helper()
	var body struct{ Job jobs.Job }
	require.NoError(t, json.Unmarshal([]byte(r.Raw), &body), r.Raw)
	require.NotZero(t, body.Job.ID, r.Raw)
	return body.Job
}

// waitJob polls GET /v1/jobs/{id} until done says so.
func (b *uploadBundle) waitJob(t *testing.T, id int64, done func(jobs.Job) bool) jobs.Job {
	t.Helper()
	var j jobs.Job
	require.Eventually(t, func() bool {
		r := b.do(t, adminKey, "GET", fmt.Sprintf("/v1/jobs/%d", id), "")
		require.Equal(t, 200, r.Code, r.Raw)
		j = jobOf(t, r)
		return done(j)
	}, 30*time.Second, 20*time.Millisecond)
	return j
}

func final(j jobs.Job) bool { return j.State.Final() }

func TestUploadManualBecomesSearchable(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.startWorkers(t)
	up := b.key(t, "default", kb.RoleUploader)

	r := b.upload(t, up, "kb1", "xr500-manual.md", []byte(manualMD), map[string]string{"metadata": `{"product":"XR-500","year":2025}`})
	require.Equal(t, http.StatusAccepted, r.Code, r.Raw)
	j := jobOf(t, r)
	require.Equal(t, fmt.Sprintf("/v1/jobs/%d", j.ID), r.Hdr.Get("Location"))
	require.Equal(t, jobs.StateQueued, j.State)
	require.Equal(t, "kb1", j.KBName)
	require.Equal(t, "xr500-manual.md", j.Spec.FileName)
	require.Equal(t, "markdown", j.Spec.Format)
	require.Equal(t, "auto", j.Spec.Kind)

	j = b.waitJob(t, j.ID, final)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Empty(t, j.Error)
	require.Equal(t, 1, j.Attempt)
	require.NotNil(t, j.Result)
	require.Equal(t, kb.KindManual, j.Result.Kind)
	require.Equal(t, 1, j.Result.DocumentsNew)
	require.Positive(t, j.Result.Chunks)
	require.Equal(t, jobs.StageDone, j.Progress.Stage)
	require.Equal(t, 1, j.Progress.DocumentsDone)
	require.Equal(t, 1, j.Progress.DocumentsTotal)
	require.Equal(t, j.Result.Chunks, j.Progress.ChunksEmbedded)
	require.NotNil(t, j.StartedAt)
	require.NotNil(t, j.FinishedAt)

	res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"E104 电机过热怎么办","top_k":3}`))
	require.NotEmpty(t, res)
	require.Equal(t, "xr500-manual.md", res[0]["external_id"])
	require.Contains(t, res[0]["content"], "E104")
	require.Equal(t, "XR-500", res[0]["metadata"].(map[string]any)["product"])

	// The bytes are gone once the job is done; nothing stays behind for a restart to trip on.
	var files int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ingest_job_files`).Scan(&files))
	require.Zero(t, files)

	// The same file again is a no-op; the job list shows both, newest first.
	r = b.upload(t, up, "kb1", "xr500-manual.md", []byte(manualMD), map[string]string{"metadata": `{"product":"XR-500","year":2025}`})
	require.Equal(t, http.StatusAccepted, r.Code, r.Raw)
	j2 := b.waitJob(t, jobOf(t, r).ID, final)
	require.Equal(t, jobs.StateSucceeded, j2.State, j2.Error)
	require.Equal(t, 1, j2.Result.DocumentsUnchanged)
	list := b.do(t, up, "GET", "/v1/jobs?kb=kb1", "")
	require.Equal(t, 200, list.Code, list.Raw)
	items := list.Body["jobs"].([]any)
	require.Len(t, items, 2)
	require.EqualValues(t, j2.ID, items[0].(map[string]any)["id"])
	require.Equal(t, 404, b.do(t, up, "GET", "/v1/jobs?kb=nope", "").Code)
}

func TestUploadRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 64<<10)
	big := bytes.Repeat([]byte("电机过热 E104。\n"), 8000) // ~150 KB of valid text

	t.Run("oversize with a length", func(t *testing.T) {
		t.Parallel()
		r := b.upload(t, adminKey, "kb1", "big.txt", big, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Code, r.Raw)
		require.Contains(t, r.Raw, "65536")
	})
	t.Run("oversize streamed", func(t *testing.T) {
		t.Parallel()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "big.txt")
		_, _ = fw.Write(big)
		require.NoError(t, mw.Close())
		// A reader of unknown length goes out chunked, so only the streaming check stops it.
		req, err := http.NewRequest("POST", b.srv.URL+"/v1/knowledge-bases/kb1/documents", io.MultiReader(&body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		require.Zero(t, req.ContentLength) // unknown: sent chunked
		r := send(t, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Code, r.Raw)
		require.Contains(t, r.Raw, "65536")
	})
	cases := map[string]struct {
		name   string
		data   []byte
		fields map[string]string
		status int
		says   string
	}{
		"binary garbage":      {"manual.pdf", append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}, bytes.Repeat([]byte{0, 0xff, 0x13, 0x88, 0x01}, 400)...), nil, 415, "unsupported"},
		"zip of other things": {"a.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00junk/readme.txt"), nil, 415, "unsupported"},
		// Past the 8 KB that Sniff looks at: Latin-1 bytes fit no encoding Zhiku reads.
		"unknown encoding":    {"menu.txt", append(bytes.Repeat([]byte("menu line\n"), 1000), []byte("Caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xfe\xfd")...), nil, 415, "text encoding not recognised: byte 0xe9 at offset 10003"},
		"malformed metadata":  {"a.md", []byte(manualMD), map[string]string{"metadata": `{"product":`}, 400, "metadata"},
		"metadata not object": {"a.md", []byte(manualMD), map[string]string{"metadata": `["x"]`}, 422, "metadata"},
		"unknown kind":        {"a.md", []byte(manualMD), map[string]string{"kind": "video"}, 422, "kind"},
		"bad replace":         {"a.md", []byte(manualMD), map[string]string{"replace": "maybe"}, 422, "replace"},
		"no file":             {"", nil, map[string]string{"kind": "manual"}, 422, "file"},
		"empty file":          {"a.md", []byte{}, nil, 422, "empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := b.upload(t, adminKey, "kb1", tc.name, tc.data, tc.fields)
			require.Equal(t, tc.status, r.Code, r.Raw)
			require.Contains(t, strings.ToLower(r.Raw), tc.says)
		})
	}
	t.Run("not multipart", func(t *testing.T) {
		t.Parallel()
		r := b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/documents", `{"file":"x"}`)
		require.Equal(t, 400, r.Code, r.Raw)
	})
	t.Run("unknown knowledge base", func(t *testing.T) {
		t.Parallel()
		r := b.upload(t, adminKey, "nope", "a.md", []byte(manualMD), nil)
		require.Equal(t, 404, r.Code, r.Raw)
	})
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ingest_jobs`).Scan(&n))
	require.Zero(t, n, "no rejected upload queues a job")
}

func TestUploadAndJobsAreScoped(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	r := b.upload(t, adminKey, "kb1", "a.md", []byte(manualMD), nil)
	require.Equal(t, 202, r.Code, r.Raw)
	id := jobOf(t, r).ID
	path := fmt.Sprintf("/v1/jobs/%d", id)

	bot := b.key(t, "default", kb.RoleBot)
	require.Equal(t, 403, b.upload(t, bot, "kb1", "a.md", []byte(manualMD), nil).Code)
	require.Equal(t, 403, b.do(t, bot, "POST", path+"/cancel", "").Code)

	other := b.key(t, "other", kb.RoleAdmin)
	require.Equal(t, 404, b.upload(t, other, "kb1", "a.md", []byte(manualMD), nil).Code)
	require.Equal(t, 404, b.do(t, other, "GET", path, "").Code)
	require.Equal(t, 404, b.do(t, other, "POST", path+"/cancel", "").Code)
	list := b.do(t, other, "GET", "/v1/jobs", "")
	require.Equal(t, 200, list.Code)
	require.Empty(t, list.Body["jobs"])
	require.Equal(t, 404, b.do(t, adminKey, "GET", "/v1/jobs/abc", "").Code)

	// A key bound to another knowledge base of the same tenant sees neither.
	k2, err := b.db.Store.CreateKB(context.Background(), kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "kb2", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	bound := b.key(t, "default", kb.RoleUploader, k2.ID)
	require.Equal(t, 404, b.do(t, bound, "GET", path, "").Code)
	require.Equal(t, 404, b.upload(t, bound, "kb1", "a.md", []byte(manualMD), nil).Code)
	require.Equal(t, 202, b.upload(t, bound, "kb2", "a.md", []byte(manualMD), nil).Code)

	// No workers run here: the queued job is cancelled at once, its bytes dropped.
	c := b.do(t, adminKey, "POST", path+"/cancel", "")
	require.Equal(t, 200, c.Code, c.Raw)
	j := jobOf(t, c)
	require.Equal(t, jobs.StateCancelled, j.State)
	require.Contains(t, j.Error, "cancelled")
	require.Equal(t, 409, b.do(t, adminKey, "POST", path+"/cancel", "").Code)
}

func TestJobRetriesTransientEmbeddingFailures(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.emb.failures.Store(2) // two 429s, then the provider recovers
	b.startWorkers(t)
	r := b.upload(t, adminKey, "kb1", "a.md", []byte(manualMD), nil)
	require.Equal(t, 202, r.Code, r.Raw)
	j := b.waitJob(t, jobOf(t, r).ID, final)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Equal(t, 3, j.Attempt)
	require.Len(t, j.AttemptErrors, 2)
	require.Contains(t, j.AttemptErrors[0], "429")
	require.Equal(t, 1, j.Result.DocumentsNew, "a document written on the last attempt counts as new")
}

func TestJobFailsClearlyWhenRetriesRunOut(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.emb.failures.Store(1000)
	b.startWorkers(t)
	r := b.upload(t, adminKey, "kb1", "a.md", []byte(manualMD), nil)
	j := b.waitJob(t, jobOf(t, r).ID, final)
	require.Equal(t, jobs.StateFailed, j.State)
	require.Equal(t, jobs.DefaultMaxAttempts, j.Attempt)
	require.Contains(t, j.Error, "after 5 attempts")
	require.Contains(t, j.Error, "rate limited")
	require.Equal(t, 1, j.Result.DocumentsFailed)
	docs := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents", "")
	require.Equal(t, 200, docs.Code)
	require.Contains(t, docs.Raw, `"total":0`)
}

func TestJobFailsWithTheFilesReason(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.startWorkers(t)
	// A PDF header and nothing usable behind it: accepted by the quick checks, refused by
	// the parser in the job.
	r := b.upload(t, adminKey, "kb1", "broken.pdf", []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n"), nil)
	require.Equal(t, 202, r.Code, r.Raw)
	j := b.waitJob(t, jobOf(t, r).ID, final)
	require.Equal(t, jobs.StateFailed, j.State)
	require.Contains(t, j.Error, "broken.pdf")
	require.Contains(t, j.ErrorZh, "broken.pdf", "bilingual: %s", j.Error)
	require.Regexp(t, `\p{Han}`, j.ErrorZh)
	require.Equal(t, 1, j.Attempt, "a bad file is not retried")
}

func TestCancelRunningJob(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.emb.allow.Store(0) // every embedding call waits at the gate
	b.startWorkers(t)
	r := b.upload(t, adminKey, "kb1", "a.md", []byte(manualMD), nil)
	id := jobOf(t, r).ID
	<-b.emb.blocked
	j := b.waitJob(t, id, func(j jobs.Job) bool { return j.Progress.Stage == jobs.StageEmbedding })
	require.Equal(t, jobs.StateRunning, j.State)

	c := b.do(t, adminKey, "POST", fmt.Sprintf("/v1/jobs/%d/cancel", id), "")
	require.Equal(t, 200, c.Code, c.Raw)
	require.True(t, jobOf(t, c).CancelRequested)
	j = b.waitJob(t, id, final)
	require.Equal(t, jobs.StateCancelled, j.State)
	require.Contains(t, j.Error, "cancelled on request")
	docs := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents", "")
	require.Contains(t, docs.Raw, `"total":0`)
}

// TestJobSurvivesRestart stops the workers mid-job (one document written, the others
// waiting on the embedder), starts new ones on the same database, and checks the job
// completes while no document is ever visible without all of its chunks.
func TestJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	ctx := context.Background()
	b.emb.allow.Store(1) // the first document's embedding goes through, the rest wait

	// Watch the knowledge base the whole time: a current document must always have its chunk.
	watchDone := make(chan struct{})
	var watchErr atomic.Value
	var watched sync.WaitGroup
	watched.Go(func() {
		for {
			select {
			case <-watchDone:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var half int
			err := b.db.Pool.QueryRow(ctx, `
				SELECT count(*) FROM documents d
				WHERE d.kb_id = $1 AND d.is_current AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id)`, b.kb.ID).Scan(&half)
			if err == nil && half > 0 {
				watchErr.Store(fmt.Sprintf("%d documents visible without chunks", half))
			}
		}
	})

	stop := b.startWorkers(t)
	r := b.upload(t, adminKey, "kb1", "policies.jsonl", []byte(threeRecords), map[string]string{"kind": "records"})
	require.Equal(t, 202, r.Code, r.Raw)
	id := jobOf(t, r).ID
	j := b.waitJob(t, id, func(j jobs.Job) bool { return j.Progress.DocumentsDone >= 1 })
	require.Equal(t, jobs.StateRunning, j.State)
	require.Equal(t, 3, j.Progress.DocumentsTotal)
	stop() // the server goes down mid-job

	j = b.waitJob(t, id, func(jobs.Job) bool { return true })
	require.Equal(t, jobs.StateQueued, j.State, "handed back to the queue")
	require.Equal(t, 0, j.Attempt, "an interrupted attempt does not count against the limit")
	var files int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM ingest_job_files WHERE job_id = $1`, id).Scan(&files))
	require.Equal(t, 1, files, "the bytes wait in the database for the next worker")

	b.emb.open()
	b.startWorkers(t) // a new server on the same database
	j = b.waitJob(t, id, final)
	require.Equal(t, jobs.StateSucceeded, j.State, j.Error)
	require.Equal(t, 3, j.Result.DocumentsNew, "the document written before the restart still counts as new")
	require.Zero(t, j.Result.DocumentsUnchanged)
	close(watchDone)
	watched.Wait()
	require.Nil(t, watchErr.Load())

	docs := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents", "")
	require.Contains(t, docs.Raw, `"total":3`)
	res := results(t, b.do(t, adminKey, "POST", "/v1/knowledge-bases/kb1/search", `{"query":"电机保修几年","top_k":1}`))
	require.Equal(t, "p3", res[0]["external_id"])
}

// GBK/GB18030 and UTF-16 with a BOM are read (converted to UTF-8); text in an encoding
// that fits none is refused with 415 at upload, naming the byte, in both languages.
func TestUploadTextEncodings(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.startWorkers(t)
	text := "# 退货政策\n\n七天无理由退货，运费由买家承担。\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	utf16, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	for name, data := range map[string][]byte{"gbk.txt": gbk, "utf16.txt": utf16} {
		r := b.upload(t, adminKey, "kb1", name, data, nil)
		require.Equal(t, 202, r.Code, r.Raw)
		j := b.waitJob(t, jobOf(t, r).ID, final)
		require.Equal(t, jobs.StateSucceeded, j.State, "%s: %s", name, j.Error)
	}
	r := b.upload(t, adminKey, "kb1", "latin1.txt", []byte("Caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xfe\xfd"), nil)
	require.Equal(t, 415, r.Code, r.Raw)
	e := r.Body["error"].(map[string]any)
	require.Contains(t, e["message"], "text encoding not recognised")
	require.Contains(t, e["message_zh"], "无法识别文本编码")
}
