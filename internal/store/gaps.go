package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

// maxGapSamples bounds the distinct questions a gap keeps for display and for the lexical
// half of grouping; its occurrences keep every question.
const maxGapSamples = 20

// impactSQL ranks gaps by frequency × recency: the count, halved for every two days since
// the gap was last seen, so a burst today outranks a bigger but cold gap of last month.
const impactSQL = `(g.occurrences * power(0.5, extract(epoch FROM now() - g.last_seen) / 172800.0))`

const gapColumns = `g.id, g.tenant_id, g.kb_id, g.question, g.samples, g.occurrences, g.channels, g.status, g.assignee,
	g.faq_id, g.resolved_by, g.resolved_at, g.dismissed_reason, g.hits, g.last_hit_at, g.first_seen, g.last_seen,
	g.created_at, g.updated_at, ` + impactSQL + `,
	(SELECT count(*) FROM gap_occurrences o WHERE o.gap_id = g.id AND o.created_at >= now() - interval '24 hours'),
	(SELECT count(*) FROM gap_occurrences o WHERE o.gap_id = g.id AND o.created_at >= now() - interval '48 hours'
	                                           AND o.created_at < now() - interval '24 hours')`

func scanGap(row pgx.Row) (kb.Gap, error) {
	var g kb.Gap
	err := row.Scan(&g.ID, &g.TenantID, &g.KBID, &g.Question, &g.Samples, &g.Count, &g.Channels, &g.Status, &g.Assignee,
		&g.FAQID, &g.ResolvedBy, &g.ResolvedAt, &g.DismissedReason, &g.Hits, &g.LastHitAt, &g.FirstSeen, &g.LastSeen,
		&g.CreatedAt, &g.UpdatedAt, &g.Impact, &g.Last24h, &g.Previous24h)
	if g.Samples == nil {
		g.Samples = []string{}
	}
	if g.Channels == nil {
		g.Channels = []string{}
	}
	g.Impact = math.Round(g.Impact*1000) / 1000
	switch {
	case g.Last24h > g.Previous24h:
		g.Trend = "up"
	case g.Last24h < g.Previous24h:
		g.Trend = "down"
	default:
		g.Trend = "flat"
	}
	return g, err
}

// NearestOpenGaps returns up to n open gaps of knowledge base kbID, most similar to vec
// first (cosine of vec and each gap's mean vector). It scans the knowledge base's open
// gaps exactly: they are few, and a new gap must be found by the very next question.
func (s *Store) NearestOpenGaps(ctx context.Context, kbID int64, vec []float32, n int) ([]kb.GapCandidate, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, question, samples, occurrences, 1 - (embedding <=> $2)
		FROM gaps WHERE kb_id = $1 AND status = 'open' AND embedding IS NOT NULL AND vector_dims(embedding) = $4
		ORDER BY embedding <=> $2 LIMIT $3`, kbID, pgvector.NewVector(vec), n, len(vec))
	if err != nil {
		return nil, fmt.Errorf("store: nearest open gaps of knowledge base %d: %w", kbID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.GapCandidate, error) {
		var c kb.GapCandidate
		var cos *float64
		err := r.Scan(&c.ID, &c.Question, &c.Samples, &c.Count, &cos)
		if cos != nil && !math.IsNaN(*cos) {
			c.Cosine = *cos
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: nearest open gaps of knowledge base %d: %w", kbID, err)
	}
	return out, nil
}

// AddGapOccurrence files an occurrence under gap p.GapID, or under a new gap when GapID is
// 0 or that gap is no longer open. It returns the gap's id and whether anything was
// added: an answer already filed (a refusal that is later thumbed down) is not filed
// twice. Joining updates the gap's count, channels, samples and mean vector.
func (s *Store) AddGapOccurrence(ctx context.Context, p kb.NewOccurrence) (int64, bool, error) {
	o := p.Occurrence
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	if len(o.Results) == 0 {
		o.Results = []byte("[]")
	}
	var gapID int64
	added := false
	err := s.WithTx(ctx, func(tx *Store) error {
		if o.AnswerID != "" {
			var dup bool
			if err := tx.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM gap_occurrences WHERE kb_id = $1 AND answer_id = $2)`,
				o.KBID, o.AnswerID).Scan(&dup); err != nil {
				return err
			}
			if dup {
				return nil
			}
		}
		var err error
		gapID, err = tx.joinGap(ctx, p.GapID, o, p.Vector)
		if err != nil {
			return err
		}
		if gapID == 0 {
			err = tx.db.QueryRow(ctx, `
				INSERT INTO gaps (tenant_id, kb_id, question, samples, embedding, occurrences, channels, first_seen, last_seen)
				VALUES ($1, $2, $3, ARRAY[$3], $4, 1, CASE WHEN $5 = '' THEN '{}'::text[] ELSE ARRAY[$5] END, $6, $6)
				RETURNING id`, p.TenantID, o.KBID, o.Question, vectorOrNil(p.Vector), o.Channel, o.CreatedAt).Scan(&gapID)
			if err != nil {
				return err
			}
		}
		_, err = tx.db.Exec(ctx, `
			INSERT INTO gap_occurrences (gap_id, kb_id, answer_id, reason, question, rewritten_query, session_id, channel,
			                             customer_id, confidence, results, embedding, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			gapID, o.KBID, o.AnswerID, o.Reason, o.Question, o.RewrittenQuery, o.SessionID, o.Channel,
			o.CustomerID, o.Confidence, []byte(o.Results), vectorOrNil(p.Vector), o.CreatedAt)
		added = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: add gap occurrence: %w", interpret(err))
	}
	return gapID, added, nil
}

// joinGap adds o to open gap id and returns id, or returns 0 when id is 0 or not open.
func (s *Store) joinGap(ctx context.Context, id int64, o kb.GapOccurrence, vec []float32) (int64, error) {
	if id == 0 {
		return 0, nil
	}
	var count int
	var samples []string
	var mean *pgvector.Vector
	err := s.db.QueryRow(ctx, `SELECT occurrences, samples, embedding FROM gaps
		WHERE id = $1 AND kb_id = $2 AND status = 'open' FOR UPDATE`, id, o.KBID).Scan(&count, &samples, &mean)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(samples) < maxGapSamples && !containsFold(samples, o.Question) {
		samples = append(samples, o.Question)
	}
	emb := vectorOrNil(vec)
	if mean != nil && len(vec) == len(mean.Slice()) {
		emb = pgvector.NewVector(runningMean(mean.Slice(), count, vec))
	} else if mean != nil {
		emb = *mean
	}
	_, err = s.db.Exec(ctx, `
		UPDATE gaps SET occurrences = occurrences + 1, samples = $2, embedding = $3,
		       channels = CASE WHEN $4 = '' OR $4 = ANY(channels) THEN channels ELSE channels || $4 END,
		       first_seen = least(first_seen, $5), last_seen = greatest(last_seen, $5), updated_at = now()
		WHERE id = $1`, id, samples, emb, o.Channel, o.CreatedAt)
	return id, err
}

func runningMean(mean []float32, n int, v []float32) []float32 {
	out := make([]float32, len(mean))
	for i := range mean {
		out[i] = (mean[i]*float32(n) + v[i]) / float32(n+1)
	}
	return out
}

func vectorOrNil(v []float32) any {
	if len(v) == 0 {
		return nil
	}
	return pgvector.NewVector(v)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// RecordGapHits counts n answers given from FAQ faqID of knowledge base kbID on the gap
// that FAQ resolved, if any: the proof that a resolution works.
func (s *Store) RecordGapHits(ctx context.Context, kbID, faqID int64, n int) error {
	_, err := s.db.Exec(ctx, `UPDATE gaps SET hits = hits + $3, last_hit_at = now()
		WHERE kb_id = $1 AND faq_id = $2 AND status = 'resolved'`, kbID, faqID, n)
	if err != nil {
		return fmt.Errorf("store: record hits of FAQ %d: %w", faqID, err)
	}
	return nil
}

// ListGaps returns a page of gaps matching f and how many match in all.
func (s *Store) ListGaps(ctx context.Context, f kb.GapFilter) ([]kb.Gap, int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	f.Offset = max(f.Offset, 0)
	order := impactSQL + ` DESC, g.last_seen DESC, g.id DESC`
	switch f.Sort {
	case kb.GapSortCount:
		order = `g.occurrences DESC, g.last_seen DESC, g.id DESC`
	case kb.GapSortLastSeen:
		order = `g.last_seen DESC, g.id DESC`
	}
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	const where = `g.tenant_id = $1 AND ($2::bigint[] IS NULL OR g.kb_id = ANY($2)) AND ($3 = '' OR g.status = $3)
		AND ($4 = '' OR $4 = ANY(g.channels)) AND ($5::timestamptz IS NULL OR g.last_seen >= $5)`
	args := []any{f.TenantID, f.KBIDs, f.Status, f.Channel, since}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM gaps g WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count gaps: %w", interpret(err))
	}
	rows, err := s.db.Query(ctx, `SELECT `+gapColumns+` FROM gaps g WHERE `+where+`
		ORDER BY `+order+` LIMIT $6 OFFSET $7`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list gaps: %w", interpret(err))
	}
	gaps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Gap, error) { return scanGap(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("store: list gaps: %w", interpret(err))
	}
	return gaps, total, nil
}

// GetGap returns gap id of tenant tenantID, or kb.ErrNotFound (also for another tenant's).
func (s *Store) GetGap(ctx context.Context, tenantID, id int64) (kb.Gap, error) {
	g, err := scanGap(s.db.QueryRow(ctx, `SELECT `+gapColumns+` FROM gaps g WHERE g.tenant_id = $1 AND g.id = $2`, tenantID, id))
	if err != nil {
		return g, fmt.Errorf("store: gap %d: %w", id, interpret(err))
	}
	return g, nil
}

// GapOccurrences returns up to limit occurrences of gap gapID, newest first (limit
// defaults to 100, at most 1000).
func (s *Store) GapOccurrences(ctx context.Context, gapID int64, limit int) ([]kb.GapOccurrence, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, gap_id, kb_id, answer_id, reason, question, rewritten_query, session_id, channel, customer_id,
		       confidence, results, created_at
		FROM gap_occurrences WHERE gap_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, gapID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: occurrences of gap %d: %w", gapID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.GapOccurrence, error) {
		var o kb.GapOccurrence
		var results []byte
		err := r.Scan(&o.ID, &o.GapID, &o.KBID, &o.AnswerID, &o.Reason, &o.Question, &o.RewrittenQuery, &o.SessionID,
			&o.Channel, &o.CustomerID, &o.Confidence, &results, &o.CreatedAt)
		o.Results = results
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: occurrences of gap %d: %w", gapID, err)
	}
	return out, nil
}

// GapQuestions returns the distinct questions of gap gapID, the most frequent first.
func (s *Store) GapQuestions(ctx context.Context, gapID int64, limit int) ([]string, error) {
	rows, err := s.db.Query(ctx, `
		SELECT question FROM gap_occurrences WHERE gap_id = $1
		GROUP BY question ORDER BY count(*) DESC, min(created_at) LIMIT $2`, gapID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: questions of gap %d: %w", gapID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: questions of gap %d: %w", gapID, err)
	}
	return out, nil
}

// gapConflict tells a missing gap (kb.ErrNotFound) from one in the wrong status.
func (s *Store) gapConflict(ctx context.Context, tenantID, id int64, want string) error {
	var status string
	err := s.db.QueryRow(ctx, `SELECT status FROM gaps WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&status)
	if err != nil {
		return fmt.Errorf("store: gap %d: %w", id, interpret(err))
	}
	return kb.Conflict(fmt.Sprintf("gap %d is %s, not %s", id, status, want), fmt.Sprintf("该缺口状态为 %s，无法操作", status))
}

// AssignGap sets who works gap id (empty: nobody).
func (s *Store) AssignGap(ctx context.Context, tenantID, id int64, assignee string) (kb.Gap, error) {
	tag, err := s.db.Exec(ctx, `UPDATE gaps SET assignee = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, assignee)
	if err != nil {
		return kb.Gap{}, fmt.Errorf("store: assign gap %d: %w", id, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return kb.Gap{}, fmt.Errorf("store: assign gap %d: %w", id, kb.ErrNotFound)
	}
	return s.GetGap(ctx, tenantID, id)
}

// ClaimGapResolution moves open gap id to resolved (by whom, now), before its curated
// answer is written; the status condition in the UPDATE lets only one operator resolve
// it. kb.ErrConflict when it is not open.
func (s *Store) ClaimGapResolution(ctx context.Context, tenantID, id int64, by string) error {
	tag, err := s.db.Exec(ctx, `UPDATE gaps SET status = 'resolved', resolved_by = $3, resolved_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'open'`, tenantID, id, by)
	if err != nil {
		return fmt.Errorf("store: resolve gap %d: %w", id, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return s.gapConflict(ctx, tenantID, id, kb.GapOpen)
	}
	return nil
}

// ReopenGap undoes a claim whose curated answer could not be written.
func (s *Store) ReopenGap(ctx context.Context, tenantID, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE gaps SET status = 'open', resolved_by = '', resolved_at = NULL, faq_id = NULL, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'resolved'`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: reopen gap %d: %w", id, err)
	}
	return nil
}

// LinkGapFAQ records the curated answer that resolved gap id and the documents that
// answer rests on (its FAQ is flagged for review when one of them changes).
func (s *Store) LinkGapFAQ(ctx context.Context, tenantID, id, faqID int64, documentIDs []int64) error {
	if documentIDs == nil {
		documentIDs = []int64{}
	}
	return s.WithTx(ctx, func(tx *Store) error {
		tag, err := tx.db.Exec(ctx, `UPDATE gaps SET faq_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id, faqID)
		if err != nil {
			return fmt.Errorf("store: link gap %d to FAQ %d: %w", id, faqID, interpret(err))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store: link gap %d: %w", id, kb.ErrNotFound)
		}
		if len(documentIDs) > 0 {
			if _, err := tx.db.Exec(ctx, `UPDATE faqs SET source_documents = $2 WHERE id = $1`, faqID, documentIDs); err != nil {
				return fmt.Errorf("store: sources of FAQ %d: %w", faqID, interpret(err))
			}
		}
		return nil
	})
}

// DismissGap closes open gap id without an answer, giving the reason.
func (s *Store) DismissGap(ctx context.Context, tenantID, id int64, reason string) (kb.Gap, error) {
	tag, err := s.db.Exec(ctx, `UPDATE gaps SET status = 'dismissed', dismissed_reason = $3, dismissed_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'open'`, tenantID, id, reason)
	if err != nil {
		return kb.Gap{}, fmt.Errorf("store: dismiss gap %d: %w", id, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return kb.Gap{}, s.gapConflict(ctx, tenantID, id, kb.GapOpen)
	}
	return s.GetGap(ctx, tenantID, id)
}

// MergeGaps moves every occurrence of gaps ids[1:] into gap ids[0] and deletes them. All
// must be open gaps of one knowledge base of the tenant.
func (s *Store) MergeGaps(ctx context.Context, tenantID int64, ids []int64) (kb.Gap, error) {
	if err := s.notCitus("merge gaps"); err != nil {
		return kb.Gap{}, err
	}
	err := s.WithTx(ctx, func(tx *Store) error {
		var n, kbs int
		var open bool
		err := tx.db.QueryRow(ctx, `SELECT count(*), count(DISTINCT kb_id), coalesce(bool_and(status = 'open'), false)
			FROM (SELECT kb_id, status FROM gaps WHERE tenant_id = $1 AND id = ANY($2) FOR UPDATE) g`,
			tenantID, ids).Scan(&n, &kbs, &open)
		switch {
		case err != nil:
			return err
		case n != len(ids):
			return fmt.Errorf("store: merge gaps: %w", kb.ErrNotFound)
		case kbs != 1:
			return kb.Invalid("gaps of different knowledge bases cannot be merged", "不同知识库的缺口不能合并")
		case !open:
			return kb.Conflict("only open gaps can be merged", "只能合并未处理的缺口")
		}
		if _, err := tx.db.Exec(ctx, `UPDATE gap_occurrences SET gap_id = $1 WHERE gap_id = ANY($2)`, ids[0], ids[1:]); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `DELETE FROM gaps WHERE id = ANY($1)`, ids[1:]); err != nil {
			return err
		}
		return tx.refreshGap(ctx, ids[0])
	})
	if err != nil {
		return kb.Gap{}, fmt.Errorf("store: merge gaps %v: %w", ids, interpret(err))
	}
	return s.GetGap(ctx, tenantID, ids[0])
}

// SplitGap moves occurrences occurrenceIDs of open gap id into a new open gap, which it
// returns. At least one occurrence must stay behind.
func (s *Store) SplitGap(ctx context.Context, tenantID, id int64, occurrenceIDs []int64) (kb.Gap, error) {
	if err := s.notCitus("split gap"); err != nil {
		return kb.Gap{}, err
	}
	var newID int64
	err := s.WithTx(ctx, func(tx *Store) error {
		var kbID int64
		var status string
		err := tx.db.QueryRow(ctx, `SELECT kb_id, status FROM gaps WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&kbID, &status)
		if err != nil {
			return err
		}
		if status != kb.GapOpen {
			return kb.Conflict("only open gaps can be split", "只能拆分未处理的缺口")
		}
		var moving, total int
		if err := tx.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE id = ANY($2)), count(*) FROM gap_occurrences WHERE gap_id = $1`,
			id, occurrenceIDs).Scan(&moving, &total); err != nil {
			return err
		}
		switch {
		case moving != len(occurrenceIDs) || moving == 0:
			return kb.Invalid(fmt.Sprintf("occurrence_ids must name occurrences of gap %d", id), "occurrence_ids 必须属于该缺口")
		case moving == total:
			return kb.Invalid("at least one occurrence must stay in the gap", "至少保留一条问题")
		}
		if err := tx.db.QueryRow(ctx, `INSERT INTO gaps (tenant_id, kb_id, question)
			SELECT $1, $2, question FROM gap_occurrences WHERE id = ANY($3) ORDER BY created_at, id LIMIT 1
			RETURNING id`, tenantID, kbID, occurrenceIDs).Scan(&newID); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `UPDATE gap_occurrences SET gap_id = $1 WHERE id = ANY($2)`, newID, occurrenceIDs); err != nil {
			return err
		}
		if err := tx.refreshGap(ctx, id); err != nil {
			return err
		}
		return tx.refreshGap(ctx, newID)
	})
	if err != nil {
		return kb.Gap{}, fmt.Errorf("store: split gap %d: %w", id, interpret(err))
	}
	return s.GetGap(ctx, tenantID, newID)
}

// refreshGap recomputes a gap's aggregates from its occurrences (after merge or split).
// The representative question stays when it is still among them.
func (s *Store) refreshGap(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `
		WITH o AS (SELECT * FROM gap_occurrences WHERE gap_id = $1),
		     q AS (SELECT question, min(created_at) AS first FROM o GROUP BY question ORDER BY count(*) DESC, first LIMIT $2)
		UPDATE gaps g SET
		    occurrences = (SELECT count(*) FROM o),
		    first_seen = (SELECT min(created_at) FROM o),
		    last_seen = (SELECT max(created_at) FROM o),
		    channels = coalesce((SELECT array_agg(DISTINCT channel) FROM o WHERE channel <> ''), '{}'),
		    samples = coalesce((SELECT array_agg(question ORDER BY first) FROM q), '{}'),
		    embedding = (SELECT avg(embedding) FROM o),
		    question = CASE WHEN EXISTS (SELECT 1 FROM o WHERE o.question = g.question) THEN g.question
		                    ELSE (SELECT question FROM q LIMIT 1) END,
		    updated_at = now()
		WHERE g.id = $1`, id, maxGapSamples)
	return err
}
