package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

// LoopStats returns, for each knowledge base of the tenant (kbIDs nil: all of them) and each
// of the last days UTC days (today included, oldest first), what the answer log, the
// feedback and the gaps say: the figures of kb.DayStats.
func (s *Store) LoopStats(ctx context.Context, tenantID int64, kbIDs []int64, days int) ([]kb.DayStats, error) {
	if err := s.notCitus("statistics"); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
		WITH d AS (
		    SELECT day::date AS day, day AS day_start, day + interval '1 day' AS day_end
		    FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') - ($3::int - 1) * interval '1 day',
		                         date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS day),
		k AS (SELECT id, name FROM knowledge_bases WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))),
		since AS (SELECT (min(day_start) AT TIME ZONE 'UTC') AS t FROM d),
		x AS (
		    SELECT kb_id, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS questions,
		           count(*) FILTER (WHERE answered) AS answered,
		           count(*) FILTER (WHERE answered AND source = 'curated') AS curated,
		           count(*) FILTER (WHERE answered AND source = 'generated') AS generated,
		           count(*) FILTER (WHERE answered AND source = 'extractive') AS extractive,
		           count(*) FILTER (WHERE handoff) AS handoffs
		    FROM exchanges WHERE kb_id IN (SELECT id FROM k) AND created_at >= (SELECT t FROM since)
		    GROUP BY 1, 2),
		f AS (
		    SELECT e.kb_id, (e.created_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT f.answer_id) AS rated,
		           count(DISTINCT f.answer_id) FILTER (WHERE NOT f.helpful) AS down
		    FROM feedback f JOIN exchanges e ON e.answer_id = f.answer_id
		    WHERE e.kb_id IN (SELECT id FROM k) AND e.created_at >= (SELECT t FROM since)
		    GROUP BY 1, 2),
		h AS (
		    SELECT e.kb_id, (e.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS hits
		    FROM exchanges e JOIN gaps g ON g.kb_id = e.kb_id AND g.faq_id IS NOT NULL AND e.curated_ref = 'faq:' || g.faq_id
		    WHERE e.kb_id IN (SELECT id FROM k) AND e.created_at >= (SELECT t FROM since) AND e.created_at >= g.resolved_at
		    GROUP BY 1, 2)
		SELECT k.id, k.name, d.day::text,
		       coalesce(x.questions, 0), coalesce(x.answered, 0), coalesce(x.curated, 0), coalesce(x.generated, 0),
		       coalesce(x.extractive, 0), coalesce(x.handoffs, 0), coalesce(f.rated, 0), coalesce(f.down, 0),
		       (SELECT count(*) FROM gaps g WHERE g.kb_id = k.id AND g.created_at < (d.day_end AT TIME ZONE 'UTC')
		           AND NOT (g.resolved_at IS NOT NULL AND g.resolved_at < (d.day_end AT TIME ZONE 'UTC'))
		           AND NOT (g.dismissed_at IS NOT NULL AND g.dismissed_at < (d.day_end AT TIME ZONE 'UTC'))),
		       (SELECT count(*) FROM gaps g WHERE g.kb_id = k.id
		           AND g.created_at >= (d.day_start AT TIME ZONE 'UTC') AND g.created_at < (d.day_end AT TIME ZONE 'UTC')),
		       (SELECT count(*) FROM gaps g WHERE g.kb_id = k.id
		           AND g.resolved_at >= (d.day_start AT TIME ZONE 'UTC') AND g.resolved_at < (d.day_end AT TIME ZONE 'UTC')),
		       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM g.resolved_at - g.created_at) / 3600)
		        FROM gaps g WHERE g.kb_id = k.id
		           AND g.resolved_at >= (d.day_start AT TIME ZONE 'UTC') AND g.resolved_at < (d.day_end AT TIME ZONE 'UTC')),
		       coalesce(h.hits, 0)
		FROM k CROSS JOIN d
		LEFT JOIN x ON x.kb_id = k.id AND x.day = d.day
		LEFT JOIN f ON f.kb_id = k.id AND f.day = d.day
		LEFT JOIN h ON h.kb_id = k.id AND h.day = d.day
		ORDER BY k.name, d.day`, tenantID, kbIDs, days)
	if err != nil {
		return nil, fmt.Errorf("store: loop stats: %w", interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.DayStats, error) {
		var st kb.DayStats
		var curated, generated, extractive int
		err := r.Scan(&st.KBID, &st.KnowledgeBase, &st.Day, &st.Questions, &st.Answered, &curated, &generated, &extractive,
			&st.Handoffs, &st.Feedback, &st.ThumbsDown, &st.OpenGaps, &st.GapsOpened, &st.GapsResolved,
			&st.MedianResolveHrs, &st.ResolvedGapHits)
		st.AnsweredRate = ratio(st.Answered, st.Questions)
		st.CuratedShare = ratio(curated, st.Answered)
		st.GeneratedShare = ratio(generated, st.Answered)
		st.ExtractiveShare = ratio(extractive, st.Answered)
		st.HandoffRate = ratio(st.Handoffs, st.Questions)
		st.ThumbsDownRate = ratio(st.ThumbsDown, st.Feedback)
		if st.MedianResolveHrs != nil {
			v := float64(int64(*st.MedianResolveHrs*100+0.5)) / 100
			st.MedianResolveHrs = &v
		}
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: loop stats: %w", err)
	}
	return out, nil
}

// questionKey is the SQL form of a question that top lists group by: NFKC (full-width
// letters, digits and punctuation become half-width), lower case, without spaces and
// punctuation, so "E104 是什么故障？" and "e104是什么故障" count as one question.
const questionKey = `lower(regexp_replace(normalize(x.question, NFKC), '[[:space:][:punct:]。、，！？：；“”‘’（）《》「」【】…·～—]+', '', 'g'))`

// TopQuestions ranks the questions asked in the tenant's knowledge bases (kbIDs nil: all)
// over the last days UTC days (today included, as LoopStats counts them): the limit most
// asked, per knowledge base, or with unanswered the limit most often left unanswered.
func (s *Store) TopQuestions(ctx context.Context, tenantID int64, kbIDs []int64, days, limit int, unanswered bool) ([]kb.TopQuestion, error) {
	order := "count(*)"
	if unanswered {
		order = "count(*) FILTER (WHERE NOT x.answered)"
	}
	rows, err := s.db.Query(ctx, `
		WITH k AS (SELECT id, name FROM knowledge_bases WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))),
		x AS (
		    SELECT e.kb_id, e.question, e.answered FROM exchanges e
		    WHERE e.kb_id IN (SELECT id FROM k) AND e.question <> ''
		      AND e.created_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - ($3::int - 1) * interval '1 day') AT TIME ZONE 'UTC'),
		g AS (
		    SELECT x.kb_id, `+questionKey+` AS key, mode() WITHIN GROUP (ORDER BY x.question) AS question,
		           count(*) AS asked, count(*) FILTER (WHERE x.answered) AS answered, `+order+` AS rank
		    FROM x GROUP BY 1, 2)
		SELECT g.kb_id, k.name, g.question, g.asked, g.answered, g.asked - g.answered
		FROM g JOIN k ON k.id = g.kb_id
		WHERE g.key <> '' AND g.rank > 0
		ORDER BY g.rank DESC, g.asked DESC, g.question, g.kb_id LIMIT $4`, tenantID, kbIDs, days, limit)
	if err != nil {
		return nil, fmt.Errorf("store: top questions: %w", interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.TopQuestion, error) {
		var q kb.TopQuestion
		err := r.Scan(&q.KBID, &q.KnowledgeBase, &q.Question, &q.Count, &q.Answered, &q.Unanswered)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: top questions: %w", err)
	}
	return out, nil
}

// ratio is n/d rounded to 3 places, 0 when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(int64(float64(n)/float64(d)*1000+0.5)) / 1000
}

// EachConversation calls fn with every logged exchange matching f, oldest first, and
// stops at fn's first error.
func (s *Store) EachConversation(ctx context.Context, f kb.ConversationFilter, fn func(kb.Exchange) error) error {
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.db.Query(ctx, `
		SELECT answer_id, kb_id, session_id, channel, customer_id, question, rewritten_query, language, answer,
		       source, answered, handoff, handoff_reason, confidence, curated_ref, latency_ms, created_at
		FROM exchanges WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR kb_id = ANY($2))
		  AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		ORDER BY created_at, answer_id`, f.TenantID, f.KBIDs, since, until)
	if err != nil {
		return fmt.Errorf("store: export conversations: %w", interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		e := kb.Exchange{TenantID: f.TenantID}
		if err := rows.Scan(&e.AnswerID, &e.KBID, &e.SessionID, &e.Channel, &e.CustomerID, &e.Question, &e.RewrittenQuery,
			&e.Language, &e.Answer, &e.Source, &e.Answered, &e.Handoff, &e.HandoffReason, &e.Confidence, &e.CuratedRef,
			&e.LatencyMS, &e.CreatedAt); err != nil {
			return fmt.Errorf("store: export conversations: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export conversations: %w", err)
	}
	return nil
}

// ReviewItems lists what awaits an operator's review besides gaps, in the tenant's
// knowledge bases (kbIDs nil: all): documents held for review (Q&A mined from tickets),
// approved or rejected through the documents' approve and reject routes, and curated
// answers flagged because a document they cited was re-ingested or deleted (saving the
// FAQ again clears the flag).
func (s *Store) ReviewItems(ctx context.Context, tenantID int64, kbIDs []int64, limit int) ([]kb.ReviewItem, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `
		SELECT * FROM (
		    SELECT 'document' AS type, d.kb_id, d.id, coalesce(nullif(d.title, ''), d.external_id), d.kind,
		           coalesce(nullif(d.status_detail, ''), 'held for review'),
		           CASE WHEN d.status_detail = '' THEN '等待审核' ELSE d.status_detail_zh END, d.updated_at
		    FROM documents d JOIN knowledge_bases k ON k.id = d.kb_id
		    WHERE k.tenant_id = $1 AND ($2::bigint[] IS NULL OR d.kb_id = ANY($2)) AND d.is_current AND d.status = 'review'
		    UNION ALL
		    SELECT 'faq', f.kb_id, f.id, f.question, '', f.review_reason, f.review_reason_zh, f.updated_at
		    FROM faqs f JOIN knowledge_bases k ON k.id = f.kb_id
		    WHERE k.tenant_id = $1 AND ($2::bigint[] IS NULL OR f.kb_id = ANY($2)) AND f.needs_review
		) r ORDER BY updated_at DESC, id DESC LIMIT $3`, tenantID, kbIDs, limit)
	if err != nil {
		return nil, fmt.Errorf("store: review items: %w", interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.ReviewItem, error) {
		var it kb.ReviewItem
		err := r.Scan(&it.Type, &it.KBID, &it.ID, &it.Title, &it.Kind, &it.Reason, &it.ReasonZh, &it.UpdatedAt)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: review items: %w", err)
	}
	return out, nil
}

// PurgeExchanges deletes the answer log (and its feedback) older than olderThan, in
// batches so no lock is held long, and blanks the customer and session ids of gap
// occurrences as old (the question stays: it is the operator's evidence). It returns how
// many exchanges it deleted.
func (s *Store) PurgeExchanges(ctx context.Context, olderThan time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, `DELETE FROM exchanges WHERE answer_id IN (
			SELECT answer_id FROM exchanges WHERE created_at < $1 LIMIT 5000)`, olderThan)
		if err != nil {
			return total, fmt.Errorf("store: purge exchanges: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			break
		}
	}
	if _, err := s.db.Exec(ctx, `UPDATE gap_occurrences SET customer_id = '', session_id = ''
		WHERE created_at < $1 AND (customer_id <> '' OR session_id <> '')`, olderThan); err != nil {
		return total, fmt.Errorf("store: purge occurrence ids: %w", err)
	}
	return total, nil
}
