package closedloop

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
)

// memIndex is GapIndex over gaps held in memory, for measuring grouping without a
// database; it scores exactly as the store's scan does (cosine with the mean vector).
type memIndex struct {
	gaps []*memGap
}

type memGap struct {
	id      int64
	samples []string
	mean    []float32
	count   int
}

func (m *memIndex) NearestOpenGaps(_ context.Context, _ int64, vec []float32, n int) ([]kb.GapCandidate, error) {
	out := make([]kb.GapCandidate, 0, len(m.gaps))
	for _, g := range m.gaps {
		out = append(out, kb.GapCandidate{ID: g.id, Question: g.samples[0], Samples: g.samples, Count: g.count, Cosine: cosine(vec, g.mean)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cosine > out[j].Cosine })
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// add files question under m.GapID (or a new gap) and returns the gap's id.
func (m *memIndex) add(match Match, question string) int64 {
	if match.GapID == 0 {
		g := &memGap{id: int64(len(m.gaps) + 1), samples: []string{question}, mean: match.Vector, count: 1}
		m.gaps = append(m.gaps, g)
		return g.id
	}
	g := m.gaps[match.GapID-1]
	if len(g.samples) < 20 {
		g.samples = append(g.samples, question)
	}
	mean := make([]float32, len(g.mean))
	for i := range mean {
		mean[i] = (g.mean[i]*float32(g.count) + match.Vector[i]) / float32(g.count+1)
	}
	g.mean, g.count = mean, g.count+1
	return g.id
}

// groupAll groups questions in order, as the capture would, and returns each one's gap.
func groupAll(t testing.TB, emb Embedder, opts GroupOptions, questions []string) []int64 {
	idx := &memIndex{}
	g := NewGrouper(emb, idx, opts)
	out := make([]int64, len(questions))
	for i, q := range questions {
		m, err := g.Match(context.Background(), 1, q)
		require.NoError(t, err)
		out[i] = idx.add(m, q)
	}
	return out
}

// pairwise compares a grouping with gold labels over every pair of items.
func pairwise(gold []string, got []int64) (precision, recall float64) {
	tp, fp, fn := 0, 0, 0
	for i := range gold {
		for j := i + 1; j < len(gold); j++ {
			same, grouped := gold[i] == gold[j], got[i] == got[j]
			switch {
			case same && grouped:
				tp++
			case grouped:
				fp++
			case same:
				fn++
			}
		}
	}
	return ratioOf(tp, tp+fp), ratioOf(tp, tp+fn)
}

func ratioOf(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

type labelled struct {
	Intent   string `json:"intent"`
	Language string `json:"language"`
	Text     string `json:"text"`
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

func localEmbedder(t testing.TB) Embedder {
	t.Helper()
	e, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(t, err)
	return e
}

// TestGroupingQuality measures pairwise precision and recall of grouping on the project's
// labelled customer questions (testdata/gaps/questions.jsonl), shuffled with fixed seeds.
// Run with -v to see the figures. The defaults were tuned on half A (the intents at even
// places in the file, in order of first appearance); half B (odd places) is held out, and
// both are reported beside the whole set.
func TestGroupingQuality(t *testing.T) {
	t.Parallel()
	set := readJSONL[labelled](t, "../testdata/gaps/questions.jsonl")
	intents := map[string]int{}
	for _, q := range set {
		if _, ok := intents[q.Intent]; !ok {
			intents[q.Intent] = len(intents)
		}
	}
	require.GreaterOrEqual(t, len(set), 150)
	require.GreaterOrEqual(t, len(intents), 30)
	var halves [2][]labelled
	for _, q := range set {
		halves[intents[q.Intent]%2] = append(halves[intents[q.Intent]%2], q)
	}
	emb := localEmbedder(t)
	p, r := groupingQuality(t, emb, set)
	t.Logf("labelled set: %d questions, %d intents: pairwise precision %.3f recall %.3f (mean of 5 orders)", len(set), len(intents), p, r)
	for i, name := range []string{"A (tuned on)", "B (held out)"} {
		hp, hr := groupingQuality(t, emb, halves[i])
		t.Logf("  half %s: %d questions: precision %.3f recall %.3f", name, len(halves[i]), hp, hr)
	}
	require.GreaterOrEqual(t, p, 0.9, "look-alike intents must not merge")
	require.GreaterOrEqual(t, r, 0.6)
}

// groupingQuality is the mean pairwise precision and recall of grouping set in 5 orders.
func groupingQuality(t *testing.T, emb Embedder, set []labelled) (precision, recall float64) {
	const runs = 5
	for seed := range uint64(runs) {
		order := rand.New(rand.NewPCG(seed, 7)).Perm(len(set))
		gold, qs := make([]string, len(set)), make([]string, len(set))
		for i, j := range order {
			gold[i], qs[i] = set[j].Intent, set[j].Text
		}
		p, r := pairwise(gold, groupAll(t, emb, GroupOptions{}, qs))
		precision, recall = precision+p/runs, recall+r/runs
	}
	return precision, recall
}

// TestNearMissesStayApart pins the examples.
func TestNearMissesStayApart(t *testing.T) {
	t.Parallel()
	emb := localEmbedder(t)
	same := func(a, b string) bool {
		got := groupAll(t, emb, GroupOptions{}, []string{a, b})
		return got[0] == got[1]
	}
	for _, p := range [][2]string{{"怎么退货", "退货流程是什么"}, {"退款什么时候到账", "退款几天能到账"}, {"How do I return an item?", "How can I return an item I bought?"}} {
		require.True(t, same(p[0], p[1]), "%s / %s should group", p[0], p[1])
	}
	for _, p := range [][2]string{{"退货", "换货"}, {"怎么退货", "怎么换货"}, {"怎么退货", "怎么退款"}, {"什么时候发货", "什么时候到货"},
		{"怎么开发票", "能开个收据吗"}, {"优惠券怎么用", "优惠券用不了"}} {
		require.False(t, same(p[0], p[1]), "%s / %s must stay apart", p[0], p[1])
	}
}

type devRecord struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Relevant []string `json:"relevant"`
}

// TestGroupingLCQMC measures grouping on real paraphrase data, ../shared/devsets/lcqmc_zh
// (skipped when absent): each query with its labelled paraphrase must group (recall);
// each query with a random other record (easy negatives) and with the most lexically
// similar record that is not its paraphrase (hard negatives, like LCQMC's own label-0
// pairs) should not. Precision counts the negatives grouped against the paraphrases.
func TestGroupingLCQMC(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "shared", "devsets", "lcqmc_zh")
	if _, err := os.Stat(filepath.Join(dir, "queries.jsonl")); err != nil {
		t.Skip("lcqmc_zh dev set not found at ../shared/devsets")
	}
	corpus := readJSONL[devRecord](t, filepath.Join(dir, "corpus.jsonl"))
	queries := readJSONL[devRecord](t, filepath.Join(dir, "queries.jsonl"))
	text := map[string]string{}
	for _, d := range corpus {
		text[d.ID] = d.Text
	}
	emb := localEmbedder(t)
	pair := func(a, b string) bool {
		got := groupAll(t, emb, GroupOptions{}, []string{a, b})
		return got[0] == got[1]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Hard negatives: among 300 random records, the one sharing most bigrams with the query.
	feats := make([][]string, len(corpus))
	for i, d := range corpus {
		feats[i] = lexicalFeatures(d.Text)
	}
	n := min(len(queries), 1000)
	var tp, fn, fpEasy, fpHard int
	for _, q := range queries[:n] {
		rel := map[string]bool{}
		for _, r := range q.Relevant {
			rel[r] = true
		}
		if pair(q.Text, text[q.Relevant[0]]) {
			tp++
		} else {
			fn++
		}
		var easy string
		for easy == "" || rel[easy] {
			easy = corpus[rng.IntN(len(corpus))].ID
		}
		if pair(q.Text, text[easy]) {
			fpEasy++
		}
		qf, best, bestScore := lexicalFeatures(q.Text), -1, -1.0
		for range 300 {
			i := rng.IntN(len(corpus))
			if rel[corpus[i].ID] {
				continue
			}
			if s := dice(qf, feats[i]); s > bestScore {
				best, bestScore = i, s
			}
		}
		if pair(q.Text, corpus[best].Text) {
			fpHard++
		}
	}
	recall := ratioOf(tp, tp+fn)
	t.Logf("lcqmc_zh: %d paraphrase pairs: recall %.3f; precision %.3f with %d random negatives (%d grouped), %.3f with %d hard negatives (%d grouped)",
		n, recall, ratioOf(tp, tp+fpEasy), n, fpEasy, ratioOf(tp, tp+fpHard), n, fpHard)
	require.Greater(t, recall, 0.3)
}
