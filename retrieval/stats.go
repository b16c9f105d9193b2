package retrieval

import (
	"context"
	"sync"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// statsCache keeps per-knowledge-base chunk counts and term document frequencies for a
// short time: IDF weights move slowly, and counting on every query would dominate latency.
// The total and each term expire on their own, so a new term costs one count, not two.
//
// Terms the database's statistics list as common are estimated from them, never counted:
// counting a term, even only up to capAt chunks, builds the bitmap of its whole posting
// list, and for a term in tens of thousands of chunks that took 10–12 ms at 100k chunks,
// the slowest part of a search with new words.
type statsCache struct {
	ttl time.Duration
	mu  sync.Mutex
	kbs map[int64]*kbStats
}

type kbStats struct {
	total      kb.ChunkStats
	common     map[string]float64 // share of the chunks holding each common term, with total
	totalAt    time.Time
	refreshing bool // a background refresh of total and common is running
	df         map[string]dfEntry
}

// kbTotals are a knowledge base's live chunk count and average length and its common
// terms, read together.
func kbTotals(ctx context.Context, idx Index, kbID int64) (kb.ChunkStats, map[string]float64, error) {
	n, err := idx.ChunkStats(ctx, kbID)
	if err != nil {
		return n, nil, err
	}
	common, err := idx.CommonTerms(ctx, kbID)
	return n, common, err
}

// refresh re-reads a knowledge base's totals off the search path.
func (c *statsCache) refresh(idx Index, kbID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, common, err := kbTotals(ctx, idx, kbID)
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.kbs[kbID]
	st.refreshing = false
	if err == nil {
		st.total, st.common, st.totalAt = n, common, time.Now()
	}
}

type dfEntry struct {
	n  int
	at time.Time
}

func newStatsCache(ttl time.Duration) *statsCache {
	return &statsCache{ttl: ttl, kbs: map[int64]*kbStats{}}
}

func (c *statsCache) get(ctx context.Context, idx Index, kbID int64, terms []string, capAt int) (map[string]int, kb.ChunkStats, error) {
	now := time.Now()
	df := make(map[string]int, len(terms))
	var missing []string
	c.mu.Lock()
	st := c.kbs[kbID]
	if st == nil {
		st = &kbStats{df: map[string]dfEntry{}}
		c.kbs[kbID] = st
	}
	// Counting a large knowledge base's chunks takes tens of milliseconds: a search shortly
	// after the totals expired uses them while they are re-read in the background; only
	// totals never read, or long expired, are read on the search path.
	age := now.Sub(st.totalAt)
	total, common, totalFresh := st.total, st.common, age <= c.ttl
	if !totalFresh && !st.totalAt.IsZero() && age <= 4*c.ttl {
		totalFresh = true
		if !st.refreshing {
			st.refreshing = true
			go c.refresh(idx, kbID)
		}
	}
	for _, t := range terms {
		if e, ok := st.df[t]; ok && now.Sub(e.at) <= c.ttl {
			df[t] = e.n
		} else {
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()

	if !totalFresh {
		var err error
		if total, common, err = kbTotals(ctx, idx, kbID); err != nil {
			return nil, total, err
		}
	}
	fresh := make(map[string]int, len(missing))
	var count []string
	for _, t := range missing {
		if est := int(common[t] * float64(total.Chunks)); est >= capAt {
			fresh[t] = est
		} else {
			count = append(count, t)
		}
	}
	if len(count) > 0 {
		counted, err := idx.TermStats(ctx, kbID, count, capAt)
		if err != nil {
			return nil, total, err
		}
		for t, n := range counted {
			// Counting stopped at capAt: more common than that, and not in the statistics.
			fresh[t] = max(n, int(common[t]*float64(total.Chunks)))
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !totalFresh {
		st.total, st.common, st.totalAt = total, common, now
	}
	if len(st.df) > 100_000 { // bound memory: start over rather than track recency
		st.df = map[string]dfEntry{}
	}
	for t, v := range fresh {
		st.df[t] = dfEntry{v, now}
		df[t] = v
	}
	return df, total, nil
}
