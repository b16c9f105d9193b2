package kbmaint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgvector/pgvector-go"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

type testBundle struct {
	db     *storetest.DB
	st     *store.Store
	tenant kb.Tenant
	local  map[int]*embedding.Local
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), "acme")
	require.NoError(t, err)
	return &testBundle{db: db, st: db.Store, tenant: tenant, local: map[int]*embedding.Local{}}
}

func (b *testBundle) embedder(t *testing.T, dim int) *embedding.Local {
	t.Helper()
	if l, ok := b.local[dim]; ok {
		return l
	}
	l, err := embedding.NewLocal(embedding.LocalOptions{Dimension: dim})
	require.NoError(t, err)
	b.local[dim] = l
	return l
}

func (b *testBundle) newKB(t *testing.T, name string, dim int) kb.KnowledgeBase {
	t.Helper()
	k, err := b.st.CreateKB(context.Background(), kb.KnowledgeBase{
		TenantID: b.tenant.ID, Name: name, Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: dim,
	})
	require.NoError(t, err)
	return k
}

// put writes a record the way ingestion does: index text = title, newline, text;
// tokens with the knowledge base's dictionary; embedded with its model.
func (b *testBundle) put(t *testing.T, k kb.KnowledgeBase, id, title, text string) {
	t.Helper()
	ctx := context.Background()
	idx := kbmaint.IndexText([]string{title}, text)
	tokens, err := segment.Tokens(idx, segment.KBDict(k))
	require.NoError(t, err)
	vecs, err := b.embedder(t, k.EmbeddingDim).EmbedDocuments(ctx, []string{idx})
	require.NoError(t, err)
	_, err = b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: id, Title: title, Kind: kb.KindRecords, Status: kb.StatusReady, ContentHash: id + text},
		[]kb.Chunk{{Content: text, SectionPath: []string{title}, Embedding: vecs[0], Tokens: tokens}}, k.EmbeddingModel, 2)
	require.NoError(t, err)
}

func (b *testBundle) engine(t *testing.T) *retrieval.Engine {
	t.Helper()
	return retrieval.New(b.st, func(k kb.KnowledgeBase) (retrieval.QueryEmbedder, error) {
		if k.Embedder != "local" || k.EmbeddingModel != embedding.LocalModel {
			return nil, fmt.Errorf("%w: no embedder for %q", kb.ErrInvalid, k.EmbeddingModel)
		}
		return b.embedder(t, k.EmbeddingDim), nil
	}, nil, retrieval.Options{})
}

func (b *testBundle) tokensOf(t *testing.T, kbID int64, externalID string) []string {
	t.Helper()
	var toks []string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT tsvector_to_array(c.tsv) FROM chunks c
		JOIN documents d ON d.id = c.document_id WHERE c.kb_id = $1 AND d.external_id = $2`, kbID, externalID).Scan(&toks))
	return toks
}

func TestDictionaryWordsReachQueriesAtOnceAndChunksAfterReindex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := b.newKB(t, "appliances", 256)
	b.put(t, k, "r1", "石头 G20", "这款扫拖一体机器人支持自动集尘和热风烘干")
	b.put(t, k, "r2", "小天才 Z9", "小天才电话手表支持七天无理由退货")
	b.put(t, k, "r3", "发货", "付款后48小时内发货")
	eng := b.engine(t)
	search := func(k kb.KnowledgeBase, q string) []kb.Hit {
		hits, err := eng.Search(ctx, retrieval.Request{KB: k, Query: q, Mode: kb.ModeText, TopK: 5})
		require.NoError(t, err)
		return hits
	}
	require.NotContains(t, b.tokensOf(t, k.ID, "r1"), "扫拖一体", "jieba splits it")
	require.NotEmpty(t, search(k, "扫拖一体"), "before the dictionary, the query's pieces match")

	settings, _ := json.Marshal(map[string]any{"dictionary": []string{"扫拖一体", "小天才"}})
	k2, err := b.st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)
	// New queries keep the word whole at once (the engine rebuilds its Dict on updated_at),
	// so until the chunks are re-indexed nothing holds that token.
	require.Empty(t, search(k2, "扫拖一体"))

	var progress [][2]int
	n, err := kbmaint.Reindex(ctx, b.st, k2, 2, func(done, total int) { progress = append(progress, [2]int{done, total}) })
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, [][2]int{{0, 3}, {2, 3}, {3, 3}}, progress)
	require.Contains(t, b.tokensOf(t, k.ID, "r1"), "扫拖一体")
	require.Contains(t, b.tokensOf(t, k.ID, "r2"), "小天才")
	require.Contains(t, b.tokensOf(t, k.ID, "r2"), "z9", "the title is indexed too")
	hits := search(k2, "扫拖一体")
	require.Len(t, hits, 1)
	require.Equal(t, "r1", hits[0].ExternalID)
	require.Contains(t, hits[0].MatchedTerms, "扫拖一体")
	hits = search(k2, "小天才")
	require.Len(t, hits, 1)
	require.Equal(t, "r2", hits[0].ExternalID)
}

// The server queues a re-index on River after a dictionary change; a worker runs it with the
// knowledge base's latest dictionary and records its progress where every server reads it.
func TestReindexRunsOnRiverWithTheLatestDictionary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := b.newKB(t, "watches", 256)
	for i := range 5 {
		b.put(t, k, fmt.Sprint("w", i), "手表", "小天才电话手表第"+fmt.Sprint(i)+"代")
	}
	runs := atomic.Int32{}
	c, err := jobs.New(b.db.Pool, b.st, jobs.Options{
		Processor: nopProcessor{}, Poll: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		Reindex: func(ctx context.Context, k kb.KnowledgeBase, progress func(int, int)) error {
			runs.Add(1)
			_, err := kbmaint.Reindex(ctx, b.st, k, 2, progress)
			return err
		},
	})
	require.NoError(t, err)
	_, ok, err := c.ReindexStatus(ctx, k.ID)
	require.NoError(t, err)
	require.False(t, ok)

	settings, _ := json.Marshal(map[string]any{"dictionary": []string{"小天才"}})
	k2, err := b.st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)
	require.NoError(t, c.Reindex(ctx, k)) // a stale copy: its run steps aside for the latest dictionary's
	require.NoError(t, c.Reindex(ctx, k2))
	require.NoError(t, c.Reindex(ctx, k2)) // asked twice while waiting: one run
	st, ok, err := c.ReindexStatus(ctx, k.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, jobs.TaskQueued, st.State)

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(wctx) }()
	require.Eventually(t, func() bool {
		st, _, err = c.ReindexStatus(ctx, k.ID)
		require.NoError(t, err)
		return st.State == jobs.TaskDone || st.State == jobs.TaskFailed
	}, 20*time.Second, 20*time.Millisecond)
	stop()
	require.NoError(t, <-done)
	require.Equal(t, jobs.TaskDone, st.State, st.Error)
	require.Equal(t, 5, st.Done)
	require.Equal(t, 5, st.Total)
	require.False(t, st.FinishedAt.IsZero())
	require.EqualValues(t, 1, runs.Load(), "the stale request and the repeat ran nothing")
	for i := range 5 {
		require.Contains(t, b.tokensOf(t, k.ID, fmt.Sprint("w", i)), "小天才")
	}
}

// nopProcessor stands in for file ingestion, which these tests do not upload.
type nopProcessor struct{}

func (nopProcessor) Process(context.Context, jobs.Job, kb.KnowledgeBase, jobs.File, func(jobs.Progress)) (jobs.Result, error) {
	return jobs.Result{}, nil
}

func TestReembedKeepsSearchWorkingAndSwapsAtTheEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := b.newKB(t, "manuals", 256)
	docs := map[string][2]string{
		"e104": {"故障代码", "E104 表示电机过热，请断电冷却30分钟后重试"},
		"ret":  {"退货政策", "签收后七天内可无理由退货，商品需保持完好"},
		"ship": {"发货时间", "付款后48小时内从杭州仓发货"},
		"wash": {"清洁保养", "滤网每两周清洗一次，晾干后再装回"},
	}
	for id, d := range docs {
		b.put(t, k, id, d[0], d[1])
	}
	eng := b.engine(t)
	target := store.EmbeddingTarget{Embedder: "local", Model: embedding.LocalModel, Dim: 384}
	searches := 0
	res, err := kbmaint.Reembed(ctx, b.st, k, target, b.embedder(t, 384), kbmaint.ReembedOptions{
		Batch: 1,
		Progress: func(done, total int) {
			// Mid-run: the knowledge base still reports the old model and searches use it.
			cur, err := b.st.GetKB(ctx, b.tenant.ID, "manuals")
			require.NoError(t, err)
			require.Equal(t, 256, cur.EmbeddingDim)
			hits, err := eng.Search(ctx, retrieval.Request{KB: cur, Query: "电机过热怎么办", Mode: kb.ModeVector, TopK: 2})
			require.NoError(t, err)
			require.NotEmpty(t, hits)
			require.Equal(t, "e104", hits[0].ExternalID)
			searches++
		},
	})
	require.NoError(t, err)
	require.Equal(t, 5, searches, "one progress report before and after each of 4 batches")
	require.Equal(t, 4, res.Embedded)
	require.False(t, res.Resumed)

	k2, err := b.st.GetKB(ctx, b.tenant.ID, "manuals")
	require.NoError(t, err)
	require.Equal(t, 384, k2.EmbeddingDim)
	var models []string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT array_agg(DISTINCT embedding_model || '/' || vector_dims(embedding)) FROM chunks WHERE kb_id = $1`, k.ID).Scan(&models))
	require.Equal(t, []string{embedding.LocalModel + "/384"}, models)
	hits, err := eng.Search(ctx, retrieval.Request{KB: k2, Query: "电机过热怎么办", Mode: kb.ModeVector, TopK: 2})
	require.NoError(t, err)
	require.Equal(t, "e104", hits[0].ExternalID)
	// The swapped vectors are exactly what ingestion with the new model would store.
	want, err := b.embedder(t, 384).EmbedDocuments(ctx, []string{kbmaint.IndexText([]string{"故障代码"}, docs["e104"][1])})
	require.NoError(t, err)
	var stored pgvector.Vector
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.kb_id = $1 AND d.external_id = 'e104'`, k.ID).Scan(&stored))
	require.InDeltaSlice(t, want[0], stored.Slice(), 1e-6)

	again, err := kbmaint.Reembed(ctx, b.st, k2, target, b.embedder(t, 384), kbmaint.ReembedOptions{})
	require.NoError(t, err)
	require.True(t, again.AlreadyCurrent)
}
