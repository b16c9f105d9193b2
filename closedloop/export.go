package closedloop

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
)

// MaskCustomerID hides a customer identifier in exports: at most its last four characters
// stay, never more than two fifths of it ("13812345678" → "*******5678", "u42" → "**2").
// Exports are read by analysts, not by support agents who need to reach the customer.
func MaskCustomerID(id string) string {
	n := utf8.RuneCountInString(id)
	if n == 0 {
		return ""
	}
	keep := min(4, n*2/5)
	r := []rune(id)
	return strings.Repeat("*", n-keep) + string(r[n-keep:])
}

// WriteGapsCSV writes gaps as CSV with a header row.
func WriteGapsCSV(w io.Writer, gaps []kb.Gap) error {
	g := NewGapsCSV(w)
	for _, x := range gaps {
		g.Write(x)
	}
	return g.Flush()
}

// GapsCSV writes gaps as CSV, page by page: an export of any size streams.
type GapsCSV struct{ w *csv.Writer }

// NewGapsCSV starts a gap export on w with its header row.
func NewGapsCSV(w io.Writer) *GapsCSV {
	c := &GapsCSV{w: csv.NewWriter(w)}
	_ = c.w.Write([]string{"id", "kb_id", "status", "question", "count", "first_seen", "last_seen", "last_24h", "previous_24h",
		"trend", "impact", "channels", "assignee", "faq_id", "dismissed_reason", "hits", "sample_questions"})
	return c
}

// Write adds one gap.
func (c *GapsCSV) Write(g kb.Gap) {
	faq := ""
	if g.FAQID != nil {
		faq = strconv.FormatInt(*g.FAQID, 10)
	}
	_ = c.w.Write([]string{strconv.FormatInt(g.ID, 10), strconv.FormatInt(g.KBID, 10), g.Status, csvSafe(g.Question),
		strconv.Itoa(g.Count), g.FirstSeen.UTC().Format(time.RFC3339), g.LastSeen.UTC().Format(time.RFC3339),
		strconv.Itoa(g.Last24h), strconv.Itoa(g.Previous24h), g.Trend, strconv.FormatFloat(g.Impact, 'f', 3, 64),
		strings.Join(g.Channels, "|"), csvSafe(g.Assignee), faq, g.DismissedReason, strconv.Itoa(g.Hits),
		csvSafe(strings.Join(g.Samples, " | "))})
}

// Flush writes what is buffered and reports the first write error.
func (c *GapsCSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// ConversationCSV writes exchanges as CSV, customer ids masked (MaskCustomerID).
type ConversationCSV struct{ w *csv.Writer }

// NewConversationCSV starts a conversation export on w with its header row.
func NewConversationCSV(w io.Writer) *ConversationCSV {
	c := &ConversationCSV{w: csv.NewWriter(w)}
	_ = c.w.Write([]string{"answer_id", "created_at", "kb_id", "session_id", "channel", "customer", "question", "rewritten_query",
		"language", "answer", "source", "answered", "handoff", "handoff_reason", "confidence", "curated_ref", "latency_ms"})
	return c
}

// Write adds one exchange.
func (c *ConversationCSV) Write(e kb.Exchange) error {
	return c.w.Write([]string{e.AnswerID, e.CreatedAt.UTC().Format(time.RFC3339), strconv.FormatInt(e.KBID, 10), csvSafe(e.SessionID),
		csvSafe(e.Channel), MaskCustomerID(e.CustomerID), csvSafe(e.Question), csvSafe(e.RewrittenQuery), e.Language,
		csvSafe(e.Answer), e.Source, strconv.FormatBool(e.Answered), strconv.FormatBool(e.Handoff), e.HandoffReason,
		strconv.FormatFloat(e.Confidence, 'f', 3, 64), e.CuratedRef, strconv.FormatFloat(e.LatencyMS, 'f', 1, 64)})
}

// Flush writes what is buffered and reports the first error.
func (c *ConversationCSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// csvSafe defuses spreadsheet formulas: a customer's question starting with = + - @ would
// run as a formula when an operator opens the export.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Purger deletes the answer log older than a time; *store.Store implements it.
type Purger interface {
	PurgeExchanges(ctx context.Context, olderThan time.Time) (int64, error)
}

// PurgeExpired deletes the conversation logs older than retention once; the workers run
// it every hour as a River periodic job (one process does, whichever leads), with
// ZHIKU_LOG_RETENTION_DAYS.
func PurgeExpired(ctx context.Context, p Purger, retention time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := p.PurgeExchanges(ctx, time.Now().Add(-retention))
	if err != nil {
		return fmt.Errorf("closedloop: purge old conversations: %w", err)
	}
	if n > 0 {
		log.With("component", "retention").Info("purged old conversations", "exchanges", n, "retention_days", int(retention.Hours()/24))
	}
	return nil
}
