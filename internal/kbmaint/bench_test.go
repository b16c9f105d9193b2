package kbmaint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

const benchChunks = 2000

// benchKB loads benchChunks generated product records into a fresh knowledge base.
func benchKB(b *testing.B, dim int) (*storetest.DB, kb.KnowledgeBase) {
	b.Helper()
	ctx := context.Background()
	db := storetest.NewDB(b)
	tenant, err := db.Store.EnsureTenant(ctx, "bench")
	require.NoError(b, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "bench", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: dim})
	require.NoError(b, err)
	emb, err := embedding.NewLocal(embedding.LocalOptions{Dimension: dim})
	require.NoError(b, err)
	items := make([]store.BulkChunk, benchChunks)
	for i := range items {
		text := fmt.Sprintf("型号XR-%d 扫拖一体机器人，支持自动集尘、热风烘干，故障代码E%d表示滚刷缠绕，请清理后重启。保修两年。", i, 100+i%50)
		vecs, err := emb.EmbedDocuments(ctx, []string{text})
		require.NoError(b, err)
		items[i] = store.BulkChunk{ExternalID: fmt.Sprint("p", i), Title: fmt.Sprint("XR-", i), Content: text, Embedding: vecs[0], Tokens: []string{"xr"}}
	}
	_, err = db.Store.BulkLoad(ctx, k, embedding.LocalModel, items, store.DefaultHNSW)
	require.NoError(b, err)
	return db, k
}

func BenchmarkReindex(b *testing.B) {
	ctx := context.Background()
	db, k := benchKB(b, 256)
	settings, _ := json.Marshal(map[string]any{"dictionary": []string{"扫拖一体", "热风烘干"}})
	k, err := db.Store.UpdateKB(ctx, k.TenantID, k.ID, kb.KBPatch{Settings: settings})
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		n, err := kbmaint.Reindex(ctx, db.Store, k, 0, nil)
		require.NoError(b, err)
		require.Equal(b, benchChunks, n)
	}
	b.ReportMetric(float64(benchChunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkReembed(b *testing.B) {
	ctx := context.Background()
	db, k := benchKB(b, 256)
	targets := []int{384, 256}
	embs := map[int]*embedding.Local{}
	for _, d := range targets {
		e, err := embedding.NewLocal(embedding.LocalOptions{Dimension: d})
		require.NoError(b, err)
		embs[d] = e
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// Alternate between two dimensions so each iteration is a full re-embed and swap.
		d := targets[i%2]
		i++
		res, err := kbmaint.Reembed(ctx, db.Store, k, store.EmbeddingTarget{Embedder: "local", Model: embedding.LocalModel, Dim: d}, embs[d], kbmaint.ReembedOptions{})
		require.NoError(b, err)
		require.Equal(b, benchChunks, res.Embedded)
		k, err = db.Store.GetKB(ctx, k.TenantID, "bench")
		require.NoError(b, err)
		require.Equal(b, d, k.EmbeddingDim)
	}
	b.ReportMetric(float64(benchChunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
}
