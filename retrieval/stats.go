package retrieval

import (
	"context"
	"sync"
	"time"
)

// statsCache keeps per-knowledge-base term document frequencies for a short time: IDF
// weights move slowly, and counting postings on every query would dominate latency.
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
	if st == nil || now.Sub(st.totalAt) > c.ttl {
		missing = terms
	} else {
		for _, t := range terms {
			if e, ok := st.df[t]; ok && now.Sub(e.at) <= c.ttl {
				df[t] = e.n
			} else {
				missing = append(missing, t)
			}
		}
	}
	total := 0
	if st != nil {
		total = st.total
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return df, total, nil
	}

	fresh, n, err := idx.TermStats(ctx, kbID, missing, capAt)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st = c.kbs[kbID]
	if st == nil {
		st = &kbStats{df: map[string]dfEntry{}}
		c.kbs[kbID] = st
	}
	if len(st.df) > 100_000 { // bound memory: start over rather than track recency
		st.df = map[string]dfEntry{}
	}
	st.total, st.totalAt = n, now
	for t, v := range fresh {
		st.df[t] = dfEntry{v, now}
		df[t] = v
	}
	return df, n, nil
}
