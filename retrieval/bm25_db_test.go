package retrieval_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/bm25"
)

// bm25Recs differ in length and repeat words, so that term frequency, length
// normalisation and IDF all move the scores.
const bm25Recs = `{"id":"r1","text":"退货 退货 退货：签收后七天内可以申请退货，商品需保持完好，退货运费由买家承担。"}
{"id":"r2","text":"退货流程"}
{"id":"r3","text":"换货：签收后十五天内出现质量问题可以换货，换货不收运费。"}
{"id":"r4","text":"The battery drains fast. Battery life is short when the battery is old; replace the battery."}
{"id":"r5","text":"Battery replacement takes one day."}
{"id":"r6","text":"Screen replacement: screens are replaced in two days, screen protectors are free."}
{"id":"r7","text":"E104 表示电机过热，请断电冷却三十分钟；E104 反复出现请联系售后。"}
{"id":"r8","text":"运费说明：满 99 元包邮，偏远地区除外。"}
`

// The text leg is Okapi BM25: its scores equal those of the in-memory index that
// `zhiku eval --baseline bm25` compares against, over the same chunk texts and tokens.
func TestTextLegScoresEqualInMemoryBM25(t *testing.T) {
	t.Parallel()
	b := setup(t, bm25Recs)
	ctx := context.Background()
	idx, err := bm25.New(bm25.Params{})
	require.NoError(t, err)
	var texts []string
	require.NoError(t, b.db.Store.ChunkTexts(ctx, b.kb.ID, func(id, text string) {
		idx.Add(id, text)
		texts = append(texts, text)
	}))
	require.Equal(t, 8, idx.Len())

	seg, err := segment.Shared()
	require.NoError(t, err)
	df := map[string]int{}
	total := 0
	for _, text := range texts {
		toks := seg.Tokens(text, nil)
		total += len(toks)
		seen := map[string]bool{}
		for _, tok := range toks {
			if !seen[tok] {
				seen[tok] = true
				df[tok]++
			}
		}
	}
	n := float64(len(texts))

	e := b.engine(nil)
	for _, q := range []string{"退货运费", "怎么退货", "battery replacement", "replace the screen battery", "E104 过热", "换货 运费 七天"} {
		want := idx.Search(q, 10)
		require.NotEmpty(t, want, q)
		wantScore := map[string]float64{}
		for _, r := range want {
			wantScore[r.ID] = r.Score
		}

		// The engine's hits, in text mode: same documents, same order, same scores.
		hits, err := e.Search(ctx, retrieval.Request{KB: b.kb, Query: q, TopK: 10, Mode: kb.ModeText})
		require.NoError(t, err, q)
		require.Len(t, hits, len(want), q)
		for i, h := range hits {
			require.NotNil(t, h.Scores.BM25, q)
			require.InDelta(t, wantScore[h.ExternalID], *h.Scores.BM25, 1e-9, "%s: %s", q, h.ExternalID)
			require.InDelta(t, want[i].Score, *h.Scores.BM25, 1e-9, "%s: rank %d", q, i+1)
		}

		// The text leg itself, ranking in PostgreSQL.
		terms := seg.QueryTokens(q, nil)
		tq := kb.TextQuery{Match: terms, Terms: terms, K1: 1.2, B: 0.75, AvgLen: float64(total) / n}
		for _, t := range terms {
			d := float64(df[t])
			tq.IDF = append(tq.IDF, math.Log(1+(n-d+0.5)/(d+0.5)))
		}
		ranked, err := b.db.Store.TextSearch(ctx, b.kb.ID, tq, 10, kb.Filter{})
		require.NoError(t, err, q)
		require.Len(t, ranked, len(want), q)
		loaded, err := b.db.Store.Hits(ctx, b.kb, []int64{ranked[0].ChunkID}, nil, nil, nil)
		require.NoError(t, err)
		require.Equal(t, want[0].ID, loaded[ranked[0].ChunkID].ExternalID, q)
		for i, r := range ranked {
			require.InDelta(t, want[i].Score, r.Score, 1e-9, "%s: rank %d", q, i+1)
		}
	}
}

// A knowledge base's settings choose its BM25 parameters.
func TestKBSettingsChooseBM25Parameters(t *testing.T) {
	t.Parallel()
	b := setup(t, bm25Recs)
	ctx := context.Background()
	settings, _ := json.Marshal(map[string]any{"retrieval": map[string]any{"bm25": map[string]any{"k1": 0.9, "b": 0.3}}})
	k, err := b.db.Store.UpdateKB(ctx, b.kb.TenantID, b.kb.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)
	idx, err := bm25.New(bm25.Params{K1: 0.9, B: 0.3})
	require.NoError(t, err)
	require.NoError(t, b.db.Store.ChunkTexts(ctx, b.kb.ID, idx.Add))
	for _, q := range []string{"battery replacement", "退货运费"} {
		want := idx.Search(q, 10)
		hits, err := b.engine(nil).Search(ctx, retrieval.Request{KB: k, Query: q, TopK: 10, Mode: kb.ModeText})
		require.NoError(t, err)
		require.Len(t, hits, len(want), q)
		for i, h := range hits {
			require.Equal(t, want[i].ID, h.ExternalID, q)
			require.InDelta(t, want[i].Score, *h.Scores.BM25, 1e-9, q)
		}
	}
}
