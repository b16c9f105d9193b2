package retrieval_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
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

	// Ranked in PostgreSQL (a corpus this small always is), and from the cached postings.
	cached := store.New(b.db.Pool, store.Options{TextPostings: store.TextPostingsOptions{MinPostings: -1, ReadOnSearch: true}})
	for _, st := range []*store.Store{b.db.Store, cached} {
		textLegEqualsBM25(t, b, st, idx, seg, df, total, len(texts))
	}
	require.Positive(t, cached.TextPostingStats().Answered, "the cached postings ranked the searches")
}

func textLegEqualsBM25(t *testing.T, b bundle, st *store.Store, idx *bm25.Index, seg *segment.Segmenter, df map[string]int, total, chunks int) {
	ctx := context.Background()
	n := float64(chunks)
	e := retrieval.New(st, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return b.emb, nil }, nil, retrieval.Options{})
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
		ranked, err := st.TextSearch(ctx, b.kb.ID, tq, 10, kb.Filter{})
		require.NoError(t, err, q)
		require.Len(t, ranked, len(want), q)
		loaded, err := st.Hits(ctx, b.kb, []int64{ranked[0].ChunkID}, nil, nil, nil)
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

// titledRecs are sentences of two pages, each titled with its page, as in wikiqa_en: every
// sentence's index text starts with its title.
const titledRecs = `{"id":"g1","title":"Glacier cave","text":"Ice formations in the Titlis glacier cave."}
{"id":"g2","title":"Glacier cave","text":"A glacier cave is a cave formed within the ice of a glacier, usually by water running through or under it."}
{"id":"g3","title":"Glacier cave","text":"Glacier caves are sometimes called ice caves."}
{"id":"r1","title":"Radial engine","text":"Radial engine biplane."}
{"id":"r2","title":"Radial engine","text":"The radial engine is a reciprocating internal combustion engine in which the cylinders point outward from a central crankshaft; aircraft used it widely."}
{"id":"r3","title":"Radial engine","text":"Click for the full animation."}
{"id":"j1","title":"Jet engine","text":"A jet engine is a reaction engine that discharges a fast moving jet."}
{"id":"f1","text":"Caves formed by water in limestone are common."}
`

// A chunk's title (its heading path, here a record's title) is a field of its own: the
// engine scores BM25F, a title term weighing TitleWeight (default 2) text terms and the
// text normalised by its own length, so a short sentence is not lifted above the one that
// answers just because its page's title fills it.
func TestTitleIsAFieldOfItsOwn(t *testing.T) {
	t.Parallel()
	b := setup(t, titledRecs)
	ctx := context.Background()
	seg, err := segment.Shared()
	require.NoError(t, err)
	type doc struct{ title, text []string }
	docs := map[string]doc{}
	df := map[string]int{}
	total := 0
	for _, line := range strings.Split(strings.TrimSpace(titledRecs), "\n") {
		var r struct{ ID, Title, Text string }
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		d := doc{title: seg.Tokens(r.Title, nil), text: seg.Tokens(r.Text, nil)}
		docs[r.ID] = d
		total += len(d.title) + len(d.text)
		seen := map[string]bool{}
		for _, tok := range append(slices.Clone(d.title), d.text...) {
			if !seen[tok] {
				seen[tok] = true
				df[tok]++
			}
		}
	}
	n, avg := float64(len(docs)), float64(total)/float64(len(docs))
	bm25f := func(id string, terms []string, w float64) float64 {
		d := docs[id]
		norm := 1 - 0.75 + 0.75*float64(len(d.text))/avg
		sum := 0.0
		for _, term := range terms {
			x := w*float64(count(d.title, term)) + float64(count(d.text, term))/norm
			if x == 0 {
				continue
			}
			idf := math.Log(1 + (n-float64(df[term])+0.5)/(float64(df[term])+0.5))
			sum += idf * x * 2.2 / (x + 1.2)
		}
		return sum
	}

	idx, err := bm25.New(bm25.Params{})
	require.NoError(t, err)
	require.NoError(t, b.db.Store.ChunkTexts(ctx, b.kb.ID, idx.Add))
	// r3 holds the query's words only in its title; r2 also in its text.
	rank := func(ids []string) map[string]int {
		m := map[string]int{}
		for i, id := range ids {
			m[id] = i
		}
		return m
	}
	var plain []string
	for _, r := range idx.Search("what is a radial engine", 3) {
		plain = append(plain, r.ID)
	}
	require.Less(t, rank(plain)["r3"], rank(plain)["r2"], "plain BM25: the title fills the short sentence")

	weight := 0.5
	settings, _ := json.Marshal(map[string]any{"retrieval": map[string]any{"bm25": map[string]any{"title_weight": weight}}})
	halved, err := b.db.Store.UpdateKB(ctx, b.kb.TenantID, b.kb.ID, kb.KBPatch{Settings: settings})
	require.NoError(t, err)
	for _, c := range []struct {
		k kb.KnowledgeBase
		w float64
	}{{b.kb, 2}, {halved, weight}} {
		for _, q := range []string{"what is a radial engine", "how are glacier caves formed", "jet engine", "caves formed by water"} {
			terms := seg.QueryTokens(q, nil)
			hits, err := b.engine(nil).Search(ctx, retrieval.Request{KB: c.k, Query: q, TopK: 10, Mode: kb.ModeText})
			require.NoError(t, err, q)
			require.NotEmpty(t, hits, q)
			for i, h := range hits {
				require.InDelta(t, bm25f(h.ExternalID, terms, c.w), *h.Scores.BM25, 1e-9, "%s: %s", q, h.ExternalID)
				if i > 0 {
					require.GreaterOrEqual(t, *hits[i-1].Scores.BM25, *h.Scores.BM25, q)
				}
			}
		}
	}
	hits, err := b.engine(nil).Search(ctx, retrieval.Request{KB: b.kb, Query: "what is a radial engine", TopK: 3, Mode: kb.ModeText})
	require.NoError(t, err)
	var got []string
	for _, h := range hits {
		got = append(got, h.ExternalID)
	}
	require.Less(t, rank(got)["r2"], rank(got)["r3"], "BM25F: the sentence whose text says it")
}

func count(toks []string, t string) int {
	n := 0
	for _, x := range toks {
		if x == t {
			n++
		}
	}
	return n
}
