package main

import (
	"math"
	"slices"
	"sort"
	"sync"
	"unicode/utf8"
)

// corpusShape says how hard a corpus's exact top 10 is to find, independent of any index:
// how long its passages are, how many are verbatim repeats, and how many chunks score
// within 1% of a query's tenth best. When that near-tie count is in the hundreds, "the"
// exact top 10 is an arbitrary pick among equals and strict recall measures tie-breaking,
// not the index.
type corpusShape struct {
	passageRunes [3]int // p10, p50, p90
	distinct     float64
	queryRunes   int     // p50
	top1, top10  float64 // median similarity of the best and the tenth best chunk
	ties         [2]int  // median and p90 count of chunks scoring ≥ 99% of the tenth best
	ties5        int     // median count of chunks scoring ≥ 95% of the tenth best
	chunkTop10   float64 // the same median tenth-best similarity for chunks as queries (the chunk itself first)
}

// shapeOf computes the corpus shape from the chunk and query vectors, by the cosine
// similarity the index ranks by (a remote model's vectors need not be normalised).
func shapeOf(texts, queries []string, vecs, qvecs [][]float32) corpusShape {
	var sh corpusShape
	lens := make([]int, len(texts))
	seen := make(map[string]struct{}, len(texts))
	for i, t := range texts {
		lens[i] = utf8.RuneCountInString(t)
		seen[t] = struct{}{}
	}
	sort.Ints(lens)
	sh.passageRunes = [3]int{pct(lens, 0.1), pct(lens, 0.5), pct(lens, 0.9)}
	sh.distinct = float64(len(seen)) / float64(max(len(texts), 1))
	qlens := make([]int, len(queries))
	for i, q := range queries {
		qlens[i] = utf8.RuneCountInString(q)
	}
	sort.Ints(qlens)
	sh.queryRunes = pct(qlens, 0.5)

	top1 := make([]float64, len(qvecs))
	top10 := make([]float64, len(qvecs))
	ties := make([]int, len(qvecs))
	ties5 := make([]int, len(qvecs))
	norm := func(v []float32) float32 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if s == 0 {
			return 1
		}
		return float32(math.Sqrt(s))
	}
	norms := make([]float32, len(vecs))
	for i, v := range vecs {
		norms[i] = norm(v)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			scores := make([]float32, len(vecs))
			for qi := range next {
				q := qvecs[qi]
				qn := norm(q)
				for i, v := range vecs {
					var s float32
					for j, x := range v {
						s += x * q[j]
					}
					scores[i] = s / (norms[i] * qn)
				}
				sorted := slices.Clone(scores)
				slices.SortFunc(sorted, func(a, b float32) int {
					switch {
					case a > b:
						return -1
					case a < b:
						return 1
					}
					return 0
				})
				if len(sorted) < 10 {
					continue
				}
				top1[qi], top10[qi] = float64(sorted[0]), float64(sorted[9])
				for _, s := range sorted {
					if float64(s) < top10[qi]*0.95 {
						break
					}
					ties5[qi]++
					if float64(s) >= top10[qi]*0.99 {
						ties[qi]++
					}
				}
			}
		})
	}
	for qi := range qvecs {
		next <- qi
	}
	close(next)
	wg.Wait()
	sort.Float64s(top1)
	sort.Float64s(top10)
	sort.Ints(ties)
	sort.Ints(ties5)
	if len(qvecs) > 0 {
		sh.top1, sh.top10 = top1[len(top1)/2], top10[len(top10)/2]
		sh.ties = [2]int{pct(ties, 0.5), pct(ties, 0.9)}
		sh.ties5 = pct(ties5, 0.5)
	}
	return sh
}

// pct is the p-quantile of sorted xs.
func pct(xs []int, p float64) int {
	if len(xs) == 0 {
		return 0
	}
	return xs[int(p*float64(len(xs)-1))]
}
