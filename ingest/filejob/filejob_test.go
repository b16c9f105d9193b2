package filejob_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/filejob"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

type testBundle struct {
	db *storetest.DB
	kb kb.KnowledgeBase
}

func setup(t *testing.T) testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	ctx := context.Background()
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tn.ID, Name: "kb1", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	return testBundle{db: db, kb: k}
}

func (b testBundle) processor(t *testing.T, emb ingest.Embedder) *filejob.Processor {
	t.Helper()
	if emb == nil {
		local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
		require.NoError(t, err)
		emb = local
	}
	return filejob.New(filejob.Options{
		Writer: b.db.Store, Pruner: b.db.Store, NoExternalTools: true,
		EmbedderFor: func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return emb, embedding.LocalModel, nil },
	})
}

func job(name, kind string, replace bool) jobs.Job {
	return jobs.Job{ID: 1, Spec: jobs.Spec{FileName: name, Kind: kind, Replace: replace}}
}

func TestCatalogReplaceRemovesDroppedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.processor(t, nil)
	var last jobs.Progress
	report := func(pr jobs.Progress) { last = pr }

	full := "SKU,商品名称,价格\nA1,智能电饭煲 3L,299\nA2,无线吸尘器,999\nA3,空气净化器,1299\n"
	res, err := p.Process(ctx, job("catalog.csv", "auto", false), b.kb, jobs.File{Data: []byte(full)}, report)
	require.NoError(t, err)
	require.Equal(t, kb.KindCatalog, res.Kind)
	require.Equal(t, 3, res.DocumentsNew)
	require.Equal(t, jobs.Progress{Stage: last.Stage, DocumentsDone: 3, DocumentsTotal: 3, ChunksEmbedded: 3}, last)

	// The new file drops A2 and changes A3's price.
	less := "SKU,商品名称,价格\nA1,智能电饭煲 3L,299\nA3,空气净化器,1199\n"
	res, err = p.Process(ctx, job("catalog.csv", "catalog", true), b.kb, jobs.File{Data: []byte(less)}, report)
	require.NoError(t, err)
	require.Equal(t, 1, res.DocumentsUnchanged)
	require.Equal(t, 1, res.DocumentsUpdated)
	require.Equal(t, 1, res.DocumentsRemoved)
	_, total, err := b.db.Store.ListDocuments(ctx, b.kb.ID, "", "", 10, 0)
	require.NoError(t, err)
	require.Equal(t, 2, total)

	// replace on a manual removes nothing and says so.
	res, err = p.Process(ctx, job("m.md", "auto", true), b.kb, jobs.File{Data: []byte("# 手册\n\n正文内容。\n")}, report)
	require.NoError(t, err)
	require.Zero(t, res.DocumentsRemoved)
	require.Len(t, res.Warnings, 1)
	require.Contains(t, res.Warnings[0].En, "catalog imports only")
}

type providerDown struct{}

func (providerDown) Error() string { return "HTTP 503: upstream overloaded" }

type failingEmbedder struct{}

func (failingEmbedder) EmbedDocuments(context.Context, []string) ([][]float32, error) {
	return nil, providerDown{}
}

func TestFailedDocumentsKeepTheirErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.processor(t, failingEmbedder{})
	recs := `{"id":"r1","title":"a","text":"第一条"}` + "\n" + `{"id":"r2","title":"b","text":"第二条"}` + "\n"
	res, err := p.Process(context.Background(), job("r.jsonl", "records", false), b.kb, jobs.File{Data: []byte(recs)}, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "2 of 2 documents failed")
	require.True(t, errors.As(err, new(providerDown)), "the provider's error stays reachable, so the pool can tell it is transient")
	require.Equal(t, 2, res.DocumentsFailed)
	require.Len(t, res.Failures, 2)
	require.Contains(t, res.Failures[0].Error, "503")
}

func TestUnreadableFileFailsWithItsReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.processor(t, nil).Process(context.Background(), job("x.csv", "catalog", false), b.kb, jobs.File{Data: []byte("名称,颜色\n电饭煲,白\n")}, nil)
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, zh := kb.Texts(err)
	require.NotEmpty(t, zh, "both languages")
}
