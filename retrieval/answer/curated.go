package answer

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/retrieval"
)

// curatedIndex matches questions against a knowledge base's curated entries: every
// entry's question and similar questions ("phrasings"), by their normalized text (exact),
// their shared grams (Han character bigrams, English words) and, when the knowledge base's
// embedder is at hand, their vectors. It is built once per knowledge-base generation and
// read concurrently without locks.
type curatedIndex struct {
	gen       uint64
	built     time.Time // a FAQ's validity window opens or closes without a change to announce it
	entries   []kb.Curated
	phrasings []phrasing
	exact     map[string]int     // normalized phrasing → phrasing index
	postings  map[string][]int32 // gram → phrasings holding it
	emb       retrieval.QueryEmbedder
	dict      *segment.Dict
}

type phrasing struct {
	entry    int
	text     string
	grams    map[string]struct{}
	norm     string
	words    map[string]struct{} // content words (question words aside)
	contrast []uint32            // per contrast set, a bit per term the phrasing names
	vec      []float32
}

// curatedMatch is the best curated candidate for a question.
type curatedMatch struct {
	entry   kb.Curated
	matched string
	score   float64
}

// phrasingFeatures are what matching needs of one phrasing, kept across rebuilds of a
// knowledge base's index: segmenting and embedding a thousand phrasings takes seconds,
// and a FAQ edit changes one of them.
type phrasingFeatures struct {
	grams    map[string]struct{}
	words    map[string]struct{}
	contrast []uint32
	vec      []float32
	dictSig  string // the knowledge base's dictionary the words were segmented with
}

// featureCache holds the phrasing features of each knowledge base's latest index.
type featureCache struct {
	mu   sync.Mutex
	byKB map[int64]kbFeatures
}

// kbFeatures are one knowledge base's phrasing features, by normalized phrasing, with the
// embedding model their vectors were made by (a re-embedded knowledge base starts over).
type kbFeatures struct {
	model string
	m     map[string]*phrasingFeatures
}

func (c *featureCache) get(kbID int64, model string) map[string]*phrasingFeatures {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.byKB[kbID]; f.model == model {
		return f.m
	}
	return nil
}

// keep replaces a knowledge base's features with those of its latest index.
func (c *featureCache) keep(kbID int64, model string, used map[string]*phrasingFeatures) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKB == nil {
		c.byKB = map[int64]kbFeatures{}
	}
	c.byKB[kbID] = kbFeatures{model: model, m: used}
}

// indexSpec is what an index is built from besides its entries.
type indexSpec struct {
	kbID    int64
	model   string                  // the embedding model and dimension, e.g. "local/zhiku-hash-v1/768"
	emb     retrieval.QueryEmbedder // nil: lexical matching only
	dict    *segment.Dict
	dictSig string
	gen     uint64
	cache   *featureCache // nil: nothing reused
}

// buildCuratedIndex indexes entries, reusing the features of phrasings seen before.
func buildCuratedIndex(ctx context.Context, entries []kb.Curated, sp indexSpec) (*curatedIndex, error) {
	ix := &curatedIndex{gen: sp.gen, built: time.Now(), entries: entries, exact: map[string]int{}, postings: map[string][]int32{}, emb: sp.emb, dict: sp.dict}
	var old map[string]*phrasingFeatures
	if sp.cache != nil {
		old = sp.cache.get(sp.kbID, sp.model)
	}
	used := map[string]*phrasingFeatures{}
	feats := []*phrasingFeatures{}
	for ei, e := range entries {
		texts := append([]string{e.Question}, e.Similar...)
		for _, t := range texts {
			norm := Normalize(t)
			if norm == "" {
				continue
			}
			if _, dup := ix.exact[norm]; dup {
				continue
			}
			f := old[norm]
			if f == nil || f.dictSig != sp.dictSig {
				f = &phrasingFeatures{grams: grams(norm), words: contentWords(norm, sp.dict), contrast: contrastTerms(norm), dictSig: sp.dictSig}
				if o := old[norm]; o != nil {
					f.vec = o.vec // the words changed with the dictionary; the vector did not
				}
			}
			used[norm] = f
			feats = append(feats, f)
			p := phrasing{entry: ei, text: t, norm: norm, grams: f.grams, words: f.words, contrast: f.contrast}
			id := int32(len(ix.phrasings))
			ix.exact[norm] = int(id)
			for g := range p.grams {
				ix.postings[g] = append(ix.postings[g], id)
			}
			ix.phrasings = append(ix.phrasings, p)
		}
	}
	if sp.emb != nil && len(ix.phrasings) > 0 {
		if err := ix.embed(ctx, feats); err != nil {
			return nil, err
		}
	}
	if sp.cache != nil {
		sp.cache.keep(sp.kbID, sp.model, used)
	}
	return ix, nil
}

// documentEmbedder is the batch side of an embedder, used when it has one.
type documentEmbedder interface {
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
}

// embed gives every phrasing its vector, embedding only those not known from before.
func (ix *curatedIndex) embed(ctx context.Context, feats []*phrasingFeatures) error {
	var todo []int
	var texts []string
	for i, f := range feats {
		if f.vec == nil {
			todo = append(todo, i)
			texts = append(texts, ix.phrasings[i].text)
		}
	}
	if len(todo) > 0 {
		var vecs [][]float32
		if d, ok := ix.emb.(documentEmbedder); ok {
			v, err := d.EmbedDocuments(ctx, texts)
			if err != nil {
				return err
			}
			vecs = v
		} else {
			for _, t := range texts {
				v, err := ix.emb.EmbedQuery(ctx, t)
				if err != nil {
					return err
				}
				vecs = append(vecs, v)
			}
		}
		for j, i := range todo {
			feats[i].vec = vecs[j]
		}
	}
	for i, f := range feats {
		ix.phrasings[i].vec = f.vec
	}
	return nil
}

// lexicalWeight is the share of the lexical score in a curated match when vectors are
// available; the rest is the cosine of the question and the phrasing.
const lexicalWeight = 0.5

// match returns the best curated candidate for the normalized question, or false when
// no phrasing shares a gram with it. The score is 1 for an exact phrasing, else the blend
// of gram overlap (Dice) and cosine, or the overlap of content words when that is higher;
// content words are only compared while the score is below enough.
func (ix *curatedIndex) match(ctx context.Context, norm string, enough float64) (curatedMatch, bool, error) {
	ps, err := ix.scored(ctx, norm, enough)
	if err != nil || len(ps) == 0 {
		return curatedMatch{}, false, err
	}
	best := ps[0]
	for _, p := range ps[1:] {
		if p.score > best.score {
			best = p
		}
	}
	return ix.matchOf(best), true, nil
}

// scoredPhrasing is a candidate phrasing (by index) with its score.
type scoredPhrasing struct {
	id    int32
	score float64
}

func (ix *curatedIndex) matchOf(p scoredPhrasing) curatedMatch {
	ph := &ix.phrasings[p.id]
	return curatedMatch{entry: ix.entries[ph.entry], matched: ph.text, score: p.score}
}

// top returns up to n distinct entries best matching norm, best first, for agent assist:
// each entry scores by its best phrasing among the candidates.
func (ix *curatedIndex) top(ctx context.Context, norm string, n int) ([]curatedMatch, error) {
	ps, err := ix.scored(ctx, norm, 1)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].score > ps[j].score })
	var out []curatedMatch
	seen := map[string]bool{}
	for _, p := range ps {
		if len(out) == n {
			break
		}
		if m := ix.matchOf(p); !seen[m.entry.Ref] {
			seen[m.entry.Ref] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// scored scores the candidate phrasings for the normalized question: an exact phrasing
// alone with 1, else the lexically closest ones by the blend of gram overlap (Dice) and
// cosine, or the overlap of content words when that is higher; content words are only
// compared while the best score is below enough. None when no phrasing shares a gram.
func (ix *curatedIndex) scored(ctx context.Context, norm string, enough float64) ([]scoredPhrasing, error) {
	if len(ix.phrasings) == 0 || norm == "" {
		return nil, nil
	}
	if i, ok := ix.exact[norm]; ok {
		return []scoredPhrasing{{id: int32(i), score: 1}}, nil
	}
	q := grams(norm)
	qc := contrastTerms(norm)
	shared := make(map[int32]int, 64)
	for g := range q {
		for _, id := range ix.postings[g] {
			shared[id]++
		}
	}
	if len(shared) == 0 {
		return nil, nil
	}
	// The lexically closest phrasings are the candidates; cosine refines their order.
	type cand struct {
		id  int32
		lex float64
	}
	cands := make([]cand, 0, len(shared))
	for id, n := range shared {
		p := &ix.phrasings[id]
		cands = append(cands, cand{id, 2 * float64(n) / float64(len(q)+len(p.grams))})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].lex != cands[j].lex {
			return cands[i].lex > cands[j].lex
		}
		return cands[i].id < cands[j].id
	})
	if len(cands) > 32 {
		cands = cands[:32]
	}
	var qvec []float32
	if ix.emb != nil && ix.phrasings[0].vec != nil {
		v, err := ix.emb.EmbedQuery(ctx, norm)
		switch {
		case err == nil:
			qvec = v
		case ctx.Err() != nil:
			return nil, err
		default: // the provider is down: match by wording, as without an embedder
			retrieval.NoteDegraded(ctx, "curated questions matched by wording only: "+err.Error())
		}
	}
	// First the cheap evidence: shared character pairs and vectors.
	out := make([]scoredPhrasing, len(cands))
	best := -1.0
	for i, c := range cands {
		p := &ix.phrasings[c.id]
		s := c.lex
		if qvec != nil && p.vec != nil {
			s = lexicalWeight*c.lex + (1-lexicalWeight)*math.Max(0, cosine(qvec, p.vec))
		}
		if contrasting(qc, p.contrast) {
			s = math.Min(s, contrastCap) // 怎么退货 is not 怎么换货, however alike they read
		}
		out[i] = scoredPhrasing{id: c.id, score: s}
		best = math.Max(best, s)
	}
	// Then, when that falls short but not far, the content words: the same words in other
	// wording ("如何开具发票", "发票要怎么开具") are the same question, however few
	// characters the two share in order. Segmenting costs more than all of the above, so
	// it runs only when it can change the outcome.
	if best < enough && best >= wordsFloor {
		qw := contentWords(norm, ix.dict)
		for i, c := range cands {
			p := &ix.phrasings[c.id]
			if !contrasting(qc, p.contrast) {
				out[i].score = math.Max(out[i].score, dice(qw, p.words))
			}
		}
	}
	return out, nil
}

// wordsFloor is the cheap score below which a question is too far from every curated
// phrasing for its content words to be compared.
const wordsFloor = 0.3

func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// englishStop are words too common to say whether two English questions match.
var englishStop = map[string]bool{
	"a": true, "an": true, "the": true, "is": true, "are": true, "do": true, "does": true, "i": true, "you": true,
	"to": true, "of": true, "in": true, "on": true, "for": true, "my": true, "it": true, "can": true, "what": true,
	"how": true, "be": true, "and": true, "or": true, "your": true, "me": true, "with": true, "this": true, "that": true,
}

// grams are what two questions are compared by: Han character bigrams (a lone Han
// character stands for itself) and English words and codes, lower-cased.
func grams(norm string) map[string]struct{} {
	out := map[string]struct{}{}
	var han []rune
	flushHan := func() {
		switch len(han) {
		case 0:
		case 1:
			out[string(han)] = struct{}{}
		default:
			for i := 0; i+1 < len(han); i++ {
				out[string(han[i:i+2])] = struct{}{}
			}
		}
		han = han[:0]
	}
	var word strings.Builder
	flushWord := func() {
		if w := word.String(); w != "" && !englishStop[w] {
			out[w] = struct{}{}
		}
		word.Reset()
	}
	for i := 0; i < len(norm); {
		r, size := utf8.DecodeRuneInString(norm[i:])
		i += size
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (r == '-' && word.Len() > 0):
			flushHan()
			word.WriteRune(unicode.ToLower(r))
		default:
			flushHan()
			flushWord()
		}
	}
	flushHan()
	flushWord()
	return out
}

// contentWords are the segmenter's words of a normalized question, question words and
// bare numbers aside.
func contentWords(norm string, dict *segment.Dict) map[string]struct{} {
	toks, err := segment.QueryTokens(norm, dict)
	out := make(map[string]struct{}, len(toks))
	if err != nil {
		return out
	}
	for _, t := range toks {
		if !questionWords[t] && !isDigits(t) {
			out[t] = struct{}{}
		}
	}
	return out
}

// dice is the Dice overlap of two word sets (0 when either is empty).
func dice(a, b map[string]struct{}) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	n := 0
	for w := range a {
		if _, ok := b[w]; ok {
			n++
		}
	}
	return 2 * float64(n) / float64(len(a)+len(b))
}

// contrastCap bounds the score of two questions naming different intents of one contrast
// set: below any sane curated threshold.
const contrastCap = 0.5

// intentContrasts are key words naming different intents although the questions around
// them read alike; English entries match as word prefixes (refund, refunds, refunded).
var intentContrasts = [][]string{
	{"退货", "换货", "退款", "维修", "补发", "退换", "发货", "到货", "补货", "签收", "价保", "差价"},
	{"发票", "收据", "小票"},
	{"return", "exchang", "refund", "repair", "ship", "deliver", "arriv", "track"},
	{"invoice", "receipt"},
}

// contrastTerms finds, per contrast set, the terms a normalized question names, as bits.
// Chinese terms are found in the text itself, not among the segmenter's words: jieba reads
// "换货运费" as 换 + 货运费.
func contrastTerms(norm string) []uint32 {
	out := make([]uint32, len(intentContrasts))
	var words []string
	for si, set := range intentContrasts {
		for ti, k := range set {
			if k[0] >= 0x80 {
				if strings.Contains(norm, k) {
					out[si] |= 1 << ti
				}
				continue
			}
			if words == nil {
				words = strings.FieldsFunc(norm, func(r rune) bool { return !unicode.IsLetter(r) })
			}
			for _, w := range words {
				if strings.HasPrefix(w, k) {
					out[si] |= 1 << ti
				}
			}
		}
	}
	return out
}

// contrasting reports whether two questions each name a term of one contrast set but
// share none of them.
func contrasting(a, b []uint32) bool {
	for i := range a {
		if a[i] != 0 && b[i] != 0 && a[i]&b[i] == 0 {
			return true
		}
	}
	return false
}
