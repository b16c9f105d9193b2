package closedloop

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
)

// Embedder turns a question into a vector for grouping. One embedder serves every
// knowledge base (cmd/zhiku wires the built-in local one: offline, deterministic, and
// the same model for every gap, so mean vectors stay comparable).
type Embedder interface {
	EmbedQuery(ctx context.Context, q string) ([]float32, error)
}

// GapIndex finds a knowledge base's open gaps nearest a vector; *store.Store implements
// it with an exact pgvector scan (see Grouper for why not in memory).
type GapIndex interface {
	NearestOpenGaps(ctx context.Context, kbID int64, vec []float32, n int) ([]kb.GapCandidate, error)
}

// Defaults of GroupOptions, chosen by a grid over weight (0..1) and threshold (0.3..0.7)
// on testdata/gaps, precision first: pairwise precision 0.94, recall 0.16 there; on
// lcqmc_zh pairs, recall 0.97 and precision 0.91 against hard negatives (TestGrouping*).
// Lower thresholds merged near-miss intents (退货/换货/退款) before recall rose much.
const (
	DefaultGroupThreshold = 0.45
	DefaultVectorWeight   = 0.6
	DefaultCandidates     = 20
)

// GroupOptions tune grouping. Zero values take the defaults.
type GroupOptions struct {
	// Threshold: a question joins its most similar open gap when their similarity is at
	// least this, else it starts a gap. Defaults to DefaultGroupThreshold.
	Threshold float64
	// VectorWeight is the vector cosine's share of the similarity; the rest is lexical
	// overlap (Dice of Chinese character bigrams and English word stems, with the framing
	// words of a question removed). Defaults to DefaultVectorWeight.
	VectorWeight float64
	// Candidates: how many nearest open gaps (by vector) are scored. Defaults to 20.
	Candidates int
}

func (o *GroupOptions) defaults() {
	if o.Threshold <= 0 {
		o.Threshold = DefaultGroupThreshold
	}
	if o.VectorWeight <= 0 {
		o.VectorWeight = DefaultVectorWeight
	}
	if o.Candidates <= 0 {
		o.Candidates = DefaultCandidates
	}
}

// Grouper decides which open gap a new question belongs to. It keeps no state: each
// question asks the index for the nearest open gaps, so every server process groups
// against the same, current set of gaps (one another's new gaps, operators' merges,
// splits and resolutions included) with no cache to warm or invalidate, and memory does
// not grow with the queue. A knowledge base's open gaps are a few thousand rows at most,
// which an exact scan reads in about a millisecond.
type Grouper struct {
	emb  Embedder
	idx  GapIndex
	opts GroupOptions
}

// NewGrouper builds a grouper.
func NewGrouper(emb Embedder, idx GapIndex, opts GroupOptions) *Grouper {
	opts.defaults()
	return &Grouper{emb: emb, idx: idx, opts: opts}
}

// Match is a grouping decision: the gap to join (0: start a new one), its similarity, and
// the question's vector.
type Match struct {
	GapID  int64
	Score  float64
	Vector []float32
}

// Match finds the open gap of knowledge base kbID that question belongs to.
func (g *Grouper) Match(ctx context.Context, kbID int64, question string) (Match, error) {
	vec, err := g.emb.EmbedQuery(ctx, question)
	if err != nil {
		return Match{}, fmt.Errorf("closedloop: embed question: %w", err)
	}
	cands, err := g.idx.NearestOpenGaps(ctx, kbID, vec, g.opts.Candidates)
	if err != nil {
		return Match{}, err
	}
	m := Match{Vector: vec}
	qf := lexicalFeatures(question)
	for _, c := range cands {
		if s := g.score(qf, c); s >= g.opts.Threshold && s > m.Score {
			m.GapID, m.Score = c.ID, s
		}
	}
	return m, nil
}

// score is the similarity of a question (its lexical features) and a gap: the vector
// cosine with the gap's mean, plus the best lexical overlap with its sample questions.
func (g *Grouper) score(qf []string, c kb.GapCandidate) float64 {
	lex := 0.0
	for _, s := range append([]string{c.Question}, c.Samples...) {
		sf := lexicalFeatures(s)
		if contrasting(qf, sf) {
			return 0
		}
		lex = max(lex, dice(qf, sf))
	}
	if lex < minLexical {
		return 0
	}
	return g.opts.VectorWeight*c.Cosine + (1-g.opts.VectorWeight)*lex
}

// minLexical is the least lexical overlap two questions need to group whatever their
// vectors say: the vector alone drew questions about the same thing (an order) but
// different intents together.
const minLexical = 0.25
