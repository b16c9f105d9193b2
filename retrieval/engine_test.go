package retrieval

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestFuseWeightsRanks(t *testing.T) {
	t.Parallel()
	e := New(nil, nil, nil, Options{})
	vec := []kb.Ranked{{ChunkID: 1}, {ChunkID: 2}, {ChunkID: 3}}
	text := []kb.Ranked{{ChunkID: 3}, {ChunkID: 4}}
	got := e.fuse(vec, text, Weights{Vector: 1, Text: 1})
	require.Equal(t, int64(3), got[0].id, "found by both legs wins")
	require.InDelta(t, 1.0/63+1.0/61, got[0].score, 1e-12)
	onlyText := e.fuse(vec, text, Weights{Vector: 0, Text: 1})
	require.Equal(t, int64(3), onlyText[0].id)
	require.Equal(t, int64(4), onlyText[1].id)
}

func TestDrivingTermsDropCommonButKeepTwo(t *testing.T) {
	t.Parallel()
	w := map[string]float64{"rare": 5, "mid": 3, "common1": 0.2, "common2": 0.1}
	class := map[string]int{"common1": commonTerm, "common2": commonTerm, "absent": absentTerm}
	df := map[string]int{"rare": 3, "mid": 20, "common1": 301, "common2": 301}
	require.Equal(t, []string{"rare", "mid"}, drivingTerms([]string{"common1", "rare", "common2", "mid"}, w, class, df, 40))
	require.Equal(t, []string{"common1"}, drivingTerms([]string{"common1", "common2"}, w, class, df, 40),
		"a query of common words still searches (by the first alone: common2 cannot outrank it)")
	w["common2"], w["common3"] = 0.15, 0.1
	require.Equal(t, []string{"common1", "common2", "common3"}, drivingTerms([]string{"common1", "common2", "common3"}, w, class, df, 40),
		"common2 and common3 (weight 0.1, not common here) outweigh common1 together")
	w["common2"] = 0.1
	w["absent"] = 9
	require.Equal(t, []string{"absent", "rare", "mid"}, drivingTerms([]string{"absent", "common1", "rare", "mid"}, w, class, df, 40),
		"a term no chunk held does not count among the two")
	require.Equal(t, []string{"absent", "common1"}, drivingTerms([]string{"absent", "common1", "common2"}, w, class, df, 40))
}

// The second of the two rarest is left out when it cannot change the results: its weight
// and the rest's are below the first's, and the first's chunks fill the need.
func TestDrivingTermsLeaveOutASecondThatCannotMatter(t *testing.T) {
	t.Parallel()
	// "起兵能退吗" at 100k chunks: 起兵 in 1,075 chunks, 退 in 10,844, 能 in more.
	w := map[string]float64{"起兵": 5.8, "退": 2.2, "能": 1.0}
	class := map[string]int{"起兵": commonTerm, "退": commonTerm, "能": commonTerm}
	df := map[string]int{"起兵": 301, "退": 301, "能": 301} // counted up to the cap
	require.Equal(t, []string{"起兵"}, drivingTerms([]string{"起兵", "能", "退"}, w, class, df, 40))
	// The rest together outweigh the first: a chunk holding both could rank above it.
	w["退"], w["能"] = 3.5, 2.5
	require.Equal(t, []string{"起兵", "退"}, drivingTerms([]string{"起兵", "能", "退"}, w, class, df, 40))
	// The first's chunks cannot fill the need.
	w["退"], w["能"] = 2.2, 1.0
	df["起兵"] = 12
	require.Equal(t, []string{"起兵", "退"}, drivingTerms([]string{"起兵", "能", "退"}, w, class, df, 40))
	// A rare (not common) first term: the same rule for the common second.
	class["起兵"], df["起兵"] = 0, 80
	require.Equal(t, []string{"起兵"}, drivingTerms([]string{"起兵", "能", "退"}, w, class, df, 40))
	// Terms no chunk holds weigh nothing in the rest.
	w["缺"], class["缺"] = 9, absentTerm
	require.Equal(t, []string{"缺", "起兵"}, drivingTerms([]string{"起兵", "缺", "能", "退"}, w, class, df, 40))
}

func TestBM25OfACandidate(t *testing.T) {
	t.Parallel()
	idf := map[string]float64{"e104": 4, "电机": 1}
	c := kb.Candidate{TF: []int{2, 0}, Length: 20}
	// 4 · 2·2.2 / (2 + 1.2·(0.25 + 0.75·20/10))
	require.InDelta(t, 4*2*2.2/(2+1.2*(0.25+0.75*2)), bm25([]string{"e104", "电机"}, idf, c, 1.2, 0.75, 10), 1e-12)
	require.Equal(t, []string{"e104"}, matched([]string{"e104", "电机"}, c.TF))

	// BM25F: without a title it is BM25; "e104" once in the title (weight 2) and once in
	// the 18-token text, normalised by the text's length only.
	terms := []string{"e104", "电机"}
	require.Equal(t, bm25(terms, idf, c, 1.2, 0.75, 10), bm25f(terms, idf, c, nil, 2, 1.2, 0.75, 10))
	x := 2 + 1/(0.25+0.75*18.0/10)
	require.InDelta(t, 4*x*2.2/(x+1.2), bm25f(terms, idf, c, []string{"e104", "故障"}, 2, 1.2, 0.75, 10), 1e-12)
	// Both occurrences in the title: none left for the text.
	require.InDelta(t, 4*4*2.2/(4+1.2), bm25f(terms, idf, c, []string{"e104", "e104"}, 2, 1.2, 0.75, 10), 1e-12)
}

func TestScoreBlendsLegs(t *testing.T) {
	t.Parallel()
	v, x := 0.6, 1.0
	s := kb.Scores{Vector: &v, Text: &x}
	require.InDelta(t, 0.8, score(kb.ModeHybrid, s, 0.5), 1e-12)
	require.InDelta(t, 0.7, score(kb.ModeHybrid, s, 0.75), 1e-12)
	require.InDelta(t, 0.6, score(kb.ModeVector, s, 0.5), 1e-12)
	require.InDelta(t, 1.0, score(kb.ModeText, s, 0.5), 1e-12)
}

func TestVectorShareFollowsEmbedderAndScript(t *testing.T) {
	t.Parallel()
	e := New(nil, nil, nil, Options{})
	local := kb.KnowledgeBase{Embedder: "local"}
	require.InDelta(t, 0.7, e.vectorShare(local, "扫地机怎么清洁滚刷"), 1e-12, "Chinese: the local embedder's character grams add to BM25")
	require.InDelta(t, 0.0, e.vectorShare(local, "how do I clean the brush"), 1e-12, "English: it repeats BM25's words")
	require.InDelta(t, 0.35, e.vectorShare(local, "清洁ab"), 1e-12, "mixed in proportion")
	require.InDelta(t, 0.6, e.vectorShare(kb.KnowledgeBase{Embedder: "openai"}, "how do I clean the brush"), 1e-12)
}

func TestKBWeights(t *testing.T) {
	t.Parallel()
	f := func(x float64) *float64 { return &x }
	require.Nil(t, kbWeights(kb.RetrievalSettings{}))
	require.Equal(t, &Weights{Vector: 0.3, Text: 0.7}, kbWeights(kb.RetrievalSettings{VectorWeight: f(0.3)}))
	require.Equal(t, &Weights{Vector: 1, Text: 3}, kbWeights(kb.RetrievalSettings{VectorWeight: f(1), TextWeight: f(3)}))
	require.Nil(t, kbWeights(kb.RetrievalSettings{VectorWeight: f(-1), TextWeight: f(1)}))
}

func TestWiderTermsStayWithinBudget(t *testing.T) {
	t.Parallel()
	w := map[string]float64{"rare": 5, "mid": 3, "common1": 0.5, "common2": 0.1}
	df := map[string]int{"rare": 3, "mid": 40, "common1": 2000, "common2": 30000}
	terms := []string{"common2", "rare", "common1", "mid", "absent"}
	require.Equal(t, []string{"rare", "mid", "common1"}, widerTerms([]string{"rare", "mid"}, terms, w, df, 5000))
	require.Equal(t, []string{"rare", "mid"}, widerTerms([]string{"rare", "mid"}, terms, w, df, 1000))
}
