package retrieval_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

type downEmbedder struct{}

func (downEmbedder) EmbedQuery(context.Context, string) ([]float32, error) {
	return nil, errors.New("provider returned HTTP 429")
}

type downReranker struct{}

func (downReranker) Rerank(context.Context, string, []string) ([]retrieval.RerankScore, error) {
	return nil, errors.New("reranker returned HTTP 503")
}

// A hybrid search whose query cannot be embedded answers from its text leg and says so;
// a vector search has nothing to answer from and fails.
func TestSearchWithoutVectorLegSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t, recs)
	down := retrieval.New(b.db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return downEmbedder{}, nil }, nil, retrieval.Options{})

	text, err := b.engine(nil).Search(context.Background(), retrieval.Request{KB: b.kb, Query: "E104 电机过热", Mode: kb.ModeText})
	require.NoError(t, err)
	require.NotEmpty(t, text)

	ctx, deg := retrieval.WithDegradation(context.Background())
	hits, err := down.Search(ctx, retrieval.Request{KB: b.kb, Query: "E104 电机过热"})
	require.NoError(t, err)
	require.Len(t, hits, len(text))
	for i := range hits {
		require.Equal(t, text[i].ChunkID, hits[i].ChunkID, "the text leg's order")
		require.InDelta(t, text[i].Score, hits[i].Score, 1e-9, "scores are the text leg's, not shrunk by a missing vector share")
		require.Nil(t, hits[i].Scores.Vector)
	}
	require.Contains(t, deg.String(), "vector leg unavailable")
	require.Contains(t, deg.String(), "HTTP 429")

	// Without a collector the search degrades the same, silently.
	again, err := down.Search(context.Background(), retrieval.Request{KB: b.kb, Query: "E104 电机过热"})
	require.NoError(t, err)
	require.Len(t, again, len(hits))

	_, err = down.Search(context.Background(), retrieval.Request{KB: b.kb, Query: "E104 电机过热", Mode: kb.ModeVector})
	require.ErrorContains(t, err, "HTTP 429", "a vector-only search cannot do without its vector")

	// A search whose caller gave up reports that, not a degraded answer.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = down.Search(gone, retrieval.Request{KB: b.kb, Query: "E104 电机过热"})
	require.Error(t, err)

	// A reranker that fails leaves the fused order, and says so.
	ctx, deg = retrieval.WithDegradation(context.Background())
	plain, err := b.engine(nil).Search(context.Background(), retrieval.Request{KB: b.kb, Query: "退货 换货 E104", TopK: 3})
	require.NoError(t, err)
	reranked, err := b.engine(downReranker{}).Search(ctx, retrieval.Request{KB: b.kb, Query: "退货 换货 E104", TopK: 3, Rerank: true})
	require.NoError(t, err)
	require.Equal(t, plain, reranked)
	require.Contains(t, deg.String(), "reranker unavailable")
}
