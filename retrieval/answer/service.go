package answer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/retrieval"
)

// Defaults of Options. DefaultAnswerThreshold is calibrated by `zhiku eval --answers` on
// the dev sets (in-KB questions answered vs out-of-KB questions refused; see confidence.go
// and README); DefaultCuratedThreshold keeps "退货" and "换货" questions apart while
// letting reworded questions match.
const (
	DefaultAnswerThreshold  = 0.60
	DefaultCuratedThreshold = 0.72
	DefaultTopK             = 5
	DefaultMaxCitations     = 3
	DefaultGenerateTimeout  = 15 * time.Second
	DefaultRewriteTimeout   = 3 * time.Second
	DefaultCacheSize        = 50_000
	DefaultCacheTTL         = time.Minute // = curatedMaxAge: validity windows hold within a minute
	DefaultSessionTTL       = 30 * time.Minute
)

// Options tune the service. Zero values take the defaults.
type Options struct {
	// AnswerThreshold: below this confidence a question is refused (answered: false). A
	// knowledge base's settings.answer_threshold overrides it.
	AnswerThreshold float64
	// CuratedThreshold: a curated entry scoring at least this is returned as is. A
	// knowledge base's settings.curated_threshold overrides it.
	CuratedThreshold float64
	TopK             int           // passages retrieved per question
	MaxCitations     int           // passages given to the model and cited at most
	GenerateTimeout  time.Duration // budget of a generated answer, within the request's deadline
	RewriteTimeout   time.Duration // budget of a model rewrite of a follow-up
	CacheSize        int           // answers cached per process
	CacheTTL         time.Duration
	SessionTTL       time.Duration // how long a session's unanswered streak is remembered
	NoCache          bool          // compose every answer afresh (benchmarks of the uncached paths)
}

func (o *Options) defaults() {
	if o.AnswerThreshold <= 0 {
		o.AnswerThreshold = DefaultAnswerThreshold
	}
	if o.CuratedThreshold <= 0 {
		o.CuratedThreshold = DefaultCuratedThreshold
	}
	if o.TopK <= 0 {
		o.TopK = DefaultTopK
	}
	if o.MaxCitations <= 0 {
		o.MaxCitations = DefaultMaxCitations
	}
	if o.GenerateTimeout <= 0 {
		o.GenerateTimeout = DefaultGenerateTimeout
	}
	if o.RewriteTimeout <= 0 {
		o.RewriteTimeout = DefaultRewriteTimeout
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
}

// Deps are the service's collaborators. Search and Curated are required.
type Deps struct {
	Search      Searcher
	Curated     CuratedSource
	EmbedderFor retrieval.EmbedderFor // for curated vector matching; nil: lexical only
	Chat        Chat                  // nil: no generation (curated or extractive answers)
	Sink        ExchangeSink          // nil: exchanges are not logged
	Log         *slog.Logger
}

// Service answers questions. It is safe for concurrent use.
type Service struct {
	d        Deps
	o        Options
	log      *slog.Logger
	gens     generations
	cache    *answerCache
	curated  sync.Map // kb id → *curatedIndex
	features featureCache
	building singleflight.Group
	sessions *sessionStreaks
}

// New builds a service.
func New(d Deps, o Options) *Service {
	o.defaults()
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		d: d, o: o, log: d.Log.With("component", "answer"),
		cache:    newAnswerCache(o.CacheSize, o.CacheTTL),
		sessions: newSessionStreaks(o.SessionTTL),
	}
}

// Invalidate drops what the service cached of a knowledge base (answers, curated index):
// the next request sees its current knowledge. kbID 0 drops everything.
func (s *Service) Invalidate(kbID int64) { s.gens.bump(kbID) }

// Answer answers one question.
func (s *Service) Answer(ctx context.Context, r Request) (Response, error) {
	return s.run(ctx, r, nil)
}

// AnswerStream answers like Answer and calls onDelta with the answer's text as it is
// composed: piece by piece when a model generates it, else in one piece. The returned
// response is authoritative (a generation that fails midway falls back to an extractive
// answer, whose text replaces what was streamed).
func (s *Service) AnswerStream(ctx context.Context, r Request, onDelta func(string) error) (Response, error) {
	if onDelta == nil {
		onDelta = func(string) error { return nil }
	}
	return s.run(ctx, r, onDelta)
}

// ErrEmptyQuestion is returned for a question with no text.
var ErrEmptyQuestion = kb.Invalid("question is empty", "问题不能为空")

// kbSettings are the answer settings a knowledge base may override.
type kbSettings struct {
	AnswerThreshold  *float64 `json:"answer_threshold"`
	CuratedThreshold *float64 `json:"curated_threshold"`
}

// Threshold is the confidence below which questions to k are refused.
func (s *Service) Threshold(k kb.KnowledgeBase) float64 {
	t, _ := s.thresholds(k)
	return t
}

func (s *Service) thresholds(k kb.KnowledgeBase) (answer, curated float64) {
	answer, curated = s.o.AnswerThreshold, s.o.CuratedThreshold
	if len(k.Settings) == 0 || string(k.Settings) == "{}" {
		return
	}
	var st kbSettings
	if json.Unmarshal(k.Settings, &st) == nil {
		if st.AnswerThreshold != nil && *st.AnswerThreshold >= 0 && *st.AnswerThreshold <= 1 {
			answer = *st.AnswerThreshold
		}
		if st.CuratedThreshold != nil && *st.CuratedThreshold > 0 && *st.CuratedThreshold <= 1 {
			curated = *st.CuratedThreshold
		}
	}
	return
}

// language is the question's language. A question without words, only an order number
// or a code (E104, XR-500), takes the knowledge base's.
func language(q string, k kb.KnowledgeBase) string {
	if DetectLanguage(q) == kb.LanguageZh || hasPlainWord(q) {
		return DetectLanguage(q)
	}
	if k.Language == kb.LanguageEn {
		return kb.LanguageEn
	}
	return kb.LanguageZh
}

// hasPlainWord reports whether s holds a run of two or more letters not joined to digits.
func hasPlainWord(s string) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }) {
		letters, digits := 0, 0
		for _, r := range f {
			switch {
			case unicode.IsLetter(r):
				letters++
			case unicode.IsDigit(r):
				digits++
			}
		}
		if letters >= 2 && digits == 0 {
			return true
		}
	}
	return false
}

// run is the pipeline; onDelta is nil for a plain answer.
func (s *Service) run(ctx context.Context, r Request, onDelta func(string) error) (Response, error) {
	start := time.Now()
	q := strings.TrimSpace(r.Question)
	norm := Normalize(q)
	if norm == "" {
		return Response{}, ErrEmptyQuestion
	}
	lang := language(q, r.KB)
	answerThreshold, curatedThreshold := s.thresholds(r.KB)
	ctx, degraded := retrieval.WithDegradation(ctx)
	resp := Response{Language: lang, RewrittenQuery: q, Source: kb.SourceNone, Citations: []Citation{}}
	var dbg *Debug
	if r.Debug {
		dbg = &Debug{Normalized: norm, Language: lang, Rewrite: "none", Threshold: answerThreshold, StepsMS: map[string]float64{}}
	}
	step := time.Now()
	lap := func(name string) {
		if dbg != nil {
			dbg.StepsMS[name] = ms(time.Since(step))
		}
		step = time.Now()
	}
	var hits []kb.Hit
	streamed := false

	reason, handoff := DetectHandoff(q)
	if handoff && reason == ReasonHumanRequested {
		// The customer asked for a person: say so at once; no knowledge answers that.
		resp.Answer, resp.Handoff, resp.HandoffReason = HandoffMessage(lang, reason), true, reason
		if dbg != nil {
			dbg.Composer = "none"
		}
	} else {
		var err error
		query := q
		if len(r.History) > 0 {
			var how string
			query, how = s.rewrite(ctx, q, r.History, lang)
			if dbg != nil {
				dbg.Rewrite = how
			}
			lap("rewrite")
		}
		resp.RewrittenQuery = query
		qnorm := Normalize(query)
		gen := s.gens.current(r.KB.ID)
		key := cacheKey(r.KB.ID, qnorm, r.Filter)
		if c, ok := s.cache.get(key, gen, time.Now()); ok && dbg == nil && !s.o.NoCache {
			c.RewrittenQuery, c.Language = query, lang
			c.Cached = true
			resp = c
		} else {
			cacheable := true
			resp, hits, cacheable, err = s.compose(ctx, r, query, norm, qnorm, lang, gen, answerThreshold, curatedThreshold, dbg, lap, onDelta, &streamed)
			if err != nil {
				return Response{}, err
			}
			if cacheable && dbg == nil && !s.o.NoCache && degraded.String() == "" {
				s.cache.put(key, gen, time.Now(), resp)
			}
		}
		if handoff { // complaint or strong emotion: answer, and bring a person in
			resp.Handoff, resp.HandoffReason = true, reason
		}
	}

	// Two unanswered turns in a row: a person should take over.
	streak := s.sessions.record(r.KB.ID, r.SessionID, resp.Answered, time.Now())
	if h := historyStreak(r.History); !resp.Answered && h+1 > streak {
		streak = h + 1
	}
	if !resp.Answered && !resp.Handoff && streak >= 2 {
		resp.Handoff, resp.HandoffReason = true, ReasonRepeatedUnanswered
		resp.Answer = HandoffMessage(lang, ReasonRepeatedUnanswered)
	}
	resp.AnswerID = newAnswerID()
	resp.LatencyMS = ms(time.Since(start))
	resp.Degraded = degraded.String()
	if dbg != nil {
		dbg.Degraded = resp.Degraded
	}
	resp.Debug = dbg
	if onDelta != nil && !streamed {
		if err := onDelta(resp.Answer); err != nil {
			return resp, err
		}
	}
	if s.d.Sink != nil && !r.NoLog {
		s.d.Sink.Record(exchangeOf(r, resp, hits))
	}
	return resp, nil
}

// compose finds the answer: curated, else retrieved and generated or extracted, else a
// refusal. cacheable is false when a transient failure shaped the answer.
func (s *Service) compose(ctx context.Context, r Request, query, norm, qnorm, lang string, gen uint64,
	answerThreshold, curatedThreshold float64, dbg *Debug, lap func(string), onDelta func(string) error, streamed *bool,
) (resp Response, hits []kb.Hit, cacheable bool, err error) {
	resp = Response{Language: lang, RewrittenQuery: query, Source: kb.SourceNone, Citations: []Citation{}}
	cacheable = true

	// Curated first: the operator's own words, no model involved.
	ix, err := s.curatedIndex(ctx, r.KB, gen)
	if err != nil {
		return resp, nil, false, err
	}
	best, found, err := ix.match(ctx, norm, curatedThreshold)
	if err != nil {
		return resp, nil, false, err
	}
	if qnorm != norm {
		if m, ok, err := ix.match(ctx, qnorm, curatedThreshold); err != nil {
			return resp, nil, false, err
		} else if ok && (!found || m.score > best.score) {
			best, found = m, true
		}
	}
	lap("curated")
	if found && dbg != nil {
		dbg.CuratedMatch = &CuratedDebug{Ref: best.entry.Ref, Question: best.entry.Question, Matched: best.matched, Score: round3(best.score), Threshold: curatedThreshold}
	}
	if found && best.score >= curatedThreshold {
		resp.Answer, resp.Answered, resp.Source = best.entry.Answer, true, kb.SourceCurated
		resp.Confidence = round3(best.score)
		resp.CuratedID = best.entry.FAQID
		if best.entry.DocumentID != 0 {
			resp.Citations = []Citation{{Index: 1, DocumentID: best.entry.DocumentID, Title: best.entry.Question, Snippet: snippet(best.entry.Answer)}}
		}
		if dbg != nil {
			dbg.Composer = "curated"
		}
		return resp, nil, true, nil
	}

	hits, err = s.d.Search.Search(ctx, retrieval.Request{KB: r.KB, Query: query, TopK: s.o.TopK, Mode: kb.ModeHybrid, Filter: r.Filter, Rerank: true})
	if err != nil {
		return resp, nil, false, err
	}
	lap("search")
	conf, parts := s.confidence(ctx, r.KB, query, hits)
	resp.Confidence = conf
	if dbg != nil {
		dbg.Hits, dbg.ConfidenceParts = hits, parts
	}
	if conf < answerThreshold {
		resp.Answer = FallbackMessage(lang)
		if dbg != nil {
			dbg.Composer = "none"
		}
		return resp, hits, true, nil
	}
	top := hits[:min(len(hits), s.o.MaxCitations)]

	if text, i, ok := CatalogAnswer(query, hits, lang); ok {
		resp.Answer, resp.Answered, resp.Source = text, true, kb.SourceExtractive
		resp.Citations = citations(hits, []int{i})
		if dbg != nil {
			dbg.Composer = "catalog"
		}
		return resp, hits, true, nil
	}
	if s.d.Chat != nil {
		text, cited, noAnswer, err := s.generate(ctx, r.History, query, top, lang, onDelta, streamed)
		lap("generate")
		switch {
		case err == nil && noAnswer:
			resp.Answer = FallbackMessage(lang)
			if dbg != nil {
				dbg.Composer = "llm"
			}
			return resp, hits, true, nil
		case err == nil:
			if len(cited) == 0 {
				cited = indexes(len(top)) // the model cited nothing: every passage it was given
			}
			resp.Answer, resp.Answered, resp.Source = text, true, kb.SourceGenerated
			resp.Citations = citations(top, cited)
			if dbg != nil {
				dbg.Composer = "llm"
			}
			return resp, hits, true, nil
		default:
			// A failed or late model leaves the extractive answer; it is not cached, so the
			// next asker gets the model again.
			cacheable = false
			s.log.Warn("generation failed; answering extractively", "kb_id", r.KB.ID, "err", err)
			if dbg != nil {
				dbg.LLMError = err.Error()
			}
		}
	}
	text, cited := Extract(query, top, lang)
	if strings.TrimSpace(text) == "" {
		resp.Answer = FallbackMessage(lang)
		return resp, hits, cacheable, nil
	}
	resp.Answer, resp.Answered, resp.Source = text, true, kb.SourceExtractive
	resp.Citations = citations(top, cited)
	if dbg != nil {
		dbg.Composer = "extractive"
	}
	return resp, hits, cacheable, nil
}

// generate asks the chat model for an answer grounded in hits, within the generation
// budget and the request's deadline. A stream's pieces go to onDelta once they cannot be
// the start of the model's "no answer" reply.
func (s *Service) generate(ctx context.Context, history []Turn, query string, hits []kb.Hit, lang string,
	onDelta func(string) error, streamed *bool,
) (text string, cited []int, noAnswer bool, err error) {
	budget := s.o.GenerateTimeout
	if dl, ok := ctx.Deadline(); ok {
		// Leave time to answer extractively should the model be late.
		if left := time.Until(dl) - 100*time.Millisecond; left < budget {
			budget = left
		}
	}
	if budget <= 0 {
		return "", nil, false, context.DeadlineExceeded
	}
	gctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	msgs := GeneratePrompt(query, history, hits, lang)
	if onDelta == nil {
		text, err = s.d.Chat.Complete(gctx, msgs)
	} else {
		gate := &noAnswerGate{emit: func(p string) error { *streamed = true; return onDelta(p) }}
		text, err = s.d.Chat.Stream(gctx, msgs, gate.write)
		if err == nil && !IsNoAnswer(text) {
			err = gate.flush()
		}
	}
	if err != nil {
		return "", nil, false, err
	}
	if IsNoAnswer(text) {
		return "", nil, true, nil
	}
	clean, cited := ParseCitations(text, len(hits))
	if strings.TrimSpace(clean) == "" {
		return "", nil, true, nil
	}
	return strings.TrimSpace(clean), cited, false, nil
}

// noAnswerGate holds back the start of a stream until it cannot be the model's NoAnswer
// reply, so a customer never sees "NO_ANSWER" flash by.
type noAnswerGate struct {
	emit    func(string) error
	held    strings.Builder
	decided bool
}

func (g *noAnswerGate) write(p string) error {
	if g.decided {
		return g.emit(p)
	}
	g.held.WriteString(p)
	h := strings.TrimSpace(g.held.String())
	if len(h) < len(NoAnswer) && strings.HasPrefix(NoAnswer, h) {
		return nil
	}
	if strings.HasPrefix(h, NoAnswer) {
		return nil // the whole reply is held; IsNoAnswer decides at the end
	}
	g.decided = true
	return g.emit(g.held.String())
}

func (g *noAnswerGate) flush() error {
	if g.decided || g.held.Len() == 0 {
		return nil
	}
	g.decided = true
	return g.emit(g.held.String())
}

// evidenceDepth is how many of the top hits are weighed as the answer's ground.
const evidenceDepth = 3

// confidence weighs the top hits as the answer's ground and moves the best-grounded one
// first (a passage holding the fault code asked about beats one sharing a product word).
func (s *Service) confidence(ctx context.Context, k kb.KnowledgeBase, query string, hits []kb.Hit) (float64, map[string]float64) {
	terms, _ := segment.QueryTokens(query, segment.KBDict(k))
	emb, qvec := s.queryVector(ctx, k, query)
	best, bestParts, at := -1.0, map[string]float64(nil), 0
	for i := 0; i < len(hits) && i < evidenceDepth; i++ {
		sc := 0.0
		if qvec != nil {
			sc = bestSentenceCos(ctx, emb, qvec, hits[i].Content)
		}
		c, parts := confidence(hits[i:], sc, terms)
		if c > best {
			best, bestParts, at = c, parts, i
		}
	}
	if best < 0 {
		return confidence(nil, 0, terms)
	}
	if at > 0 {
		h := hits[at]
		copy(hits[1:at+1], hits[:at])
		hits[0] = h
	}
	return best, bestParts
}

// queryVector embeds the query for sentence comparisons (nil when it cannot be had: the
// passage cosines then stand alone).
func (s *Service) queryVector(ctx context.Context, k kb.KnowledgeBase, query string) (retrieval.QueryEmbedder, []float32) {
	if s.d.EmbedderFor == nil {
		return nil, nil
	}
	emb, err := s.d.EmbedderFor(k)
	if err != nil {
		return nil, nil
	}
	qvec, err := emb.EmbedQuery(ctx, query)
	if err != nil {
		return nil, nil
	}
	return emb, qvec
}

// rewrite makes a follow-up standalone: by the chat model when there is one (within its
// budget), else, or when it fails, by the heuristic.
func (s *Service) rewrite(ctx context.Context, q string, history []Turn, lang string) (string, string) {
	if s.d.Chat != nil {
		rctx, cancel := context.WithTimeout(ctx, s.o.RewriteTimeout)
		out, err := s.d.Chat.Complete(rctx, RewritePrompt(q, history, lang))
		cancel()
		out = strings.TrimSpace(strings.Trim(strings.TrimSpace(out), "\"'“”「」"))
		if err == nil && out != "" && utf8.RuneCountInString(out) <= 4*utf8.RuneCountInString(q)+200 {
			return out, "llm"
		}
		if err != nil {
			s.log.Warn("follow-up rewrite by the model failed; using the heuristic", "err", err)
		}
	}
	if out, ok := RewriteFollowUp(q, history); ok {
		return out, "heuristic"
	}
	return q, "none"
}

// curatedMaxAge bounds how long a curated index (and a cached answer) is used: a FAQ's
// valid_from or valid_until passes without any write to announce it.
const curatedMaxAge = time.Minute

// curatedIndex returns the knowledge base's curated index at generation gen, building it
// once (concurrent requests wait for the one build).
func (s *Service) curatedIndex(ctx context.Context, k kb.KnowledgeBase, gen uint64) (*curatedIndex, error) {
	if v, ok := s.curated.Load(k.ID); ok && v.(*curatedIndex).gen == gen && time.Since(v.(*curatedIndex).built) < curatedMaxAge {
		return v.(*curatedIndex), nil
	}
	key := strconv.FormatInt(k.ID, 10) + ":" + strconv.FormatUint(gen, 10) + ":" + strconv.FormatInt(time.Now().Unix()/int64(curatedMaxAge.Seconds()), 10)
	v, err, _ := s.building.Do(key, func() (any, error) {
		entries, err := s.d.Curated.CuratedEntries(context.WithoutCancel(ctx), k.ID)
		if err != nil {
			return nil, fmt.Errorf("answer: load curated entries: %w", err)
		}
		var emb retrieval.QueryEmbedder
		if s.d.EmbedderFor != nil && len(entries) > 0 {
			if emb, err = s.d.EmbedderFor(k); err != nil {
				emb = nil // matched lexically; search reports the model mismatch itself
			}
		}
		model := fmt.Sprintf("%s/%s/%d", k.Embedder, k.EmbeddingModel, k.EmbeddingDim)
		sp := indexSpec{kbID: k.ID, model: model, emb: emb, dict: segment.KBDict(k), dictSig: string(k.Settings), gen: gen, cache: &s.features}
		ix, err := buildCuratedIndex(context.WithoutCancel(ctx), entries, sp)
		if err != nil && emb != nil {
			s.log.Warn("embedding curated questions failed; matching them lexically", "kb_id", k.ID, "err", err)
			sp.emb, sp.cache = nil, nil
			ix, err = buildCuratedIndex(ctx, entries, sp)
		}
		if err != nil {
			return nil, err
		}
		s.curated.Store(k.ID, ix)
		return ix, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*curatedIndex), nil
}

// Assist proposes up to three replies for a human agent: curated answers first, then
// answers composed from the best passages.
func (s *Service) Assist(ctx context.Context, r Request) ([]Suggestion, error) {
	q := strings.TrimSpace(r.Question)
	if Normalize(q) == "" {
		return nil, ErrEmptyQuestion
	}
	lang := language(q, r.KB)
	query := q
	if len(r.History) > 0 {
		query, _ = s.rewrite(ctx, q, r.History, lang)
	}
	ix, err := s.curatedIndex(ctx, r.KB, s.gens.current(r.KB.ID))
	if err != nil {
		return nil, err
	}
	const want = 3
	out := []Suggestion{}
	matches, err := ix.top(ctx, Normalize(query), want)
	if err != nil {
		return nil, err
	}
	_, curatedThreshold := s.thresholds(r.KB)
	for _, m := range matches {
		if m.score >= curatedThreshold*0.6 { // an agent can judge a looser match
			out = append(out, Suggestion{Text: m.entry.Answer, Source: kb.SourceCurated, Score: round3(m.score), Citations: []Citation{}})
		}
	}
	if len(out) >= want {
		return out, nil
	}
	hits, err := s.d.Search.Search(ctx, retrieval.Request{KB: r.KB, Query: query, TopK: s.o.TopK, Mode: kb.ModeHybrid, Filter: r.Filter, Rerank: true})
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return out, nil
	}
	if s.d.Chat != nil {
		top := hits[:min(len(hits), s.o.MaxCitations)]
		var streamed bool
		if text, cited, noAnswer, err := s.generate(ctx, r.History, query, top, lang, nil, &streamed); err == nil && !noAnswer {
			if len(cited) == 0 {
				cited = indexes(len(top))
			}
			out = append(out, Suggestion{Text: text, Source: kb.SourceGenerated, Score: hits[0].Score, Citations: citations(top, cited)})
		}
	}
	for i := 0; i < len(hits) && len(out) < want; i++ {
		text, _ := Extract(query, hits[i:i+1], lang)
		if strings.TrimSpace(text) == "" {
			continue
		}
		out = append(out, Suggestion{Text: text, Source: kb.SourceExtractive, Score: round3(hits[i].Score), Citations: citations(hits[i:i+1], []int{0})})
	}
	return out, nil
}

// citations maps 0-based hit indexes to citations numbered as the answer's [n].
func citations(hits []kb.Hit, idx []int) []Citation {
	out := make([]Citation, 0, len(idx))
	for _, i := range idx {
		if i < 0 || i >= len(hits) {
			continue
		}
		h := hits[i]
		out = append(out, Citation{Index: i + 1, ChunkID: h.ChunkID, DocumentID: h.DocumentID, ExternalID: h.ExternalID,
			Title: h.Title, Snippet: snippet(h.Content), Page: h.Page, Score: round3(h.Score)})
	}
	return out
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// snippet is the start of a passage, cut at a rune boundary.
func snippet(s string) string {
	const maxRunes = 160
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxRunes]) + "…"
}

// cacheKey identifies an answer: the knowledge base, the normalized standalone query and
// the filters (a customer viewing another product gets another answer).
func cacheKey(kbID int64, qnorm string, f kb.Filter) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(kbID, 10))
	b.WriteByte(0)
	b.WriteString(qnorm)
	if len(f.Conditions) > 0 {
		b.WriteByte(0)
		fj, _ := json.Marshal(f.Conditions)
		b.Write(fj)
		if f.Or {
			b.WriteString("|or")
		}
	}
	return b.String()
}

func exchangeOf(r Request, resp Response, hits []kb.Hit) kb.Exchange {
	cited := map[int64]bool{}
	for _, c := range resp.Citations {
		cited[c.ChunkID] = true
	}
	results := make([]kb.ExchangeResult, len(hits))
	for i, h := range hits {
		results[i] = kb.ExchangeResult{ChunkID: h.ChunkID, DocumentID: h.DocumentID, Score: round3(h.Score), Cited: cited[h.ChunkID]}
	}
	ref := ""
	if resp.Source == kb.SourceCurated {
		switch {
		case resp.CuratedID != 0:
			ref = "faq:" + strconv.FormatInt(resp.CuratedID, 10)
		case len(resp.Citations) > 0:
			ref = "doc:" + strconv.FormatInt(resp.Citations[0].DocumentID, 10)
		}
	}
	return kb.Exchange{
		AnswerID: resp.AnswerID, TenantID: r.KB.TenantID, KBID: r.KB.ID,
		SessionID: r.SessionID, Channel: r.Channel, CustomerID: r.CustomerID,
		Question: r.Question, RewrittenQuery: resp.RewrittenQuery, Language: resp.Language,
		Answer: resp.Answer, Source: resp.Source, Answered: resp.Answered,
		Handoff: resp.Handoff, HandoffReason: resp.HandoffReason, Confidence: resp.Confidence,
		CuratedRef: ref, Results: results, LatencyMS: resp.LatencyMS, CreatedAt: time.Now(),
	}
}

func newAnswerID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ans_" + hex.EncodeToString(b[:])
}

func ms(d time.Duration) float64 { return round3(float64(d.Microseconds()) / 1000) }

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// sessionStreaks remembers, per session, how many questions in a row went unanswered.
type sessionStreaks struct {
	mu    sync.Mutex
	ttl   time.Duration
	m     map[string]streak
	sweep time.Time
}

type streak struct {
	n  int
	at time.Time
}

func newSessionStreaks(ttl time.Duration) *sessionStreaks {
	return &sessionStreaks{ttl: ttl, m: map[string]streak{}}
}

// record notes one answer of a session and returns its unanswered streak, this answer
// included. A request without a session has no streak beyond itself.
func (s *sessionStreaks) record(kbID int64, session string, answered bool, now time.Time) int {
	if session == "" {
		if answered {
			return 0
		}
		return 1
	}
	key := strconv.FormatInt(kbID, 10) + "\x00" + session
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.sweep) > s.ttl {
		for k, v := range s.m {
			if now.Sub(v.at) > s.ttl {
				delete(s.m, k)
			}
		}
		s.sweep = now
	}
	st := s.m[key]
	if now.Sub(st.at) > s.ttl {
		st.n = 0
	}
	if answered {
		st.n = 0
	} else {
		st.n++
	}
	st.at = now
	s.m[key] = st
	return st.n
}

// historyStreak counts the unanswered replies at the end of a conversation the bot sent:
// a session that moved to another process still hands off on time.
func historyStreak(history []Turn) int {
	n := 0
	for i := len(history) - 1; i >= 0; i-- {
		t := history[i]
		if t.Role != "assistant" {
			continue
		}
		c := strings.TrimSpace(t.Content)
		if c != FallbackMessage(kb.LanguageZh) && c != FallbackMessage(kb.LanguageEn) {
			break
		}
		n++
	}
	return n
}
