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
	common := map[string]bool{"common1": true, "common2": true}
	terms, weights := drivingTerms([]string{"common1", "rare", "common2", "mid"}, w, common)
	require.Equal(t, []string{"rare", "mid"}, terms)
	require.Equal(t, []float64{5, 3}, weights)
	terms, _ = drivingTerms([]string{"common1", "common2"}, w, common)
	require.Equal(t, []string{"common1", "common2"}, terms, "a query of common words still searches")
}

func TestCoverageIsWeightedShare(t *testing.T) {
	t.Parallel()
	w := map[string]float64{"e104": 4, "电机": 1}
	matched, c := coverage([]string{"e104", "电机"}, w, 5, []string{"e104", "过热"})
	require.Equal(t, []string{"e104"}, matched)
	require.InDelta(t, 0.8, *c, 1e-12)
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
