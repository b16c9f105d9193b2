package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// Text searches ranked from the cached postings give the exact BM25 top of the knowledge
// base (the same chunks, order and scores as scoring every candidate), through new chunks,
// in-place token rewrites, deletions and filters, and they do answer searches on common
// terms.
func TestTextPostingsGiveTheExactTop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.st = store.New(b.db.Pool, store.Options{TextPostings: store.TextPostingsOptions{MinPostings: 50, ReadOnSearch: true}})
	k := newKB(t, b.st, b.tenant.ID, "postings", 4)
	rng := rand.New(rand.NewPCG(3, 14))

	tokens := map[int64][]string{}
	group := map[int64]int{}
	makeChunk := func() []string {
		var toks []string
		for range 4 + rng.IntN(40) {
			toks = append(toks, fmt.Sprint("w", rng.IntN(60)))
		}
		for _, ts := range []struct {
			term  string
			share float64
		}{{"热门", 0.8}, {"常见", 0.5}, {"少见", 0.05}} {
			if term := ts.term; rng.Float64() < ts.share {
				for range 1 + rng.IntN(4) {
					toks = append(toks, term)
				}
			}
		}
		return toks
	}
	// write replaces (or adds) document g's chunks and records their tokens.
	write := func(g, n int, special ...[]string) kb.Document {
		var chunks []kb.Chunk
		var toks [][]string
		for i := range n {
			tk := makeChunk()
			if i < len(special) {
				tk = special[i]
			}
			toks = append(toks, tk)
			chunks = append(chunks, kb.Chunk{Ord: i, Content: fmt.Sprintf("doc %d chunk %d", g, i), Embedding: []float32{1, 0, 0, 0}, Tokens: tk})
		}
		res, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: fmt.Sprint("doc-", g), Title: "t",
			Kind: kb.KindRecords, Status: kb.StatusReady, ContentHash: fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(g, toks)))), Metadata: map[string]any{"g": g}}, chunks, "test-model", 4)
		require.NoError(t, err)
		for id, g2 := range group {
			if g2 == g {
				delete(tokens, id)
				delete(group, id)
			}
		}
		rows, err := b.db.Pool.Query(ctx, `SELECT id, ord FROM chunks WHERE document_id = $1`, res.Document.ID)
		require.NoError(t, err)
		for rows.Next() {
			var id int64
			var ord int
			require.NoError(t, rows.Scan(&id, &ord))
			tokens[id], group[id] = toks[ord], g
		}
		require.NoError(t, rows.Err())
		return res.Document
	}
	var doc5 kb.Document
	for g := range 6 {
		if d := write(g, 60); g == 5 {
			doc5 = d
		}
	}

	terms := []string{"少见", "热门", "常见", "w1", "w2"}
	idf := []float64{3, 0.4, 0.9, 1.5, 1.1}
	query := func(match []string) kb.TextQuery {
		total := 0
		for _, tk := range tokens {
			total += len(tk)
		}
		return kb.TextQuery{Match: match, Terms: terms, IDF: idf, K1: 1.2, B: 0.75, AvgLen: float64(total) / float64(len(tokens))}
	}
	// exact scores every chunk holding a term of q.Match (and in group g unless g < 0).
	exact := func(q kb.TextQuery, limit, g int) []kb.Ranked {
		var out []kb.Ranked
		for id, tk := range tokens {
			if g >= 0 && group[id] != g {
				continue
			}
			tf := map[string]float64{}
			for _, x := range tk {
				tf[x]++
			}
			held := false
			for _, m := range q.Match {
				held = held || tf[m] > 0
			}
			if !held {
				continue
			}
			s := 0.0
			for i, term := range q.Terms {
				if f := tf[term]; f > 0 {
					s += q.IDF[i] * f * (q.K1 + 1) / (f + q.K1*(1-q.B+q.B*float64(len(tk))/q.AvgLen))
				}
			}
			out = append(out, kb.Ranked{ChunkID: id, Score: s})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Score != out[j].Score {
				return out[i].Score > out[j].Score
			}
			return out[i].ChunkID < out[j].ChunkID
		})
		return out[:min(limit, len(out))]
	}
	check := func(what string, q kb.TextQuery, limit int, f kb.Filter, g int) {
		t.Helper()
		got, err := b.st.TextSearch(ctx, k.ID, q, limit, f)
		require.NoError(t, err)
		want := exact(q, limit, g)
		require.Equal(t, ids(want), ids(got), what)
		for i := range want {
			require.InDelta(t, want[i].Score, got[i].Score, 1e-6, what)
		}
	}
	answered := func() int64 { return b.st.TextPostingStats().Answered }

	common := query([]string{"热门", "常见"})
	check("common terms", common, 10, kb.Filter{}, -1)
	require.Equal(t, int64(1), answered(), "ranked from the cached postings")
	check("common terms again", common, 10, kb.Filter{}, -1)
	require.Equal(t, int64(2), answered())
	check("a deeper top", common, 40, kb.Filter{}, -1)

	before := answered()
	check("a rare driving term: the full statement", query([]string{"少见"}), 10, kb.Filter{}, -1)
	require.Equal(t, before, answered(), "few postings: the full statement is as fast")

	// A new document whose chunks beat every other lands after the lists were read: the
	// search scores it (its ids are above their watermark) without forgetting them.
	best := []string{"少见", "少见", "少见", "热门", "热门", "热门", "常见", "常见", "w1"}
	write(7, 3, best, best)
	check("after a new document", common, 10, kb.Filter{}, -1)
	got, err := b.st.TextSearch(ctx, k.ID, common, 2, kb.Filter{})
	require.NoError(t, err)
	for _, id := range ids(got) {
		require.Equal(t, 7, group[id], "the new document's chunks lead")
	}

	// Tokens rewritten in place (re-segmenting): a chunk that held nothing now tops the list.
	plain := int64(math.MaxInt64) // group 0's first chunk
	for id := range tokens {
		if group[id] == 0 {
			plain = min(plain, id)
		}
	}
	rewritten := []string{"少见", "少见", "少见", "少见", "热门", "热门", "热门", "常见", "常见", "常见", "w1", "w2", "w2"}
	require.NoError(t, b.st.SetTokens(ctx, k.ID, []int64{plain}, [][]string{rewritten}))
	tokens[plain] = rewritten
	check("after tokens were rewritten in place", common, 10, kb.Filter{}, -1)
	got, err = b.st.TextSearch(ctx, k.ID, common, 3, kb.Filter{})
	require.NoError(t, err)
	require.Contains(t, ids(got), plain, "the rewritten chunk is found by its new tokens")

	// A document's re-index swaps its chunks' tokens in place too.
	var swapIDs []int64
	var swapToks [][]string
	var swapVecs [][]float32
	for id, g := range group {
		if g == 5 {
			swapIDs = append(swapIDs, id)
		}
	}
	sort.Slice(swapIDs, func(i, j int) bool { return swapIDs[i] < swapIDs[j] })
	top := []string{"少见", "少见", "少见", "少见", "少见", "热门", "热门", "常见", "常见", "w1", "w1"}
	for i, id := range swapIDs {
		tk := tokens[id]
		if i == 0 {
			tk = top
		}
		swapToks, swapVecs = append(swapToks, tk), append(swapVecs, []float32{1, 0, 0, 0})
		tokens[id] = tk
	}
	require.NoError(t, b.st.SwapDocumentIndex(ctx, k.ID, doc5.ID, k.EmbeddingModel, swapIDs, swapToks, swapVecs))
	check("after a document's re-index", common, 10, kb.Filter{}, -1)
	got, err = b.st.TextSearch(ctx, k.ID, common, 3, kb.Filter{})
	require.NoError(t, err)
	require.Contains(t, ids(got), swapIDs[0], "the re-indexed chunk is found by its new tokens")

	// A document replaced by one without the terms: its chunks leave the top.
	write(7, 2)
	check("after a document was replaced", common, 10, kb.Filter{}, -1)

	afterChanges := answered()
	check("filtered", common, 10, kb.Filter{Conditions: []kb.Condition{{Field: "g", Op: kb.OpEq, Value: 2}}}, 2)
	require.Equal(t, afterChanges+1, answered(), "a filter passing a seventh of the chunks is still ranked from the cache")
	st := b.st.TextPostingStats()
	n, full := st.Answered, st.FullScans
	require.Greater(t, n, before+1, "the cache kept answering after the changes")
	t.Logf("ranked from the cache %d, full statements after trying it %d", n, full)
}

// Lists are read in the background, never on the search path: the first search runs the
// full statement, later ones are ranked from the cache. After a change notification the
// knowledge base's lists are dropped and read again only once it has been quiet a while,
// so a knowledge base being written to is not re-read with every document.
func TestTextPostingsAreReadInTheBackgroundAndRestWhileWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const quiet = 300 * time.Millisecond
	st := store.New(b.db.Pool, store.Options{TextPostings: store.TextPostingsOptions{MinPostings: 1, Quiet: quiet}})
	k := newKB(t, st, b.tenant.ID, "background", 4)
	for i := range 30 {
		putDoc(t, st, k, fmt.Sprint("d", i), []float32{1, 0, 0, 0}, []string{"热门", fmt.Sprint("w", i%3)}, nil)
	}
	q := kb.TextQuery{Match: []string{"热门"}, Terms: []string{"热门", "w1"}, IDF: []float64{0.5, 1}, K1: 1.2, B: 0.75, AvgLen: 2}
	search := func() []kb.Ranked {
		t.Helper()
		got, err := st.TextSearch(ctx, k.ID, q, 5, kb.Filter{})
		require.NoError(t, err)
		require.Len(t, got, 5)
		return got
	}
	want := search()
	same := func(got []kb.Ranked) {
		t.Helper()
		require.Equal(t, ids(want), ids(got))
		for i := range want {
			require.InDelta(t, want[i].Score, got[i].Score, 1e-9)
		}
	}
	require.Zero(t, st.TextPostingStats().Answered, "the first search does not wait for the lists")
	require.NoError(t, st.WaitTextPostings(ctx))
	same(search()) // the driving term's list is in; the other term's is read now
	require.NoError(t, st.WaitTextPostings(ctx))
	same(search())
	require.Equal(t, int64(1), st.TextPostingStats().Answered)
	require.Equal(t, int64(40), st.TextPostingStats().Postings, "热门 in 30 chunks, w1 in 10")

	st.ForgetTextPostings(k.ID) // as the server does on a change notification
	same(search())
	require.NoError(t, st.WaitTextPostings(ctx))
	require.Zero(t, st.TextPostingStats().Postings, "nothing is read while the knowledge base is busy")
	time.Sleep(quiet)
	search()
	require.NoError(t, st.WaitTextPostings(ctx))
	require.Positive(t, st.TextPostingStats().Postings, "read again once it is quiet")
}
