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
	"github.com/zhiku/zhiku/internal/store"
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

func TestHNSWSettingsAreValidatedAndRebuildTheIndex(t *testing.T) {
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

	for body, field := range map[string]string{
		`{"settings":{"retrieval":{"hnsw":{"m":2}}}}`:                            "hnsw.m",
		`{"settings":{"retrieval":{"hnsw":{"m":32,"ef_construction":40}}}}`:      "ef_construction",
		`{"settings":{"retrieval":{"hnsw":{"ef_search":5000}}}}`:                 "ef_search",
		`{"settings":{"retrieval":{"hnsw":{"ef_search":"many"}}}}`:               "hnsw",
		`{"settings":{"retrieval":{"hnsw":{"ef_search":100.5}}}}`:                "hnsw",
		`{"settings":{"retrieval":{"questions":11}}}`:                            "questions",
		`{"settings":{"retrieval":{"passages":1}}}`:                              "passages",
		`{"settings":{"retrieval":{"units":"yes"}}}`:                             "units",
		`{"settings":{"retrieval":{"hnsw":[16]}}}`:                               "hnsw",
		`{"settings":{"retrieval":{"hnsw":{"m":16,"ef_construction":1001}}}}`:    "ef_construction",
		`{"settings":{"retrieval":{"hnsw":{"m":101,"ef_construction":1000}}}}`:   "hnsw.m",
		`{"settings":{"retrieval":{"units":true,"hnsw":{"ef_construction":7}}}}`: "ef_construction",
	} {
		r := b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, body)
		e := r.Body["error"].(map[string]any)
		require.Contains(t, e["message"], field, body)
		require.NotEmpty(t, e["message_zh"], body)
	}
	require.Zero(t, ri.calls())

	// ef_search applies to the next search: nothing to rebuild.
	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"retrieval":{"hnsw":{"ef_search":200}}}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Zero(t, ri.calls())
	// New build parameters queue the re-index that rebuilds the indexes with them.
	r = b.do(t, adminKey, http.MethodPatch, "/v1/knowledge-bases/shop", `{"settings":{"retrieval":{"hnsw":{"m":24,"ef_construction":100,"ef_search":200}}}}`)
	require.Equal(t, http.StatusOK, r.Code, r.Raw)
	require.Equal(t, 1, ri.calls())
	k, err := db.Store.GetKB(context.Background(), tenant.ID, "shop")
	require.NoError(t, err)
	rebuilt, err := db.Store.SyncVectorIndexes(context.Background(), k.ID)
	require.NoError(t, err)
	require.True(t, rebuilt)
	var defs []string
	rows, err := db.Pool.Query(context.Background(), `SELECT indexdef FROM pg_indexes WHERE indexname = ANY($1) ORDER BY indexname`,
		[]string{store.VectorIndexName(k.ID), store.UnitIndexName(k.ID)})
	require.NoError(t, err)
	for rows.Next() {
		var d string
		require.NoError(t, rows.Scan(&d))
		defs = append(defs, d)
	}
	require.NoError(t, rows.Err())
	require.Len(t, defs, 2)
	for _, d := range defs {
		require.Contains(t, d, "m='24', ef_construction='100'")
	}
	rebuilt, err = db.Store.SyncVectorIndexes(context.Background(), k.ID)
	require.NoError(t, err)
	require.False(t, rebuilt, "already built with them")
}
