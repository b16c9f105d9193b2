package retrieval

import (
	"context"
	"sync"
	"time"
)

// statsCache keeps per-knowledge-base chunk counts and term document frequencies for a
// short time: IDF weights move slowly, and counting on every query would dominate latency.
// The total and each term expire on their own, so a new term costs one count, not two.
type statsCache struct {
	ttl time.Duration
	mu  sync.Mutex
	kbs map[int64]*kbStats
}

type kbStats struct {
	total   int
	totalAt time.Time
	df      map[string]dfEntry
}

type dfEntry struct {
	n  int
	at time.Time
}

func newStatsCache(ttl time.Duration) *statsCache {
	return &statsCache{ttl: ttl, kbs: map[int64]*kbStats{}}
}

func (c *statsCache) get(ctx context.Context, idx Index, kbID int64, terms []string, capAt int) (map[string]int, int, error) {
	now := time.Now()
	df := make(map[string]int, len(terms))
	var missing []string
	c.mu.Lock()
	st := c.kbs[kbID]
	if st == nil {
		st = &kbStats{df: map[string]dfEntry{}}
		c.kbs[kbID] = st
	}
	total, totalFresh := st.total, now.Sub(st.totalAt) <= c.ttl
	for _, t := range terms {
		if e, ok := st.df[t]; ok && now.Sub(e.at) <= c.ttl {
			df[t] = e.n
		} else {
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()

	if !totalFresh {
		n, err := idx.LiveChunks(ctx, kbID)
		if err != nil {
			return nil, 0, err
		}
		total = n
	}
	var fresh map[string]int
	if len(missing) > 0 {
		var err error
		if fresh, err = idx.TermStats(ctx, kbID, missing, capAt); err != nil {
			return nil, 0, err
		}
		// Counting stopped at capAt for common terms: estimate them from the statistics.
		var capped []string
		for t, n := range fresh {
			if n >= capAt {
				capped = append(capped, t)
			}
		}
		if len(capped) > 0 {
			shares, err := idx.CommonTermShares(ctx, kbID, capped)
			if err != nil {
				return nil, 0, err
			}
			for _, t := range capped {
				fresh[t] = max(capAt, int(shares[t]*float64(total)))
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !totalFresh {
		st.total, st.totalAt = total, now
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
