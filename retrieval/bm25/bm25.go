package bm25

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/zhiku/zhiku/internal/segment"
)

// Params configure an [Index]. The zero value gives the defaults.
type Params struct {
	// K1 sets how fast a term's weight saturates with its frequency. Defaults to 1.2.
	K1 float64
	// B sets how much document length normalises scores, 0..1. Defaults to 0.75.
	B float64
	// Segmenter tokenises documents and queries. Defaults to [segment.Shared].
	Segmenter *segment.Segmenter
	// Dict is the knowledge base's vocabulary: custom words at index and query time,
	// synonyms at query time. Defaults to none.
	Dict *segment.Dict
}

// Result is one hit: the document id given to [Index.Add] and its BM25 score.
type Result struct {
	ID    string
	Score float64
}

type posting struct {
	doc int32
	tf  int32
}

// Index holds documents in memory. Add and Search are safe for concurrent use.
type Index struct {
	k1, b    float64
	seg      *segment.Segmenter
	dict     *segment.Dict
	mu       sync.RWMutex
	ids      []string
	lens     []int32
	totalLen int64
	postings map[string][]posting
}

// New returns an empty index. It fails only when the shared segmenter cannot load.
func New(p Params) (*Index, error) {
	if p.K1 == 0 {
		p.K1 = 1.2
	}
	if p.B == 0 {
		p.B = 0.75
	}
	if p.K1 < 0 || p.B < 0 || p.B > 1 {
		return nil, fmt.Errorf("bm25: k1 must be positive and b in 0..1, got k1=%g b=%g", p.K1, p.B)
	}
	if p.Segmenter == nil {
		s, err := segment.Shared()
		if err != nil {
			return nil, fmt.Errorf("bm25: %w", err)
		}
		p.Segmenter = s
	}
	return &Index{k1: p.K1, b: p.B, seg: p.Segmenter, dict: p.Dict, postings: map[string][]posting{}}, nil
}

// Add indexes text under id. Adding the same id twice indexes two documents.
func (x *Index) Add(id string, text string) {
	toks := x.seg.Tokens(text, x.dict)
	tf := make(map[string]int32, len(toks))
	for _, t := range toks {
		tf[t]++
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	doc := int32(len(x.ids))
	x.ids = append(x.ids, id)
	x.lens = append(x.lens, int32(len(toks)))
	x.totalLen += int64(len(toks))
	for t, n := range tf {
		x.postings[t] = append(x.postings[t], posting{doc: doc, tf: n})
	}
}

// Len reports how many documents the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Search returns up to k documents by descending score; documents sharing no token with
// the query are left out, and equal scores keep insertion order.
func (x *Index) Search(query string, k int) []Result {
	if k <= 0 {
		return nil
	}
	terms := x.seg.QueryTokens(query, x.dict)
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	if n == 0 || len(terms) == 0 {
		return nil
	}
	avg := float64(x.totalLen) / float64(n)
	if avg == 0 {
		avg = 1
	}
	scores := map[int32]float64{}
	for _, t := range terms {
		ps := x.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (float64(n)-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := float64(p.tf)
			norm := x.k1 * (1 - x.b + x.b*float64(x.lens[p.doc])/avg)
			scores[p.doc] += idf * tf * (x.k1 + 1) / (tf + norm)
		}
	}
	hits := make([]Result, 0, len(scores))
	docs := make([]int32, 0, len(scores))
	for d := range scores {
		docs = append(docs, d)
	}
	slices.SortFunc(docs, func(a, b int32) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if len(docs) > k {
		docs = docs[:k]
	}
	for _, d := range docs {
		hits = append(hits, Result{ID: x.ids[d], Score: scores[d]})
	}
	return hits
}
