package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
)

// Index is the storage search runs on; *store.Store implements it.
type Index interface {
	// VectorSearch returns up to limit live chunks nearest to vec (cosine), best first.
	VectorSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) ([]kb.Ranked, error)
	// VectorHits is VectorSearch that also loads the chunks found, as Hits does, each
	// with its cosine; efSearch > 0 replaces the walk's hnsw.ef_search.
	VectorHits(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, terms []string, efSearch int) ([]kb.Ranked, map[int64]kb.Candidate, error)
	// TextSearch returns up to limit live chunks holding any of q.Match, by Okapi BM25.
	TextSearch(ctx context.Context, kbID int64, q kb.TextQuery, limit int, f kb.Filter) ([]kb.Ranked, error)
	// TermStats counts the chunks holding each term, at most capAt.
	TermStats(ctx context.Context, kbID int64, terms []string, capAt int) (map[string]int, error)
	// ChunkStats counts a knowledge base's live chunks and averages their token lengths.
	ChunkStats(ctx context.Context, kbID int64) (kb.ChunkStats, error)
	// Snapshot runs fn so that the reads above made with its ctx see one consistent state
	// (and so must run one at a time).
	Snapshot(ctx context.Context, fn func(ctx context.Context) error) error
	// CommonTerms lists, from the database's statistics and without scanning, the terms
	// most common in a knowledge base's chunks, with the share of its chunks holding each.
	CommonTerms(ctx context.Context, kbID int64) (map[string]float64, error)
	// Hits loads chunks with their documents, lengths and the frequency of each of terms,
	// and, when vec is given, the cosine to it of those in cosineFor (nil: of all).
	Hits(ctx context.Context, k kb.KnowledgeBase, ids []int64, terms []string, vec []float32, cosineFor []int64) (map[int64]kb.Candidate, error)
}

// QueryEmbedder embeds a query with the model a knowledge base was built with.
type QueryEmbedder interface {
	EmbedQuery(ctx context.Context, q string) ([]float32, error)
}

// EmbedderFor returns the query embedder for a knowledge base, or an error when this
// process cannot embed with the knowledge base's model (mixing models is never allowed).
type EmbedderFor func(k kb.KnowledgeBase) (QueryEmbedder, error)

// Reranker reorders documents by relevance to a query; scores are 0..1, higher is better.
type Reranker interface {
	Rerank(ctx context.Context, query string, docs []string) ([]RerankScore, error)
}

// RerankScore is a reranker's verdict on one document, by its index in the input.
type RerankScore struct {
	Index int
	Score float64
}

// Options tune the engine. Zero values take the defaults.
type Options struct {
	// VectorWeight and TextWeight weigh the legs in reciprocal-rank fusion. Default 1 and 1.
	VectorWeight, TextWeight float64
	// RRFK is the rank constant of reciprocal-rank fusion. Default 60.
	RRFK float64
	// MinCandidates is the least each leg fetches before fusion (at least 4×top_k). Default 40.
	MinCandidates int
	// VectorCandidates is the least the vector leg fetches when hits are ranked by score
	// (score fusion, vector mode) and not reranked (at least 2×top_k; otherwise it fetches
	// MinCandidates). Default 20: on the dev sets and the generated 100k set, fetching 40
	// ranked the same hits (see README).
	VectorCandidates int
	// LexicalEfSearch is the hnsw.ef_search of the vector leg's walk in a hybrid search
	// ranked by score fusion, not reranked, for at most LexicalEfSearch/2 candidates, when
	// the knowledge base's embedder is the lexical local one and the knowledge base sets no
	// ef_search of its own. That leg is a second lexical signal beside BM25: hybrid ranked
	// the dev sets the same with 40 as with 100 (to three decimals) while the walk took about
	// 40% less (docs/research/hnsw-recall-and-latency.md §9). Vector mode
	// and neural embedders walk with the configured ef_search. Default 40 (pgvector's own
	// default); negative: off.
	LexicalEfSearch int
	// CommonTermCap: document frequencies are counted exactly up to this many chunks (a
	// term in more is estimated from the database's statistics), and a term in more is too
	// common to drive the text leg (it still counts towards coverage). Default 300.
	CommonTermCap int
	// CommonTermShare: a term in more than this share of the live chunks is too common to
	// drive the text leg either (long postings, little weight). Default 0.05.
	CommonTermShare float64
	// WidenPostings bounds the second text search made when the driving terms found fewer
	// chunks than asked for: commoner terms join it while their document frequencies sum to
	// at most this. Default 5000.
	WidenPostings int
	// StatsTTL is how long term statistics are cached. Default 30 s.
	StatsTTL time.Duration
	// VectorShare, when set (0..1), is the vector similarity's share of every hybrid hit's
	// score; the text leg's normalised BM25 has the rest. Unset, the share depends on the
	// embedder: see LocalHanShare, LocalLatinShare and NeuralShare.
	VectorShare float64
	// LocalHanShare and LocalLatinShare are the vector share under the built-in local
	// embedder for the Chinese and the other (Latin, digits, codes) characters of a query,
	// mixed by their proportion in it. The local embedder is lexical: for Chinese it hashes
	// character uni-, bi- and trigrams, a signal jieba's words miss; for Latin text it hashes
	// the same stemmed words BM25 scores, so its leg only repeats the text leg, less well.
	// Defaults 0.7 and 0 (measured on lcqmc_zh, oppo_xiaobu_zh and wikiqa_en: see README).
	LocalHanShare, LocalLatinShare float64
	// NeuralShare is the vector share under a neural embedder (openai). Default 0.6.
	NeuralShare float64
	// Fusion orders hybrid results: FusionScore by the blended score (vector cosine and BM25
	// normalised by the query's IDF mass, weighted), or FusionRRF by weighted reciprocal-rank
	// fusion. Default FusionScore: on the dev sets it ranks better, because RRF discards how
	// much better one leg's top hit is (a rare fault code matched) than its runners-up.
	Fusion string
	// K1 and B are the Okapi BM25 parameters of the text leg. Default 1.2 and 0.75.
	K1, B float64
	// TitleWeight weighs a query term's occurrence in a chunk's title (its heading path: a
	// record's title, a section's headings) against one in its text, when hits are scored
	// (BM25F: see bm25f). Default 2 (wikiqa_en: recall@10 +0.04, MRR@10 +0.05 over plain
	// BM25; the other dev sets have no titles).
	TitleWeight float64
}

// Fusion methods.
const (
	FusionRRF   = "rrf"
	FusionScore = "score"
)

func (o *Options) defaults() {
	if o.VectorWeight == 0 && o.TextWeight == 0 {
		o.VectorWeight, o.TextWeight = 1, 1
	}
	if o.RRFK <= 0 {
		o.RRFK = 60
	}
	if o.MinCandidates <= 0 {
		o.MinCandidates = 40
	}
	if o.VectorCandidates <= 0 {
		o.VectorCandidates = 20
	}
	if o.LexicalEfSearch == 0 {
		o.LexicalEfSearch = 40
	}
	if o.CommonTermCap <= 0 {
		o.CommonTermCap = 300
	}
	if o.CommonTermShare <= 0 {
		o.CommonTermShare = 0.05
	}
	if o.WidenPostings <= 0 {
		o.WidenPostings = 5000
	}
	if o.StatsTTL <= 0 {
		o.StatsTTL = 30 * time.Second
	}
	if o.VectorShare < 0 || o.VectorShare > 1 {
		o.VectorShare = 0
	}
	if o.LocalHanShare <= 0 || o.LocalHanShare > 1 {
		o.LocalHanShare = 0.7
	}
	if o.LocalLatinShare < 0 || o.LocalLatinShare > 1 {
		o.LocalLatinShare = 0
	}
	if o.NeuralShare <= 0 || o.NeuralShare > 1 {
		o.NeuralShare = 0.6
	}
	if o.Fusion == "" {
		o.Fusion = FusionScore
	}
	if o.K1 <= 0 {
		o.K1 = 1.2
	}
	if o.B <= 0 || o.B > 1 {
		o.B = 0.75
	}
	if o.TitleWeight <= 0 || o.TitleWeight > maxTitleWeight {
		o.TitleWeight = 2
	}
}

// maxTitleWeight bounds [Options.TitleWeight] and the knowledge-base setting.
const maxTitleWeight = 10

// Engine runs searches. It is safe for concurrent use.
type Engine struct {
	idx      Index
	embedFor EmbedderFor
	reranker Reranker
	opts     Options
	stats    *statsCache
	dicts    sync.Map // kb id → *dictEntry
}

// New builds an engine; reranker may be nil (no reranking).
func New(idx Index, embedFor EmbedderFor, reranker Reranker, opts Options) *Engine {
	opts.defaults()
	return &Engine{idx: idx, embedFor: embedFor, reranker: reranker, opts: opts, stats: newStatsCache(opts.StatsTTL)}
}

// Request is one search.
type Request struct {
	KB             kb.KnowledgeBase
	Query          string
	TopK           int    // 1..100; default 5
	Mode           string // hybrid (default), vector or text
	Filter         kb.Filter
	ScoreThreshold float64 // drop hits scoring below it (0..1)
	Rerank         bool    // use the reranker when one is configured
	// Weights, when set, replace the engine's fusion weights for this search: the RRF
	// weights, or under score fusion the legs' shares of the score.
	Weights *Weights
	// Fusion, when set, replaces the engine's fusion method (FusionScore or FusionRRF).
	Fusion string
}

// Weights weigh the two legs in reciprocal-rank fusion (each ≥ 0, not both 0).
type Weights struct {
	Vector float64 `json:"vector"`
	Text   float64 `json:"text"`
}

// ErrEmptyQuery is returned for a query with no text at all.
var ErrEmptyQuery = kb.Invalid("query is empty", "查询内容为空")

// Search answers r with up to TopK hits, best first.
func (e *Engine) Search(ctx context.Context, r Request) ([]kb.Hit, error) {
	if r.Mode == "" {
		r.Mode = kb.ModeHybrid
	}
	if !kb.ValidMode(r.Mode) {
		return nil, kb.Invalid("mode must be hybrid, vector or text", "检索模式只能是 hybrid、vector 或 text")
	}
	if r.TopK <= 0 {
		r.TopK = 5
	}
	if r.TopK > 100 {
		return nil, kb.Invalid("top_k must be at most 100", "top_k 不能超过 100")
	}
	if r.ScoreThreshold < 0 || r.ScoreThreshold > 1 {
		return nil, kb.Invalid("score_threshold must be within 0..1", "score_threshold 须在 0 到 1 之间")
	}
	// Request settings win over the knowledge base's, which win over the engine's.
	set := r.KB.Retrieval()
	w := Weights{Vector: e.opts.VectorWeight, Text: e.opts.TextWeight}
	share := e.opts.VectorShare
	if kw := kbWeights(set); kw != nil {
		w, share = *kw, kw.Vector/(kw.Vector+kw.Text)
	}
	if r.Weights != nil {
		if r.Weights.Vector < 0 || r.Weights.Text < 0 || r.Weights.Vector+r.Weights.Text == 0 {
			return nil, kb.Invalid("weights must be ≥ 0 and not both 0", "权重须非负且不能同时为 0")
		}
		w = *r.Weights
		share = w.Vector / (w.Vector + w.Text)
	}
	if share == 0 && r.Weights == nil && kbWeights(set) == nil {
		share = e.vectorShare(r.KB, r.Query)
	}
	fusion := e.opts.Fusion
	if set.Fusion == FusionScore || set.Fusion == FusionRRF {
		fusion = set.Fusion
	}
	if r.Fusion != "" {
		if r.Fusion != FusionScore && r.Fusion != FusionRRF {
			return nil, kb.Invalid("fusion must be score or rrf", "融合方式只能是 score 或 rrf")
		}
		fusion = r.Fusion
	}
	k1, b := e.opts.K1, e.opts.B
	if v := set.BM25.K1; v != nil && *v > 0 && *v <= 10 {
		k1 = *v
	}
	if v := set.BM25.B; v != nil && *v >= 0 && *v <= 1 {
		b = *v
	}
	titleWeight := e.opts.TitleWeight
	if v := set.BM25.TitleWeight; v != nil && *v >= 0 && *v <= maxTitleWeight {
		titleWeight = *v
	}
	if strings.TrimSpace(segment.Normalize(r.Query)) == "" {
		return nil, ErrEmptyQuery
	}
	useVector := r.Mode != kb.ModeText
	useText := r.Mode != kb.ModeVector

	terms, err := segment.QueryTokens(r.Query, e.dict(r.KB))
	if err != nil {
		return nil, fmt.Errorf("retrieval: segment query: %w", err)
	}
	terms = dedupe(terms)

	// Each leg of the first try starts as soon as its input is ready: the vector leg when the
	// query is embedded (a network call for remote models), the text leg when the term
	// statistics are in (which drive it); neither waits for the other's input. Each leg loads
	// its own chunks as soon as it has found them, so the slower leg's load is the only one
	// left on the search's path (fusion needs both scores of every candidate: the text leg's
	// load reads their cosines once the query is embedded).
	q := &query{r: r, terms: terms, useVector: useVector, walk: useVector, n: max(e.opts.MinCandidates, 4*r.TopK), w: w, fusion: fusion}
	q.vn = q.n
	if (fusion == FusionScore || r.Mode == kb.ModeVector) && !r.Rerank {
		// Ranked by cosine, or by a blend in which the text leg finds whatever holds the
		// query's words: a vector candidate far below the top k does not come back up.
		q.vn = max(e.opts.VectorCandidates, 2*r.TopK)
	}
	if r.Mode == kb.ModeHybrid && fusion == FusionScore && share == 0 {
		// The vector share is 0 (the local embedder on a query without Chinese: its vector
		// repeats the text leg's words): its candidates could only rank by their BM25, which
		// the text leg ranks already. Skip the index walk; the text leg's hits still get
		// their cosines for the scores shown.
		q.walk = false
	}
	if q.walk && r.Mode == kb.ModeHybrid && fusion == FusionScore && !r.Rerank {
		// Likewise for the text leg's candidates, whose cosines are read beside the vector
		// leg's walk on a two-core machine. Alone, the text leg fetches deeper: the title's
		// weight (BM25F) can lift a chunk from below the top 2×k (wikiqa_en).
		q.n = q.vn
		if r.KB.Embedder == "local" && set.HNSW.EfSearch == nil && 2*q.vn <= e.opts.LexicalEfSearch {
			q.ef = e.opts.LexicalEfSearch
		}
	}
	var weights map[string]float64
	var class, df map[string]int
	var chunkStats kb.ChunkStats
	var first legs
	var embErr, statsErr error
	var embedFailed bool // the query embedder failed (not: there is none for this model)
	var wg sync.WaitGroup
	embedded := make(chan struct{}) // closed once q.vec is set, or will never be
	if useVector {
		wg.Go(func() {
			emb, err := e.embedFor(r.KB)
			if err != nil {
				embErr = err
				close(embedded)
				return
			}
			q.vec, err = emb.EmbedQuery(ctx, r.Query)
			close(embedded)
			if err != nil {
				embErr, embedFailed = fmt.Errorf("retrieval: embed query: %w", err), true
				return
			}
			if q.walk {
				first.vec, first.vecCands, first.vecErr = e.loadedVectorLeg(ctx, q)
			}
		})
	} else {
		close(embedded)
	}
	weights, class, df, chunkStats, statsErr = e.termWeights(ctx, r.KB.ID, terms)
	if statsErr == nil && useText {
		q.text = kb.TextQuery{Match: drivingTerms(terms, weights, class, df, q.n), Terms: terms, K1: k1, B: b, AvgLen: chunkStats.AvgLen}
		for _, t := range terms {
			q.text.IDF = append(q.text.IDF, weights[t])
		}
		q.wider = q.text
		q.wider.Match = widerTerms(q.text.Match, terms, weights, df, e.opts.WidenPostings)
		first.text, first.textCands, first.textErr = e.loadedTextLeg(ctx, q, embedded)
	}
	wg.Wait()
	if embedFailed && withoutVectorLeg(ctx, r, embErr) {
		embErr, useVector, q.useVector, q.walk, share = nil, false, false, false, 0 // scores are the text leg's
	}
	if err := errors.Join(embErr, statsErr); err != nil {
		return nil, err
	}

	var pool []fusedHit
	var cands map[int64]kb.Candidate
	// The legs run in parallel, each on its own snapshot, and load their chunks on it: if a
	// re-ingest committed in between, a chunk may be gone from one load, or a document be
	// loaded in two versions (one per leg). Then the search runs again; the last try runs
	// both legs and their loads in one read-only snapshot, one after the other, so a result
	// never mixes versions of a document nor comes back with a gap.
	for attempt := 0; ; attempt++ {
		var err error
		var whole bool
		switch attempt {
		case 0:
			pool, cands, whole, err = e.merge(q, first)
		case 1:
			pool, cands, whole, err = e.candidates(ctx, q, true)
		default:
			err = e.idx.Snapshot(ctx, func(ctx context.Context) error {
				var err error
				pool, cands, whole, err = e.candidates(ctx, q, false)
				return err
			})
		}
		if err != nil {
			return nil, err
		}
		if whole || attempt == 2 {
			break
		}
	}
	totalWeight := 0.0
	for _, t := range terms {
		totalWeight += weights[t]
	}
	hits := make([]kb.Hit, 0, len(pool))
	keys := make(map[int64]float64, len(pool)) // the order of score fusion
	titles := e.titleTokenizer(r.KB)
	for _, f := range pool {
		c, ok := cands[f.id]
		if !ok {
			continue // deleted by a re-ingest after the legs ran (and still so after retries)
		}
		h := c.Hit
		h.Scores.Fused = f.score
		h.MatchedTerms = matched(terms, c.TF)
		if bm := bm25f(terms, weights, c, titles(c), titleWeight, k1, b, chunkStats.AvgLen); bm > 0 {
			h.Scores.BM25 = &bm
		}
		t := 0.0
		if totalWeight > 0 && h.Scores.BM25 != nil {
			t = min(1, *h.Scores.BM25/totalWeight)
		}
		h.Scores.Text = &t
		if useVector && c.Cosine != nil {
			cos := clamp01(*c.Cosine)
			h.Scores.Vector = &cos
		}
		h.Score = score(r.Mode, h.Scores, share)
		keys[h.ChunkID] = h.Score
		switch {
		case r.Mode == kb.ModeText && h.Scores.BM25 != nil:
			keys[h.ChunkID] = *h.Scores.BM25
		case r.Mode == kb.ModeHybrid && totalWeight > 0 && h.Scores.BM25 != nil:
			// Unclamped: chunks past the clamp still rank by their BM25.
			keys[h.ChunkID] = score(r.Mode, kb.Scores{Vector: h.Scores.Vector, Text: ptr(*h.Scores.BM25 / totalWeight)}, share)
		}
		if !useText {
			h.Scores.Text = nil
		}
		if h.Metadata == nil {
			h.Metadata = map[string]any{}
		}
		hits = append(hits, h)
	}
	if fusion == FusionScore || r.Mode != kb.ModeHybrid {
		// Equal scores keep the text leg's order (older chunks first), as BM25 ranks them.
		sort.SliceStable(hits, func(i, j int) bool {
			a, b := keys[hits[i].ChunkID], keys[hits[j].ChunkID]
			return a > b || a == b && hits[i].ChunkID < hits[j].ChunkID
		})
	}
	promoteExactIDs(r.Query, hits)
	if r.Rerank && e.reranker != nil && len(hits) > 1 {
		reranked, err := e.rerank(ctx, r.Query, hits)
		switch {
		case err == nil:
			hits = reranked
		case ctx.Err() != nil:
			return nil, err
		default: // the fused order stands
			NoteDegraded(ctx, "reranker unavailable, fused order kept: "+err.Error())
		}
	}
	out := hits[:0]
	for _, h := range hits {
		if h.Score >= r.ScoreThreshold {
			out = append(out, h)
		}
	}
	if len(out) > r.TopK {
		out = out[:r.TopK]
	}
	return out, nil
}

// legs holds what each leg of a search found, and the chunks it loaded.
type legs struct {
	vec, text           []kb.Ranked
	vecCands, textCands map[int64]kb.Candidate
	vecErr, textErr     error
}

// query is one search's prepared inputs, shared by its tries.
type query struct {
	r         Request
	terms     []string // the query's search terms
	vec       []float32
	useVector bool         // the query is embedded and hits get their cosines
	walk      bool         // the vector leg searches the index (useVector, and its candidates count)
	ef        int          // the walk's hnsw.ef_search, 0 for the knowledge base's or the pool's
	text      kb.TextQuery // the text leg's search
	wider     kb.TextQuery // the same, driven by every term some chunk holds
	n         int          // candidates of the text leg
	vn        int          // candidates of the vector leg
	w         Weights
	fusion    string
}

// candidates runs the legs and their loads (in parallel, or one after the other inside a
// snapshot) and fuses them.
func (e *Engine) candidates(ctx context.Context, q *query, parallel bool) ([]fusedHit, map[int64]kb.Candidate, bool, error) {
	var found legs
	var wg sync.WaitGroup
	run := func(f func()) {
		if parallel {
			wg.Go(f)
		} else {
			f()
		}
	}
	if q.walk {
		run(func() { found.vec, found.vecCands, found.vecErr = e.loadedVectorLeg(ctx, q) })
	}
	found.text, found.textCands, found.textErr = e.loadedTextLeg(ctx, q, alreadyEmbedded) // q.vec is known from the first try
	wg.Wait()
	return e.merge(q, found)
}

// alreadyEmbedded is the embedded channel of the tries after the first, closed.
var alreadyEmbedded = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// loadedVectorLeg runs the vector leg and loads the chunks it found, each with the cosine
// the leg scored it by.
func (e *Engine) loadedVectorLeg(ctx context.Context, q *query) ([]kb.Ranked, map[int64]kb.Candidate, error) {
	return e.idx.VectorHits(ctx, q.r.KB, q.vec, q.vn, q.r.Filter, q.terms, q.ef)
}

// textLeg searches by the driving terms; with none (vector mode) it finds nothing.
func (e *Engine) textLeg(ctx context.Context, q *query) ([]kb.Ranked, error) {
	if len(q.text.Match) == 0 {
		return nil, nil
	}
	found, err := e.idx.TextSearch(ctx, q.r.KB.ID, q.text, q.n, q.r.Filter)
	if err != nil || len(found) >= q.r.TopK || len(q.wider.Match) <= len(q.text.Match) {
		return found, err
	}
	// Too few chunks hold the rarer terms to fill the results: chunks holding only common
	// ones rank next in BM25, so search by every term (long postings, but few queries).
	return e.idx.TextSearch(ctx, q.r.KB.ID, q.wider, q.n, q.r.Filter)
}

// loadedTextLeg runs the text leg and loads the chunks it found with their cosines to the
// query vector, waiting for it (embedded closes once q.vec is set, or will not be).
func (e *Engine) loadedTextLeg(ctx context.Context, q *query, embedded <-chan struct{}) ([]kb.Ranked, map[int64]kb.Candidate, error) {
	found, err := e.textLeg(ctx, q)
	if err != nil || len(found) == 0 {
		return found, nil, err
	}
	var vec []float32
	if q.useVector {
		select {
		case <-embedded:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		vec = q.vec
	}
	cands, err := e.idx.Hits(ctx, q.r.KB, rankedIDs(found), q.terms, vec, nil)
	if err != nil {
		return nil, nil, err
	}
	return found, cands, nil
}

// merge fuses what the legs found with the chunks they loaded. whole reports that every
// fused candidate was loaded and no document came in two versions (the legs' loads ran
// on different snapshots, with a re-ingest committed between them).
func (e *Engine) merge(q *query, found legs) ([]fusedHit, map[int64]kb.Candidate, bool, error) {
	if err := errors.Join(found.vecErr, found.textErr); err != nil {
		return nil, nil, false, err
	}
	pool := e.fuse(found.vec, found.text, q.w)
	if q.fusion == FusionRRF && len(pool) > 3*q.r.TopK {
		pool = pool[:3*q.r.TopK] // ranked already; score-ordering needs every candidate
	}
	cands := make(map[int64]kb.Candidate, len(pool))
	docs := make(map[string]int64, len(pool)) // external id → the document version loaded
	whole := true
	for _, f := range pool {
		c, ok := found.vecCands[f.id] // scored by the vector leg already
		if !ok {
			c, ok = found.textCands[f.id]
		}
		if !ok {
			whole = false // deleted after its leg ran
			continue
		}
		if d, seen := docs[c.ExternalID]; seen && d != c.DocumentID {
			whole = false
		}
		docs[c.ExternalID] = c.DocumentID
		cands[f.id] = c
	}
	return pool, cands, whole, nil
}

// rankedIDs lists the chunk ids of ranked results.
func rankedIDs(found []kb.Ranked) []int64 {
	ids := make([]int64, len(found))
	for i, h := range found {
		ids[i] = h.ChunkID
	}
	return ids
}

type fusedHit struct {
	id    int64
	score float64
}

// fuse combines the legs by weighted reciprocal-rank fusion: Σ w / (k + rank).
func (e *Engine) fuse(vecHits, textHits []kb.Ranked, w Weights) []fusedHit {
	scores := map[int64]float64{}
	order := []int64{}
	add := func(list []kb.Ranked, w float64) {
		for rank, h := range list {
			if _, seen := scores[h.ChunkID]; !seen {
				order = append(order, h.ChunkID)
			}
			scores[h.ChunkID] += w / (e.opts.RRFK + float64(rank+1))
		}
	}
	add(vecHits, w.Vector)
	add(textHits, w.Text)
	out := make([]fusedHit, len(order))
	for i, id := range order {
		out[i] = fusedHit{id, scores[id]}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	return out
}

// score is a hit's 0..1 score for thresholds: the cosine similarity, the weighted share of
// query terms matched, or a blend of both; never a rank, so it means the same across queries.
func score(mode string, s kb.Scores, vectorShare float64) float64 {
	v, t := 0.0, 0.0
	if s.Vector != nil {
		v = *s.Vector
	}
	if s.Text != nil {
		t = *s.Text
	}
	switch mode {
	case kb.ModeVector:
		return v
	case kb.ModeText:
		return t
	}
	return vectorShare*v + (1-vectorShare)*t
}

func (e *Engine) rerank(ctx context.Context, query string, hits []kb.Hit) ([]kb.Hit, error) {
	docs := make([]string, len(hits))
	for i, h := range hits {
		docs[i] = h.Content
	}
	scores, err := e.reranker.Rerank(ctx, query, docs)
	if err != nil {
		return nil, fmt.Errorf("retrieval: rerank: %w", err)
	}
	out := make([]kb.Hit, 0, len(scores))
	for _, s := range scores {
		if s.Index < 0 || s.Index >= len(hits) {
			continue
		}
		h := hits[s.Index]
		sc := clamp01(s.Score)
		h.Scores.Rerank = &sc
		h.Score = sc
		out = append(out, h)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out, nil
}

// termWeights gives each query term its BM25 inverse document frequency in the knowledge
// base, says which terms are too common to drive the text leg (and, as -1, which no chunk
// held when counted), and returns the knowledge base's chunk statistics.
func (e *Engine) termWeights(ctx context.Context, kbID int64, terms []string) (map[string]float64, map[string]int, map[string]int, kb.ChunkStats, error) {
	df, st, err := e.stats.get(ctx, e.idx, kbID, terms, e.opts.CommonTermCap+1)
	if err != nil {
		return nil, nil, nil, st, fmt.Errorf("retrieval: term statistics: %w", err)
	}
	n := float64(st.Chunks)
	limit := min(float64(e.opts.CommonTermCap), max(200, e.opts.CommonTermShare*n))
	w := make(map[string]float64, len(terms))
	class := map[string]int{}
	for _, t := range terms {
		d := float64(df[t])
		w[t] = math.Log(1 + (n-d+0.5)/(d+0.5))
		switch {
		case d == 0:
			class[t] = absentTerm
		case d > limit:
			class[t] = commonTerm
		}
	}
	return w, class, df, st, nil
}

// widerTerms adds to the driving terms the commoner ones, rarest first, while their
// chunks (by document frequency) stay within budget: the text leg's second search when the
// first found too few chunks. Scoring every chunk of a term held by a third of 100k chunks
// took a second; chunks that hold only very common terms rank last in BM25 anyway.
func widerTerms(driving, terms []string, weights map[string]float64, df map[string]int, budget int) []string {
	in := make(map[string]bool, len(driving))
	for _, t := range driving {
		in[t] = true
	}
	rest := slices.Clone(terms)
	sort.SliceStable(rest, func(i, j int) bool { return weights[rest[i]] > weights[rest[j]] })
	out := slices.Clone(driving)
	for _, t := range rest {
		if in[t] || df[t] == 0 {
			continue
		}
		if budget -= df[t]; budget < 0 {
			break
		}
		out = append(out, t)
	}
	return out
}

// Term classes of termWeights.
const (
	absentTerm = -1 // no chunk held it when last counted (the count may be seconds old)
	commonTerm = 1  // too common to drive the text leg
)

// drivingTerms leaves out terms too common to search by (their postings are long and their
// weight small), keeping at least the two rarest that some chunk holds, so a query of
// common words (and words the knowledge base lacks) still matches. The second of those is
// left out too when it cannot change the results: the chunks holding the first (df, counted
// up to the common-term cap) are enough to fill the need, and the query's remaining terms
// together weigh less than that first one, so a chunk holding only them ranks below one
// holding it (up to tf and length, which BM25 saturates). At 100k chunks such a second
// term was the slowest text searches' cost: "起兵能退吗" matched 11,792 chunks by 退 (11%
// of them) where 1,075 hold 起兵, whose weight (5.8) exceeds 退's and 能's together (3.2).
func drivingTerms(terms []string, weights map[string]float64, class, df map[string]int, need int) []string {
	sorted := slices.Clone(terms)
	sort.SliceStable(sorted, func(i, j int) bool { return weights[sorted[i]] > weights[sorted[j]] })
	var out []string
	present, held, first := 0, 0, 0.0 // first: the weight of the first term some chunk holds
	for i, t := range sorted {
		if class[t] == commonTerm && present >= 1 && (present >= 2 || held >= need && restWeight(sorted[i:], weights, class) < first) {
			break
		}
		out = append(out, t)
		if class[t] != absentTerm {
			if present == 0 {
				first = weights[t]
			}
			present++
			held += df[t]
		}
	}
	return out
}

// restWeight sums the weights of the terms some chunk holds.
func restWeight(terms []string, weights map[string]float64, class map[string]int) float64 {
	sum := 0.0
	for _, t := range terms {
		if class[t] != absentTerm {
			sum += weights[t]
		}
	}
	return sum
}

// bm25 is candidate c's Okapi BM25 score for the query terms, the formula of the text leg
// (and of package bm25): Σ idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen)).
func bm25(terms []string, idf map[string]float64, c kb.Candidate, k1, b, avgLen float64) float64 {
	if avgLen <= 0 {
		avgLen = 1
	}
	norm := k1 * (1 - b + b*float64(c.Length)/avgLen)
	sum := 0.0
	for i, t := range terms {
		if i >= len(c.TF) || c.TF[i] == 0 {
			continue
		}
		tf := float64(c.TF[i])
		sum += idf[t] * tf * (k1 + 1) / (tf + norm)
	}
	return sum
}

// bm25f is candidate c's BM25F score over two fields, its title (whose tokens are
// titleToks; its index text starts with them) and its text:
//
//	Σ idf · t·(k1+1) / (t + k1),  t = w·tf_title + tf_text / (1 − b + b·len_text/avgLen)
//
// A title is a short label that a page's sections share ("Glacier cave", "手册 > 故障排除"):
// a term in it says which page a chunk is on, a term in the text what the chunk says, so
// the title is weighed on its own and does not lengthen a short chunk. avgLen is the
// average length of whole chunks, titles included. Without a title it is Okapi BM25.
func bm25f(terms []string, idf map[string]float64, c kb.Candidate, titleToks []string, w, k1, b, avgLen float64) float64 {
	if len(titleToks) == 0 {
		return bm25(terms, idf, c, k1, b, avgLen)
	}
	if avgLen <= 0 {
		avgLen = 1
	}
	inTitle := make(map[string]int, len(titleToks))
	for _, t := range titleToks {
		inTitle[t]++
	}
	textLen := max(0, c.Length-len(titleToks))
	norm := 1 - b + b*float64(textLen)/avgLen
	sum := 0.0
	for i, t := range terms {
		if i >= len(c.TF) || c.TF[i] == 0 {
			continue
		}
		title := min(inTitle[t], c.TF[i])
		x := w*float64(title) + float64(c.TF[i]-title)/norm
		sum += idf[t] * x * (k1 + 1) / (x + k1)
	}
	return sum
}

// titleTokenizer returns a search's tokenizer of its hits' title fields: a chunk's heading
// path, which ingestion puts before its text in the index text (kbmaint.IndexText), except
// for FAQ entries, which index their questions and answer without their category path.
// Hits of one page share its title: each title is tokenized once.
func (e *Engine) titleTokenizer(k kb.KnowledgeBase) func(kb.Candidate) []string {
	seg, err := segment.Shared()
	if err != nil {
		return func(kb.Candidate) []string { return nil } // never: the query was segmented
	}
	d := e.dict(k)
	memo := map[string][]string{}
	return func(c kb.Candidate) []string {
		if c.Kind == kb.KindFAQ || len(c.SectionPath) == 0 {
			return nil
		}
		title := strings.Join(c.SectionPath, " > ")
		toks, ok := memo[title]
		if !ok {
			toks = seg.Tokens(title, d)
			memo[title] = toks
		}
		return toks
	}
}

// kbWeights returns the fusion weights a knowledge base's settings give, nil when they give
// none (or invalid ones); one given weight takes the other as its complement to 1.
func kbWeights(s kb.RetrievalSettings) *Weights {
	if s.VectorWeight == nil && s.TextWeight == nil {
		return nil
	}
	var w Weights
	switch {
	case s.VectorWeight != nil && s.TextWeight != nil:
		w = Weights{Vector: *s.VectorWeight, Text: *s.TextWeight}
	case s.VectorWeight != nil:
		w = Weights{Vector: *s.VectorWeight, Text: 1 - *s.VectorWeight}
	default:
		w = Weights{Vector: 1 - *s.TextWeight, Text: *s.TextWeight}
	}
	if w.Vector < 0 || w.Text < 0 || w.Vector+w.Text == 0 {
		return nil
	}
	return &w
}

// vectorShare is the vector leg's default share of a hybrid score for a query: fixed for
// a neural embedder; for the lexical local embedder, LocalHanShare for the query's Chinese
// characters and LocalLatinShare for the rest, in proportion.
func (e *Engine) vectorShare(k kb.KnowledgeBase, query string) float64 {
	if k.Embedder != "local" {
		return e.opts.NeuralShare
	}
	han, other := 0, 0
	for _, sp := range segment.Split(query) {
		n := utf8.RuneCountInString(sp.Text)
		if sp.Kind == segment.KindHan {
			han += n
		} else {
			other += n
		}
	}
	if han+other == 0 {
		return e.opts.LocalLatinShare
	}
	f := float64(han) / float64(han+other)
	return f*e.opts.LocalHanShare + (1-f)*e.opts.LocalLatinShare
}

// matched lists the query terms a chunk holds, given their frequencies in it.
func matched(terms []string, tf []int) []string {
	out := []string{}
	for i, t := range terms {
		if i < len(tf) && tf[i] > 0 {
			out = append(out, t)
		}
	}
	return out
}

func dedupe(terms []string) []string {
	seen := make(map[string]bool, len(terms))
	out := terms[:0]
	for _, t := range terms {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func ptr(x float64) *float64 { return &x }

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

type dictEntry struct {
	updated time.Time
	dict    *segment.Dict
}

// dict returns the knowledge base's custom dictionary, rebuilt when its settings change.
func (e *Engine) dict(k kb.KnowledgeBase) *segment.Dict {
	if v, ok := e.dicts.Load(k.ID); ok && v.(*dictEntry).updated.Equal(k.UpdatedAt) {
		return v.(*dictEntry).dict
	}
	d := segment.KBDict(k)
	e.dicts.Store(k.ID, &dictEntry{updated: k.UpdatedAt, dict: d})
	return d
}

// identifierFields are metadata keys whose value identifies one item (catalog rows carry
// sku; manuals may carry model or code).
var identifierFields = []string{"sku", "model", "code"}

// promoteExactIDs moves hits whose SKU, model or code equals a code in the query (ignoring
// case, spaces and hyphens: "xr700p" is "XR-700P") to the front, keeping their order, and
// lifts their score to at least 0.9. A customer who types a SKU means that product, even
// when accessory cards that mention it are shorter and score higher on similarity.
func promoteExactIDs(query string, hits []kb.Hit) {
	codes := map[string]bool{}
	for _, sp := range segment.Split(query) {
		if sp.Kind == segment.KindCode {
			codes[normalizeID(sp.Text)] = true
		}
	}
	if len(codes) == 0 {
		return
	}
	exact := func(h kb.Hit) bool {
		for _, f := range identifierFields {
			if v, ok := h.Metadata[f].(string); ok && codes[normalizeID(v)] {
				return true
			}
		}
		return false
	}
	sort.SliceStable(hits, func(i, j int) bool { return exact(hits[i]) && !exact(hits[j]) })
	for i := range hits {
		if exact(hits[i]) {
			hits[i].Score = max(hits[i].Score, 0.9)
		}
	}
}

func normalizeID(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '.':
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}
