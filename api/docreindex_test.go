package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgvector/pgvector-go"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
)

// riverReindexer is cmd/zhiku's adapter: re-indexes queued on River, read from kb_maintenance.
type riverReindexer struct{ j *jobs.Client }

func (r riverReindexer) Reindex(k kb.KnowledgeBase) { _ = r.j.Reindex(context.Background(), k) }
func (r riverReindexer) ReindexStatus(kbID int64) (api.ReindexStatus, bool) {
	s, ok, _ := r.j.ReindexStatus(context.Background(), kbID)
	return api.ReindexStatus(s), ok
}
func (r riverReindexer) ReindexDocument(ctx context.Context, k kb.KnowledgeBase, docID int64) (api.ReindexStatus, error) {
	s, err := r.j.ReindexDocument(ctx, k, docID)
	return api.ReindexStatus(s), err
}
func (r riverReindexer) DocumentReindexStatus(ctx context.Context, kbID, docID int64) (api.ReindexStatus, bool, error) {
	s, ok, err := r.j.DocumentReindexStatus(ctx, kbID, docID)
	return api.ReindexStatus(s), ok, err
}

type noFiles struct{}

func (noFiles) Process(context.Context, jobs.Job, kb.KnowledgeBase, jobs.File, func(jobs.Progress)) (jobs.Result, error) {
	return jobs.Result{}, nil
}

// POST …/documents/{doc}/reindex re-tokenizes and re-embeds that document's chunks on a
// River worker, swapping them all in at once; GET follows the run; other documents keep
// their index; the route is audited and tenant-checked.
func TestReindexOneDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	st := b.db.Store
	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	k, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "shop", Language: "zh", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	const n = 40 // chunks of the re-indexed document, embedded in several batches
	put := func(id string, chunks int) kb.Document {
		cs := make([]kb.Chunk, chunks)
		for i := range cs {
			text := fmt.Sprintf("这款扫拖一体机器人第 %d 节：支持自动集尘和热风烘干", i)
			toks, err := segment.Tokens(kbmaint.IndexText([]string{id}, text), segment.KBDict(k))
			require.NoError(t, err)
			// A vector that is not the model's: the re-index must replace it.
			v := make([]float32, 256)
			v[i%256] = 1
			cs[i] = kb.Chunk{Ord: i, Content: text, SectionPath: []string{id}, Embedding: v, Tokens: toks}
		}
		res, err := st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: id, Title: id, Kind: kb.KindManual, Status: kb.StatusReady, ContentHash: id}, cs, k.EmbeddingModel, 2)
		require.NoError(t, err)
		return res.Document
	}
	manual, other := put("manual", n), put("other", 3)
	otherTenant, err := st.EnsureTenant(ctx, "other-shop")
	require.NoError(t, err)
	foreignKB, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: otherTenant.ID, Name: "secret", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	foreign, err := st.ReplaceDocument(ctx, kb.Document{KBID: foreignKB.ID, ExternalID: "x", Title: "x", Kind: kb.KindManual, Status: kb.StatusReady, ContentHash: "x"},
		[]kb.Chunk{{Content: "机密", Embedding: make([]float32, 256), Tokens: []string{"机密"}}}, embedding.LocalModel, 2)
	require.NoError(t, err)

	// The dictionary changes (written directly: no knowledge-base-wide run is queued).
	settings, _ := json.Marshal(map[string]any{"dictionary": []string{"扫拖一体"}})
	k, err = st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)

	jc, err := jobs.New(b.db.Pool, st, jobs.Options{Processor: noFiles{}, Poll: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		Reindex: func(context.Context, kb.KnowledgeBase, func(int, int)) error { return nil },
		ReindexDocument: func(ctx context.Context, k kb.KnowledgeBase, docID int64, progress func(int, int)) error {
			_, err := kbmaint.ReindexDocument(ctx, st, k, docID, local, progress)
			return err
		}})
	require.NoError(t, err)
	h := api.New(api.Deps{Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Store: st, DB: b.db.Pool, AdminKey: adminKey, DefaultTenantID: b.tenant.ID,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256}, Reindexer: riverReindexer{jc}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.srv = srv

	withWord := func(docID int64) (int, int) {
		var hit, all int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE tsv @@ '扫拖一体'::tsquery), count(*) FROM chunks WHERE document_id = $1`, docID).Scan(&hit, &all))
		return hit, all
	}
	hit, all := withWord(manual.ID)
	require.Equal(t, 0, hit, "jieba split the word before the dictionary had it")
	require.Equal(t, n, all)

	path := fmt.Sprintf("/v1/knowledge-bases/shop/documents/%d/reindex", manual.ID)
	r := b.do(t, adminKey, "GET", path, "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Nil(t, r.Body["reindex"], "none was asked for")

	// Tenant and role checks, before anything is queued.
	require.Equal(t, http.StatusNotFound, b.do(t, adminKey, "POST", fmt.Sprintf("/v1/knowledge-bases/shop/documents/%d/reindex", foreign.Document.ID), "").Code, "another tenant's document under our knowledge base")
	require.Equal(t, http.StatusNotFound, b.do(t, adminKey, "POST", fmt.Sprintf("/v1/knowledge-bases/%d/documents/%d/reindex", foreignKB.ID, foreign.Document.ID), "").Code, "another tenant's knowledge base")
	require.Equal(t, http.StatusNotFound, b.do(t, b.key(t, "other-shop", kb.RoleAdmin), "POST", path, "").Code, "another tenant's key")
	uploader := b.key(t, "default", kb.RoleUploader, k.ID)
	require.Equal(t, http.StatusForbidden, b.do(t, uploader, "POST", path, "").Code, "an uploader may not")
	require.Equal(t, http.StatusOK, b.do(t, uploader, "GET", path, "").Code, "but may read the state")
	require.Equal(t, http.StatusNotFound, b.do(t, adminKey, "POST", "/v1/knowledge-bases/shop/documents/999999/reindex", "").Code)

	// Watch the document while the run goes: every chunk has the new tokens, or none.
	var mixed atomic.Int32
	watch, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watch.Err() == nil {
			var hit, all int
			if err := b.db.Pool.QueryRow(watch, `SELECT count(*) FILTER (WHERE tsv @@ '扫拖一体'::tsquery), count(*) FROM chunks WHERE document_id = $1`, manual.ID).Scan(&hit, &all); err == nil && hit != 0 && hit != all {
				mixed.Add(1)
			}
		}
	}()

	r = b.do(t, adminKey, "POST", path, "")
	require.Equal(t, http.StatusAccepted, r.Code, r.Raw)
	require.Equal(t, "queued", r.Body["reindex"].(map[string]any)["state"])
	require.Equal(t, path, "/v1/knowledge-bases/shop"+r.Hdr.Get("Location")[len(fmt.Sprintf("/v1/knowledge-bases/%d", k.ID)):])
	require.Equal(t, http.StatusAccepted, b.do(t, adminKey, "POST", "/v1/knowledge-bases/shop/documents/manual/reindex", "").Code, "by external id; asked twice while waiting: one run")

	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- jc.Run(wctx) }()
	var state map[string]any
	require.Eventually(t, func() bool {
		r := b.do(t, adminKey, "GET", path, "")
		require.Equal(t, http.StatusOK, r.Code, r.Raw)
		state, _ = r.Body["reindex"].(map[string]any)
		return state != nil && (state["state"] == "done" || state["state"] == "failed")
	}, 30*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	stopWatch()
	<-watched
	require.Equal(t, "done", state["state"], state["error"])
	require.EqualValues(t, n, state["done"])
	require.EqualValues(t, n, state["total"])
	require.NotEmpty(t, state["finished_at"])
	require.Zero(t, mixed.Load(), "a search saw the document half re-indexed")

	hit, _ = withWord(manual.ID)
	require.Equal(t, n, hit, "every chunk has the dictionary's word")
	hit, _ = withWord(other.ID)
	require.Equal(t, 0, hit, "the other document keeps its index")
	var got pgvector.Vector
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT embedding FROM chunks WHERE document_id = $1 AND ord = 3`, manual.ID).Scan(&got))
	want, err := local.EmbedDocuments(ctx, []string{kbmaint.IndexText([]string{"manual"}, "这款扫拖一体机器人第 3 节：支持自动集尘和热风烘干")})
	require.NoError(t, err)
	require.InDeltaSlice(t, want[0], got.Slice(), 1e-6, "re-embedded with the model")

	var audits int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'document.reindex' AND target = 'manual'`).Scan(&audits))
	require.Equal(t, 2, audits)

	// A swap over chunks that changed meanwhile writes nothing.
	err = st.SwapDocumentIndex(ctx, k.ID, manual.ID, k.EmbeddingModel, []int64{1}, [][]string{{"x"}}, [][]float32{make([]float32, 256)})
	require.ErrorIs(t, err, store.ErrDocumentChanged)
}
