package answer

import (
	"math"

	"github.com/zhiku/zhiku/internal/kb"
)

// Confidence weights: how sure an answer grounded in hits can be, from the retrieval
// evidence alone (no model judges itself). The top hit's blended score says how close the
// best passage is; its term coverage says how much of the question it speaks to (a
// passage sharing one common word scores low however close its vector); the margin over
// the runner-up says whether it stands out or is one of many look-alikes. The weights
// and the default threshold come from `zhiku eval --answers` on the dev sets.
const (
	weightScore    = 0.55
	weightCoverage = 0.35
	weightMargin   = 0.10
)

// confidence scores hits (best first) in 0..1 and returns the parts for debugging.
func confidence(hits []kb.Hit) (float64, map[string]float64) {
	if len(hits) == 0 {
		return 0, map[string]float64{"score": 0, "coverage": 0, "margin": 0}
	}
	top := hits[0]
	coverage := 0.0
	if top.Scores.Text != nil {
		coverage = *top.Scores.Text
	} else if top.Scores.Vector != nil {
		coverage = *top.Scores.Vector // vector-only search: no term evidence
	}
	margin := top.Score
	if len(hits) > 1 {
		margin = top.Score - hits[1].Score
	}
	margin = math.Min(1, math.Max(0, margin*4))
	c := weightScore*top.Score + weightCoverage*coverage + weightMargin*margin
	c = math.Round(math.Min(1, math.Max(0, c))*1000) / 1000
	return c, map[string]float64{"score": top.Score, "coverage": coverage, "margin": margin}
}
