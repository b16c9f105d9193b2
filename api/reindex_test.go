package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// fakeReindexer records which knowledge bases were sent for re-indexing.
type fakeReindexer struct {
	mu  sync.Mutex
	ids []int64
}

func (f *fakeReindexer) Reindex(k kb.KnowledgeBase) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, k.ID)
}

func (f *fakeReindexer) ReindexStatus(kbID int64) (api.ReindexStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.ids {
		if id == kbID {
			return api.ReindexStatus{State: "done", Done: 3, Total: 3}, true
		}
	}
	return api.ReindexStatus{}, false
}

func (f *fakeReindexer) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids)
}

func TestDictionaryChangeStartsReindex(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), kb.DefaultTenant)
	require.NoError(t, err)
	ri := &fakeReindexer{}
	h := api.New(api.Deps{
		Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Store: db.Store, DB: db.Pool,
		AdminKey: adminKey, DefaultTenantID: tenant.ID,
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: "zhiku-hash-v1", Dimension: 256},
		Reindexer: ri,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &testBundle{db: db, srv: srv, tenant: tenant, handler: h}

	r := b.do(t, adminKey, http.MethodPost, "/v1/knowledge-bases", `{"name":"shop"}`)
	require.Equal(t, http.StatusCreated, r.Code, r.Raw)
	r = b.do(t, adminKey, http.MethodGet, "/v1/knowledge-bases/shop", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.NotContains(t, r.Body, "reindex", "no re-index ran yet")
	require.Equal(t, "shop", r.Body["name"], "the knowledge base's own fields stay at the top level")

	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"description":"家电"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"answer_style":"short"}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Zero(t, ri.calls(), "changes that keep the dictionary need no re-index")

	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"dictionary":["扫拖一体"]}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, 1, ri.calls())
	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"dictionary":["扫拖一体"]}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, 1, ri.calls(), "the same words again change nothing")
	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"synonyms":[["退货","退回"]]}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, 2, ri.calls(), "synonym entries are kept whole too")

	r = b.do(t, adminKey, http.MethodGet, "/v1/knowledge-bases/shop", "")
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, map[string]any{"state": "done", "done": float64(3), "total": float64(3)}, r.Body["reindex"])

	// An operator can also start one by hand (the admin UI's re-index button).
	r = b.do(t, adminKey, http.MethodPost, "/v1/knowledge-bases/shop/reindex", "")
	require.Equal(t, http.StatusAccepted, r.Code, r.Raw)
	require.Equal(t, 3, ri.calls())
	require.Equal(t, "done", r.Body["reindex"].(map[string]any)["state"])
	require.Equal(t, http.StatusForbidden, b.do(t, b.key(t, "default", kb.RoleUploader), http.MethodPost, "/v1/knowledge-bases/shop/reindex", "").Code)
	require.Equal(t, http.StatusNotFound, b.do(t, b.key(t, "other", kb.RoleAdmin), http.MethodPost, "/v1/knowledge-bases/shop/reindex", "").Code)
	require.Equal(t, 3, ri.calls())
}
