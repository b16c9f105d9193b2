package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

// ListConversations returns a page of the answer log of q.TenantID (q.KBIDs nil: all its
// knowledge bases), newest first, and how many exchanges match in all. Text is matched
// literally ('%' and '_' included) and case-insensitively against the question, the
// rewritten query and the answer; Channel, Customer and Session exactly. Limit defaults
// to 50, at most 200.
func (s *Store) ListConversations(ctx context.Context, q kb.ConversationQuery) ([]kb.Exchange, int, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	q.Offset = max(q.Offset, 0)
	text := strings.ToLower(strings.TrimSpace(q.Text))
	for _, v := range []string{text, q.Channel, q.Customer, q.Session} {
		if strings.ContainsRune(v, 0) {
			return nil, 0, kb.Invalid("a filter contains a NUL character", "筛选条件含有空字符（NUL）")
		}
	}
	var since, until *time.Time
	if !q.Since.IsZero() {
		since = &q.Since
	}
	if !q.Until.IsZero() {
		until = &q.Until
	}
	args := []any{q.TenantID, q.KBIDs, since, until, text, q.Channel, q.Customer, q.Session, q.Answered}
	const where = `tenant_id = $1 AND ($2::bigint[] IS NULL OR kb_id = ANY($2))
		AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		AND ($5 = '' OR strpos(lower(question), $5) > 0 OR strpos(lower(rewritten_query), $5) > 0 OR strpos(lower(answer), $5) > 0)
		AND ($6 = '' OR channel = $6) AND ($7 = '' OR customer_id = $7) AND ($8 = '' OR session_id = $8)
		AND ($9::bool IS NULL OR answered = $9)`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM exchanges WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count conversations: %w", interpret(err))
	}
	rows, err := s.db.Query(ctx, `SELECT `+exchangeColumns+` FROM exchanges WHERE `+where+`
		ORDER BY created_at DESC, answer_id DESC LIMIT $10 OFFSET $11`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list conversations: %w", interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Exchange, error) { return scanExchange(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("store: list conversations: %w", interpret(err))
	}
	return out, total, nil
}

// ExchangePassages returns the passages of an exchange's logged results, in their order,
// with the text of the chunks still in knowledge base kbID (the others marked Gone).
func (s *Store) ExchangePassages(ctx context.Context, kbID int64, results []kb.ExchangeResult) ([]kb.ConversationPassage, error) {
	out := make([]kb.ConversationPassage, len(results))
	ids := make([]int64, len(results))
	for i, r := range results {
		out[i] = kb.ConversationPassage{ExchangeResult: r, Gone: true, SectionPath: []string{}}
		ids[i] = r.ChunkID
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `
		SELECT c.id, coalesce(nullif(d.title, ''), d.external_id), d.external_id, c.content, c.page, c.section_path
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.kb_id = $1 AND c.id = ANY($2)`, kbID, ids)
	if err != nil {
		return nil, fmt.Errorf("store: passages of an exchange: %w", interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p kb.ConversationPassage
		if err := rows.Scan(&id, &p.Title, &p.ExternalID, &p.Content, &p.Page, &p.SectionPath); err != nil {
			return nil, fmt.Errorf("store: passages of an exchange: %w", err)
		}
		for i := range out {
			if out[i].ChunkID == id {
				r := out[i].ExchangeResult
				out[i] = p
				out[i].ExchangeResult = r
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: passages of an exchange: %w", err)
	}
	return out, nil
}
