package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

// LogExchanges writes answered questions to the answer log in one statement. An exchange
// whose answer id is already logged is skipped, so writing a batch again is harmless, and
// so is one whose knowledge base (of its tenant) is gone: deleted while its exchanges
// waited in an ExchangeLog, it must not cost the rest of the batch. Text
// PostgreSQL cannot store (NUL bytes, invalid UTF-8, which customers do type) is cleaned
// rather than failing the batch. A zero CreatedAt means now.
func (s *Store) LogExchanges(ctx context.Context, exs []kb.Exchange) error {
	if len(exs) == 0 {
		return nil
	}
	n := len(exs)
	var (
		answerIDs, sessions, channels, customers   = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		questions, rewritten, languages, answers   = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		sources, reasons, curatedRefs, resultsJSON = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tenants, kbs                               = make([]int64, n), make([]int64, n)
		answered, handoffs                         = make([]bool, n), make([]bool, n)
		confidences, latencies                     = make([]float64, n), make([]float64, n)
		created                                    = make([]*time.Time, n)
	)
	for i, e := range exs {
		results := e.Results
		if results == nil {
			results = []kb.ExchangeResult{}
		}
		b, err := json.Marshal(results)
		if err != nil {
			return fmt.Errorf("store: log exchanges: results of %s: %w", e.AnswerID, err)
		}
		answerIDs[i], sessions[i], channels[i], customers[i] = storable(e.AnswerID), storable(e.SessionID), storable(e.Channel), storable(e.CustomerID)
		questions[i], rewritten[i], languages[i], answers[i] = storable(e.Question), storable(e.RewrittenQuery), storable(e.Language), storable(e.Answer)
		sources[i], reasons[i], curatedRefs[i], resultsJSON[i] = storable(e.Source), storable(e.HandoffReason), storable(e.CuratedRef), string(b)
		tenants[i], kbs[i], answered[i], handoffs[i] = e.TenantID, e.KBID, e.Answered, e.Handoff
		confidences[i], latencies[i] = e.Confidence, e.LatencyMS
		if !e.CreatedAt.IsZero() {
			created[i] = &exs[i].CreatedAt
		}
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO exchanges (answer_id, tenant_id, kb_id, session_id, channel, customer_id, question, rewritten_query,
		                       language, answer, source, answered, handoff, handoff_reason, confidence, curated_ref,
		                       results, latency_ms, created_at)
		SELECT a, t, k, s, ch, cu, q, rq, l, an, src, ok, h, hr, conf, cr, r::jsonb, lat, coalesce(c, now())
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		            $9::text[], $10::text[], $11::text[], $12::bool[], $13::bool[], $14::text[], $15::float8[], $16::text[],
		            $17::text[], $18::float8[], $19::timestamptz[])
		     AS x(a, t, k, s, ch, cu, q, rq, l, an, src, ok, h, hr, conf, cr, r, lat, c)
		WHERE EXISTS (SELECT 1 FROM knowledge_bases kb WHERE kb.id = x.k AND kb.tenant_id = x.t)
		ON CONFLICT (answer_id) DO NOTHING`,
		answerIDs, tenants, kbs, sessions, channels, customers, questions, rewritten,
		languages, answers, sources, answered, handoffs, reasons, confidences, curatedRefs,
		resultsJSON, latencies, created)
	if err != nil {
		return fmt.Errorf("store: log %d exchanges: %w", n, interpret(err))
	}
	return nil
}

// storable drops what PostgreSQL's text type refuses: NUL bytes and invalid UTF-8.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

const exchangeColumns = `answer_id, tenant_id, kb_id, session_id, channel, customer_id, question, rewritten_query,
	language, answer, source, answered, handoff, handoff_reason, confidence, curated_ref, results, latency_ms, created_at`

func scanExchange(row pgx.Row) (kb.Exchange, error) {
	var e kb.Exchange
	var results []byte
	err := row.Scan(&e.AnswerID, &e.TenantID, &e.KBID, &e.SessionID, &e.Channel, &e.CustomerID, &e.Question,
		&e.RewrittenQuery, &e.Language, &e.Answer, &e.Source, &e.Answered, &e.Handoff, &e.HandoffReason,
		&e.Confidence, &e.CuratedRef, &results, &e.LatencyMS, &e.CreatedAt)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(results, &e.Results); err != nil {
		return e, fmt.Errorf("results of %s: %w", e.AnswerID, err)
	}
	return e, nil
}

// GetExchange returns a logged answer of the tenant; kb.ErrNotFound when there is none, or
// when it is another tenant's.
func (s *Store) GetExchange(ctx context.Context, tenantID int64, answerID string) (kb.Exchange, error) {
	e, err := scanExchange(s.db.QueryRow(ctx, `SELECT `+exchangeColumns+` FROM exchanges
		WHERE tenant_id = $1 AND answer_id = $2`, tenantID, answerID))
	if err != nil {
		return e, fmt.Errorf("store: answer %q: %w", answerID, interpret(err))
	}
	return e, nil
}

// SessionExchanges returns the latest limit exchanges of a conversation, newest first
// (limit defaults to 20, at most 500).
func (s *Store) SessionExchanges(ctx context.Context, kbID int64, sessionID string, limit int) ([]kb.Exchange, error) {
	if limit <= 0 || limit > 500 {
		limit = 20
	}
	rows, err := s.db.Query(ctx, `SELECT `+exchangeColumns+` FROM exchanges
		WHERE kb_id = $1 AND session_id = $2
		ORDER BY created_at DESC, answer_id DESC LIMIT $3`, kbID, sessionID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: exchanges of session %q: %w", sessionID, interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Exchange, error) { return scanExchange(r) })
	if err != nil {
		return nil, fmt.Errorf("store: exchanges of session %q: %w", sessionID, interpret(err))
	}
	return out, nil
}

// AddFeedback records a verdict on a logged answer of f.TenantID, after
// kb.NormalizeFeedback. kb.ErrNotFound when the answer id is unknown in that tenant.
func (s *Store) AddFeedback(ctx context.Context, f kb.Feedback) error {
	f, err := kb.NormalizeFeedback(f)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `
		INSERT INTO feedback (answer_id, tenant_id, helpful, comment)
		SELECT answer_id, tenant_id, $3, $4 FROM exchanges WHERE answer_id = $1 AND tenant_id = $2`,
		f.AnswerID, f.TenantID, f.Helpful, f.Comment)
	if err != nil {
		return fmt.Errorf("store: feedback on answer %q: %w", f.AnswerID, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: feedback on answer %q: %w", f.AnswerID, kb.ErrNotFound)
	}
	return nil
}
