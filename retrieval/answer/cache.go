package answer

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// generations counts changes per knowledge base. A cached answer or curated index is
// valid only while the generation it was made at is current, so invalidating a knowledge
// base is one atomic increment, and an epoch bump invalidates all of them (after a lost
// notification connection, when anything may have changed).
type generations struct {
	epoch atomic.Uint64
	perKB sync.Map // kb id → *atomic.Uint64
}

func (g *generations) counter(kbID int64) *atomic.Uint64 {
	if c, ok := g.perKB.Load(kbID); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := g.perKB.LoadOrStore(kbID, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// current is the generation of a knowledge base: its own counter mixed with the epoch.
func (g *generations) current(kbID int64) uint64 {
	return g.epoch.Load()<<32 | g.counter(kbID).Load()&0xffffffff
}

// bump marks kbID changed; 0 marks every knowledge base changed.
func (g *generations) bump(kbID int64) {
	if kbID == 0 {
		g.epoch.Add(1)
		return
	}
	g.counter(kbID).Add(1)
}

// answerCache holds composed answers of recent questions, per knowledge base generation.
// It is sharded so concurrent requests rarely share a lock; each shard evicts its oldest
// entry when full (first in, first out: cheap, and the hot questions of a sale come back
// faster than they age out).
type answerCache struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [64]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	items map[string]cacheEntry
	order []string // insertion order, for eviction
	max   int
}

type cacheEntry struct {
	gen     uint64
	expires time.Time
	resp    Response
}

func newAnswerCache(size int, ttl time.Duration) *answerCache {
	c := &answerCache{seed: maphash.MakeSeed(), ttl: ttl}
	per := max(size/len(c.shards), 1)
	for i := range c.shards {
		c.shards[i] = cacheShard{items: make(map[string]cacheEntry), max: per}
	}
	return c
}

func (c *answerCache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// get returns the answer cached under key at generation gen.
func (c *answerCache) get(key string, gen uint64, now time.Time) (Response, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.items[key]
	s.mu.Unlock()
	if !ok || e.gen != gen || now.After(e.expires) {
		return Response{}, false
	}
	return e.resp, true
}

func (c *answerCache) put(key string, gen uint64, now time.Time, r Response) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[key]; !ok {
		for len(s.order) >= s.max {
			delete(s.items, s.order[0])
			s.order = s.order[1:]
		}
		s.order = append(s.order, key)
	}
	s.items[key] = cacheEntry{gen: gen, expires: now.Add(c.ttl), resp: r}
}
