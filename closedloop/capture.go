package closedloop

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// OccurrenceWriter files a question under a gap; *store.Store implements it.
type OccurrenceWriter interface {
	AddGapOccurrence(ctx context.Context, p kb.NewOccurrence) (gapID int64, added bool, err error)
}

// HitCounter counts answers given from a resolved gap's curated FAQ; *store.Store
// implements it.
type HitCounter interface {
	RecordGapHits(ctx context.Context, kbID, faqID int64, n int) error
}

// ExchangeReader reads a logged answer, for a thumbs-down on an answer this process no
// longer remembers; *store.Store implements it (kb.ErrNotFound when not logged).
type ExchangeReader interface {
	GetExchange(ctx context.Context, tenantID int64, answerID string) (kb.Exchange, error)
}

// Defaults of CaptureOptions.
const (
	DefaultCaptureBuffer = 4096
	// DefaultLowConfidenceMargin: an answer whose confidence is less than this above the
	// answer threshold is filed as low confidence (answered, but barely).
	DefaultLowConfidenceMargin = 0.05
	defaultRecent              = 10_000
)

// CaptureOptions tune a Capture. Zero values take the defaults.
type CaptureOptions struct {
	Buffer int // events queued before new ones are dropped (and counted); default 4096
	// LowConfidence: answered questions below this confidence (curated answers excepted)
	// become occurrences. Defaults to answer.DefaultAnswerThreshold + DefaultLowConfidenceMargin.
	LowConfidence float64
	Log           *slog.Logger
}

// CaptureDeps are a Capture's collaborators; Exchanges may be nil (then a
// thumbs-down on an answer not seen by this process is dropped).
type CaptureDeps struct {
	Grouper   *Grouper
	Writer    OccurrenceWriter
	Hits      HitCounter
	Exchanges ExchangeReader
}

// Capture turns badly answered questions into gap occurrences, off the request path: it
// implements answer.ExchangeSink. Record, RecordFeedback and RecordSearchMiss never
// block; one worker groups and writes in order. Run it with Run; Close drains it.
type Capture struct {
	d       CaptureDeps
	o       CaptureOptions
	log     *slog.Logger
	events  chan event
	dropped atomic.Int64
	filed   atomic.Int64
	recent  *recentExchanges
	closeMu sync.RWMutex
	closed  bool
	done    chan struct{}
}

type event struct {
	exchange *kb.Exchange
	feedback *kb.Feedback
	miss     *searchMiss
	flush    chan struct{}
}

type searchMiss struct {
	tenantID, kbID int64
	query, channel string
	at             time.Time
	bestScore      float64
}

var _ answer.ExchangeSink = (*Capture)(nil)

// NewCapture builds a capture; start its worker with Run.
func NewCapture(d CaptureDeps, o CaptureOptions) *Capture {
	if o.Buffer <= 0 {
		o.Buffer = DefaultCaptureBuffer
	}
	if o.LowConfidence <= 0 {
		o.LowConfidence = answer.DefaultAnswerThreshold + DefaultLowConfidenceMargin
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Capture{
		d: d, o: o, log: o.Log.With("component", "closedloop"),
		events: make(chan event, o.Buffer), recent: newRecentExchanges(defaultRecent), done: make(chan struct{}),
	}
}

// Record takes every answered exchange (answer.ExchangeSink). Unanswered, handed-off and
// low-confidence answers become occurrences; a curated answer from a resolved gap's FAQ
// counts a hit on that gap.
func (c *Capture) Record(e kb.Exchange) { c.enqueue(event{exchange: &e}) }

// RecordFeedback takes a verdict on an answer; a thumbs-down (Helpful false) files that
// answer's question as an occurrence. The integrator calls it from POST /v1/feedback.
func (c *Capture) RecordFeedback(f kb.Feedback) {
	if f.Helpful {
		return
	}
	c.enqueue(event{feedback: &f})
}

// RecordSearchMiss files a search (POST /v1/knowledge-bases/{kb}/search, Dify's
// /retrieval) that found nothing above its threshold; best is its best score (0 when it
// found nothing). Marked as kb.ReasonSearchMiss.
func (c *Capture) RecordSearchMiss(tenantID, kbID int64, query, channel string, best float64) {
	if strings.TrimSpace(query) == "" {
		return
	}
	c.enqueue(event{miss: &searchMiss{tenantID: tenantID, kbID: kbID, query: query, channel: channel, at: time.Now(), bestScore: best}})
}

// Dropped is how many events were dropped because the queue was full or closed.
func (c *Capture) Dropped() int64 { return c.dropped.Load() }

// Filed is how many occurrences were written.
func (c *Capture) Filed() int64 { return c.filed.Load() }

func (c *Capture) enqueue(ev event) {
	c.closeMu.RLock()
	defer c.closeMu.RUnlock()
	if c.closed {
		c.dropped.Add(1)
		return
	}
	select {
	case c.events <- ev:
	default:
		if n := c.dropped.Add(1); n == 1 || n%1000 == 0 {
			c.log.Warn("capture queue full: events dropped", "dropped", n)
		}
	}
}

// Run processes events until Close (then drains what is queued) and returns.
func (c *Capture) Run(ctx context.Context) {
	defer close(c.done)
	for ev := range c.events {
		if ev.flush != nil {
			close(ev.flush)
			continue
		}
		c.handle(context.WithoutCancel(ctx), ev)
	}
}

// Flush waits until every event queued before it is processed, or ctx ends.
func (c *Capture) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	c.closeMu.RLock()
	if c.closed {
		c.closeMu.RUnlock()
		return errors.New("closedloop: capture closed")
	}
	select {
	case c.events <- event{flush: ch}:
	case <-ctx.Done():
		c.closeMu.RUnlock()
		return ctx.Err()
	}
	c.closeMu.RUnlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking events and waits, until ctx ends, for Run to write what is queued.
func (c *Capture) Close(ctx context.Context) error {
	c.closeMu.Lock()
	if !c.closed {
		c.closed = true
		close(c.events)
	}
	c.closeMu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle files one event. An attempt that ran out of time is tried again (up to three in
// all): the first event of a process waits for the segmenter's dictionaries to load, which
// on a busy machine can outlast one attempt, and an occurrence dropped then is lost.
func (c *Capture) handle(ctx context.Context, ev event) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = c.handleOnce(ctx, ev)
		if !errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	if err != nil {
		c.log.Error("capturing a gap occurrence failed", "error", err)
	}
}

func (c *Capture) handleOnce(ctx context.Context, ev event) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case ev.exchange != nil:
		return c.exchange(ctx, *ev.exchange)
	case ev.feedback != nil:
		return c.thumbsDown(ctx, *ev.feedback)
	case ev.miss != nil:
		return c.searchMiss(ctx, *ev.miss)
	}
	return nil
}

// Reason says why an exchange is a gap occurrence, or "" when it is not one.
func (c *Capture) Reason(e kb.Exchange) string {
	switch {
	case e.Handoff:
		return kb.ReasonHandoff
	case !e.Answered || e.Source == kb.SourceNone:
		return kb.ReasonUnanswered
	case e.Source != kb.SourceCurated && e.Confidence < c.o.LowConfidence:
		return kb.ReasonLowConfidence
	}
	return ""
}

func (c *Capture) exchange(ctx context.Context, e kb.Exchange) error {
	c.recent.put(e)
	if faqID, ok := strings.CutPrefix(e.CuratedRef, "faq:"); ok && e.Source == kb.SourceCurated && c.d.Hits != nil {
		if id, err := strconv.ParseInt(faqID, 10, 64); err == nil {
			if err := c.d.Hits.RecordGapHits(ctx, e.KBID, id, 1); err != nil {
				return err
			}
		}
	}
	if reason := c.Reason(e); reason != "" {
		return c.file(ctx, e, reason)
	}
	return nil
}

func (c *Capture) thumbsDown(ctx context.Context, f kb.Feedback) error {
	e, ok := c.recent.get(f.AnswerID)
	if !ok || e.TenantID != f.TenantID {
		if c.d.Exchanges == nil {
			return nil
		}
		var err error
		if e, err = c.d.Exchanges.GetExchange(ctx, f.TenantID, f.AnswerID); errors.Is(err, kb.ErrNotFound) {
			return nil // purged, or never logged (NoLog)
		} else if err != nil {
			return err
		}
	}
	return c.file(ctx, e, kb.ReasonThumbsDown)
}

func (c *Capture) searchMiss(ctx context.Context, m searchMiss) error {
	return c.file(ctx, kb.Exchange{
		TenantID: m.tenantID, KBID: m.kbID, Channel: m.channel, Question: m.query, Confidence: m.bestScore, CreatedAt: m.at,
	}, kb.ReasonSearchMiss)
}

// file groups e's question and writes it as an occurrence.
func (c *Capture) file(ctx context.Context, e kb.Exchange, reason string) error {
	q := strings.TrimSpace(e.Question)
	if q == "" {
		return nil
	}
	m, err := c.d.Grouper.Match(ctx, e.KBID, q)
	if err != nil {
		return err
	}
	results, _ := json.Marshal(e.Results)
	if e.Results == nil {
		results = []byte("[]")
	}
	_, added, err := c.d.Writer.AddGapOccurrence(ctx, kb.NewOccurrence{
		TenantID: e.TenantID, GapID: m.GapID, Vector: m.Vector,
		Occurrence: kb.GapOccurrence{
			KBID: e.KBID, AnswerID: e.AnswerID, Reason: reason, Question: q, RewrittenQuery: e.RewrittenQuery,
			SessionID: e.SessionID, Channel: e.Channel, CustomerID: e.CustomerID, Confidence: e.Confidence,
			Results: results, CreatedAt: e.CreatedAt,
		},
	})
	if err != nil {
		return err
	}
	if added {
		c.filed.Add(1)
	}
	return nil
}

// recentExchanges remembers the last answers by id, so a thumbs-down that arrives before
// the answer log has written its answer still finds it.
type recentExchanges struct {
	mu    sync.Mutex
	max   int
	byID  map[string]kb.Exchange
	order []string
}

func newRecentExchanges(n int) *recentExchanges {
	return &recentExchanges{max: n, byID: make(map[string]kb.Exchange, n)}
}

func (r *recentExchanges) put(e kb.Exchange) {
	if e.AnswerID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[e.AnswerID]; !ok {
		r.order = append(r.order, e.AnswerID)
	}
	r.byID[e.AnswerID] = e
	for len(r.order) > r.max {
		delete(r.byID, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *recentExchanges) get(id string) (kb.Exchange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	return e, ok
}
