package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

// A question about a popular product holds terms that thousands of chunks share, and BM25
// must rank all of them: reading each candidate from the heap is what bounds the text leg's
// p99 (docs/research/hnsw-recall-and-latency.md §6). GIN keeps postings with no payload, so
// every candidate's frequency and length come from its heap row. The store therefore keeps
// the postings of the terms searches use, with each chunk's frequency and length, in memory
// (postingCache), read once from the database and shared by the process's searches:
//
//   - A search whose driving terms have many postings ranks the knowledge base by BM25 from
//     the cached lists (merges of sorted arrays, no row read), then one statement checks
//     that its best few dozen are live and pass the search's filter (their tokens are not
//     read) and scores the chunks written after the lists were read (ids above their
//     watermark), which the lists may lack.
//   - It keeps the result when its last chunk outranks the best cached one left out (so it
//     is the exact BM25 top, not an approximation) and the knowledge base's text_epoch,
//     read in the same statement, is the lists' (no tokens were rewritten in place since).
//     Otherwise it runs the full statement, as a search with a term not yet cached does
//     while the term's list is read in the background.
//
// Deleted chunks and chunks held for review drop out in the statement. A document committed
// while a list was being read, with chunk ids below its watermark, is missed until the
// change notification makes the server forget the knowledge base's lists (milliseconds) or
// the lists expire.
type postingCache struct {
	minPost    int           // driving-term postings below which the full statement is as fast
	ttl        time.Duration // a list is read again after this
	maxEntries int           // postings held in all, postingBytes each
	sync       bool          // read missing lists on the search path, changes or not (tests)
	quiet      time.Duration // after a change, lists are read again only once it is this old

	mu      sync.Mutex
	kbs     map[int64]*kbPostings
	entries int
	queue   []pendingRead   // lists to read in the background, oldest first
	queued  map[string]bool // their keys
	readers int             // goroutines reading them, at most postingReadsAtOnce

	answered, fullScans atomic.Int64
	off                 atomic.Bool // SetTextPostings(false): searches run the full statement
}

type kbPostings struct {
	terms   map[string]*termPostings
	gen     int64     // bumped by forget: a list read before it is not kept
	changed time.Time // when forget last ran
}

// termPostings are the chunks of one knowledge base holding one term, by id.
type termPostings struct {
	ids       []int64
	tf        []float32 // the term's frequency in ids[i], as the text leg's statement computes it
	length    []float32 // ids[i]'s length in tokens
	watermark int64     // the knowledge base's highest chunk id when read
	epoch     int64     // its text_epoch when read
	at        time.Time
}

const (
	defaultPostingsMin = 200
	defaultPostingsTTL = 10 * time.Minute
	// defaultPostingsQuiet: after a change notification a knowledge base's lists are read
	// again only once it has been quiet this long.
	defaultPostingsQuiet = 5 * time.Second
	defaultPostingsMB    = 512
	postingBytes         = 16 // an id, a frequency and a length
	postingReadsAtOnce   = 2
	postingReadsQueued   = 10000
	firstExactFactor     = 2  // × limit chunks scored exactly on the first try
	maxExactFactor       = 32 // × limit: scored exactly at most, on the third try
)

// TextPostingsOptions tune the text leg's postings cache. Zero values take the defaults.
type TextPostingsOptions struct {
	// MinPostings: a search ranks from the cache when its driving terms have at least this
	// many postings together (fewer, and the full statement is as fast). Default 200;
	// negative: every search.
	MinPostings int
	// ReadOnSearch reads a missing list on the search path rather than in the background
	// (tests: the first search is already ranked from the cache).
	ReadOnSearch bool
	// MaxMB bounds the memory of the cached postings (16 bytes each). Default 512.
	MaxMB int
	// Quiet: after a change, a knowledge base's lists are read again only once no change
	// came for this long (while it is written to, its searches run the full statement).
	// Default 5 s; negative: at once.
	Quiet time.Duration
}

func newPostingCache() *postingCache {
	return &postingCache{minPost: defaultPostingsMin, ttl: defaultPostingsTTL, quiet: defaultPostingsQuiet, maxEntries: defaultPostingsMB << 20 / postingBytes,
		kbs: map[int64]*kbPostings{}, queued: map[string]bool{}}
}

// forget drops a knowledge base's lists (its chunks changed).
func (c *postingCache) forget(kbID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.kbs[kbID]; k != nil {
		for _, p := range k.terms {
			c.entries -= len(p.ids)
		}
		k.terms = map[string]*termPostings{}
		k.gen++
		k.changed = time.Now()
	}
}

// ForgetTextPostings drops the postings cached for a knowledge base's text searches. The
// server calls it on every change notification.
func (s *Store) ForgetTextPostings(kbID int64) {
	if s.postings != nil {
		s.postings.forget(kbID)
	}
}

// TextPostingStats are the postings cache's counters.
type TextPostingStats struct {
	Answered  int64 // text searches ranked from the cache
	FullScans int64 // searches that tried it and then ran the full statement
	Postings  int64 // postings held now (16 bytes each)
}

// TextPostingStats reports the postings cache's counters (zero when it is off).
func (s *Store) TextPostingStats() TextPostingStats {
	c := s.postings
	if c == nil {
		return TextPostingStats{}
	}
	c.mu.Lock()
	held := int64(c.entries)
	c.mu.Unlock()
	return TextPostingStats{Answered: c.answered.Load(), FullScans: c.fullScans.Load(), Postings: held}
}

// SetTextPostings turns the cached postings off, and on again with what they held
// (benchmarks compare the two on one knowledge base).
func (s *Store) SetTextPostings(on bool) {
	if s.postings != nil {
		s.postings.off.Store(!on)
	}
}

// WaitTextPostings waits until no postings are being read in the background (benchmarks
// time searches once the lists their warm-up asked for are in).
func (s *Store) WaitTextPostings(ctx context.Context) error {
	for c := s.postings; c != nil; {
		c.mu.Lock()
		busy := c.readers > 0
		c.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// pendingRead is a list to read in the background.
type pendingRead struct {
	key  string
	read func(ctx context.Context)
}

// enqueue adds a read unless it is queued already or the queue is full, and starts a
// reader when fewer than postingReadsAtOnce run.
func (c *postingCache) enqueue(r pendingRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queued[r.key] || len(c.queue) >= postingReadsQueued {
		return
	}
	c.queued[r.key] = true
	c.queue = append(c.queue, r)
	if c.readers < postingReadsAtOnce {
		c.readers++
		go c.drain()
	}
}

// drain reads queued lists until none is left. Not with a search's context: it may carry
// the search's snapshot, which ends with the search.
func (c *postingCache) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.readers--
			c.mu.Unlock()
			return
		}
		r := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r.read(ctx)
		cancel()
		c.mu.Lock()
		delete(c.queued, r.key)
		c.mu.Unlock()
	}
}

// lookup returns the fresh lists it holds of terms (nil where missing), the generation to
// keep new ones under, and whether the knowledge base changed too recently for missing lists
// to be worth reading.
func (c *postingCache) lookup(kbID int64, terms []string) ([]*termPostings, int64, bool) {
	now := time.Now()
	out := make([]*termPostings, len(terms))
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kbs[kbID]
	if k == nil {
		k = &kbPostings{terms: map[string]*termPostings{}}
		c.kbs[kbID] = k
	}
	for i, t := range terms {
		if p := k.terms[t]; p != nil && now.Sub(p.at) < c.ttl {
			out[i] = p
		}
	}
	return out, k.gen, c.quiet > 0 && now.Sub(k.changed) < c.quiet
}

func (c *postingCache) keep(kbID, gen int64, term string, p *termPostings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kbs[kbID]
	if k == nil || k.gen != gen || len(p.ids) > c.maxEntries {
		return // changed since it was read, or bigger than the whole budget
	}
	if old := k.terms[term]; old != nil {
		c.entries -= len(old.ids)
	}
	// Over the budget: drop lists (of any knowledge base, in the map's random order) until
	// the new one fits.
	for kid, victim := range c.kbs {
		if c.entries+len(p.ids) <= c.maxEntries {
			break
		}
		for t, q := range victim.terms {
			if kid == kbID && t == term {
				continue
			}
			delete(victim.terms, t)
			c.entries -= len(q.ids)
			if c.entries+len(p.ids) <= c.maxEntries {
				break
			}
		}
	}
	k.terms[term] = p
	c.entries += len(p.ids)
}

// lists returns the cached lists of terms, or ok false when some are missing; missing ones
// are queued to be read in the background (on the search path when sync), each queued once
// however many searches ask for it, a few read at a time.
func (s *Store) lists(ctx context.Context, kbID int64, terms []string) ([]*termPostings, bool, error) {
	c := s.postings
	have, gen, busy := c.lookup(kbID, terms)
	ok := true
	for i, p := range have {
		if p != nil {
			continue
		}
		if busy && !c.sync {
			// The knowledge base is being written (a bulk import notifies with every
			// document): a list read now would be dropped again at once.
			ok = false
			continue
		}
		term := terms[i]
		read := func(ctx context.Context) (*termPostings, error) {
			p, err := s.readPostings(ctx, kbID, term)
			if err == nil {
				c.keep(kbID, gen, term, p)
			}
			return p, err
		}
		if c.sync {
			p, err := read(ctx)
			if err != nil {
				return nil, false, err
			}
			have[i] = p
			continue
		}
		ok = false
		c.enqueue(pendingRead{key: strconv.FormatInt(kbID, 10) + "\x00" + term, read: func(ctx context.Context) { _, _ = read(ctx) }})
	}
	return have, ok, nil
}

// readPostings reads one term's postings with each chunk's frequency (as the text leg's
// statement computes it) and length, in one statement, so the watermark and the epoch are
// those of the same snapshot. Chunks of every state count: one approved later keeps its id.
func (s *Store) readPostings(ctx context.Context, kbID int64, term string) (*termPostings, error) {
	p := &termPostings{at: time.Now()}
	err := s.reader(ctx).QueryRow(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM chunks WHERE kb_id = $1),
		       (SELECT text_epoch FROM knowledge_bases WHERE id = $1),
		       coalesce(array_agg(c.id ORDER BY c.id), '{}'),
		       coalesce(array_agg(`+tfSQL("$2")+` ORDER BY c.id), '{}'),
		       coalesce(array_agg(coalesce(c.ntokens, length(c.tsv)) ORDER BY c.id), '{}')
		FROM chunks c WHERE c.kb_id = $1 AND c.tsv @@ $2::tsquery`, kbID, quoteLexeme(term)).
		Scan(&p.watermark, &p.epoch, &p.ids, &p.tf, &p.length)
	if err != nil {
		return nil, fmt.Errorf("store: read postings: %w", interpret(err))
	}
	return p, nil
}

// scored is a chunk with its BM25 score from the cached postings.
type scored struct {
	id    int64
	score float64
}

// rankPostings scores by BM25 every chunk holding a term of match, from the lists of
// terms (lists[i] is terms[i]'s, weighed idf[i]; the match terms are among them), and
// returns the best keep, best first, and how many were scored: the union of the match lists
// by merging them, then each term's share added by a merge over ids, then a bounded heap.
func rankPostings(terms, match []string, lists []*termPostings, idf []float64, k1, b, avg float64, keep int) ([]scored, int) {
	var universe []int64
	for i, t := range terms {
		if slices.Contains(match, t) {
			universe = mergeIDs(universe, lists[i].ids)
		}
	}
	scores := make([]float64, len(universe))
	fixed, perToken := k1*(1-b), k1*b/avg
	for i, p := range lists {
		w := idf[i]
		if w <= 0 {
			continue
		}
		u := 0
		for j, id := range p.ids {
			for u < len(universe) && universe[u] < id {
				u++
			}
			if u == len(universe) {
				break
			}
			if universe[u] == id {
				tf := float64(p.tf[j])
				scores[u] += w * tf * (k1 + 1) / (tf + fixed + perToken*float64(p.length[j]))
			}
		}
	}
	// worse orders by rank: a lower score, or the same and a higher id.
	worse := func(x, y scored) bool { return x.score < y.score || x.score == y.score && x.id > y.id }
	top := make([]scored, 0, min(keep, len(universe)))
	for i, id := range universe {
		x := scored{id, scores[i]}
		if len(top) < keep {
			top = append(top, x)
			for c := len(top) - 1; c > 0; { // sift up: the worst kept stays at the root
				p := (c - 1) / 2
				if !worse(top[c], top[p]) {
					break
				}
				top[c], top[p] = top[p], top[c]
				c = p
			}
			continue
		}
		if keep == 0 || !worse(top[0], x) {
			continue
		}
		top[0] = x
		for c := 0; ; { // sift down
			l, r, w := 2*c+1, 2*c+2, c
			if l < len(top) && worse(top[l], top[w]) {
				w = l
			}
			if r < len(top) && worse(top[r], top[w]) {
				w = r
			}
			if w == c {
				break
			}
			top[c], top[w] = top[w], top[c]
			c = w
		}
	}
	slices.SortFunc(top, func(x, y scored) int {
		if x.score != y.score {
			return cmp.Compare(y.score, x.score)
		}
		return cmp.Compare(x.id, y.id)
	})
	return top, len(universe)
}

// mergeIDs returns the sorted union of two sorted id lists.
func mergeIDs(a, b []int64) []int64 {
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]int64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// textByPostings answers a text search from the cached postings (see postingCache); ok is
// false when the full statement must run.
func (s *Store) textByPostings(ctx context.Context, kbID int64, q kb.TextQuery, limit int, f kb.Filter) (out []kb.Ranked, ok bool, err error) {
	if s.postings == nil || s.postings.off.Load() || s.citus || limit <= 0 {
		return nil, false, nil
	}
	match := q.Match[:min(len(q.Match), maxTextTerms)]
	n := min(len(q.Terms), maxTextTerms)
	// The driving terms first: few postings, and the full statement is as fast as this.
	lists, ok, err := s.lists(ctx, kbID, match)
	if !ok || err != nil {
		return nil, false, err
	}
	postings := 0
	for _, p := range lists {
		postings += len(p.ids)
	}
	if postings < s.postings.minPost {
		return nil, false, nil
	}
	terms, idf := slices.Clone(q.Terms[:n]), slices.Clone(q.IDF[:n])
	for _, m := range match { // a driving term the query's terms lack still selects chunks
		if !slices.Contains(terms, m) {
			terms, idf = append(terms, m), append(idf, 0)
		}
	}
	if lists, ok, err = s.lists(ctx, kbID, terms); !ok || err != nil {
		return nil, false, err
	}
	watermark, epoch := lists[0].watermark, lists[0].epoch
	for _, p := range lists[1:] {
		if p.epoch != epoch {
			s.postings.forget(kbID) // read across an in-place rewrite: read them again
			return nil, false, nil
		}
		watermark = min(watermark, p.watermark)
	}
	avg := q.AvgLen
	if avg <= 0 {
		avg = 1
	}
	ranked, total := rankPostings(terms, match, lists, idf, q.K1, q.B, avg, maxExactFactor*limit+1)

	for m, next := 0, firstExactFactor*limit; ; {
		m = min(next, maxExactFactor*limit, total)
		ids := make([]int64, m)
		for i := range ids {
			ids[i] = ranked[i].id
		}
		live, fresh, cur, err := s.checkChunks(ctx, kbID, q, match, ids, watermark, limit, f)
		if err != nil {
			return nil, false, err
		}
		if cur != epoch {
			s.postings.forget(kbID) // tokens were rewritten in place since the lists were read
			break
		}
		found := fresh
		for _, r := range ranked[:m] {
			if live[r.id] {
				found = append(found, kb.Ranked{ChunkID: r.id, Score: r.score})
			}
		}
		slices.SortFunc(found, func(x, y kb.Ranked) int {
			if x.Score != y.Score {
				return cmp.Compare(y.Score, x.Score)
			}
			return cmp.Compare(x.ChunkID, y.ChunkID)
		})
		found = found[:min(limit, len(found))]
		// Exact when none was left out, or the last kept chunk beats every chunk left out:
		// by score, or tied (within rounding) with the lower id, as the full statement orders.
		if m == total || len(found) == limit && beats(found[limit-1], ranked[m]) {
			s.postings.answered.Add(1)
			return found, true, nil
		}
		if m == total || m >= maxExactFactor*limit {
			break
		}
		// A filter kept too few: ask for as many more as its pass rate says (at most what the
		// cache may check), or, when it kept none, run the full statement (which the
		// filter's index narrows) at once.
		next = 4 * m
		if kept := len(found); kept < limit {
			if kept == 0 {
				break
			}
			next = max(next, 2*m*limit/kept)
		}
	}
	s.postings.fullScans.Add(1)
	return nil, false, nil
}

// checkChunks reads, in one statement, which of the chunks ids are live and pass f (a
// chunk's frequencies and length are in the cached lists: its tokens are not read), scores
// exactly the best limit of those written after watermark that hold a term of match and
// pass f (those the lists may lack; any listed too is left out of live), and reads the
// knowledge base's text_epoch.
func (s *Store) checkChunks(ctx context.Context, kbID int64, q kb.TextQuery, match []string, ids []int64, watermark int64, limit int, f kb.Filter) (live map[int64]bool, fresh []kb.Ranked, epoch int64, err error) {
	args := []any{kbID, limit, orQuery(match), ids, watermark}
	e, args, err := bm25SQL(q, args)
	if err != nil {
		return nil, nil, 0, err
	}
	where, args, err := filterSQL(f, args)
	if err != nil {
		return nil, nil, 0, err
	}
	sql := `SELECT k.text_epoch, r.id, r.score FROM knowledge_bases k
		LEFT JOIN LATERAL (
		    (SELECT c.id, NULL::float8 AS score FROM chunks c
		      WHERE c.kb_id = $1 AND c.id = ANY($4::bigint[]) AND c.id <= $5 AND c.live AND c.shadowed IS NOT TRUE` + where + `)
		    UNION ALL
		    (SELECT c.id, ` + e.score + ` FROM chunks c
		      WHERE c.kb_id = $1 AND c.id > $5 AND c.tsv @@ $3::tsquery AND c.live AND c.shadowed IS NOT TRUE` + where + `
		      ORDER BY 2 DESC, c.id LIMIT $2)) r ON true
		WHERE k.id = $1`
	rows, err := s.reader(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("store: search: %w", interpret(err))
	}
	live = make(map[int64]bool, len(ids))
	epoch = -1
	var id *int64
	var score *float64
	_, err = pgx.ForEachRow(rows, []any{&epoch, &id, &score}, func() error {
		switch {
		case id == nil:
		case score == nil:
			live[*id] = true
		default:
			fresh = append(fresh, kb.Ranked{ChunkID: *id, Score: *score})
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("store: search: %w", interpret(err))
	}
	return live, fresh, epoch, nil
}

// beats reports whether the scored chunk k ranks before the cached chunk r: a higher score,
// or the same within rounding (the database's float arithmetic against Go's) and a lower id.
func beats(k kb.Ranked, r scored) bool {
	tol := 1e-9 * max(math.Abs(k.Score), math.Abs(r.score))
	if k.Score-r.score > tol {
		return true
	}
	return k.Score-r.score >= -tol && k.ChunkID < r.id
}
