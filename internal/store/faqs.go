package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

const faqColumns = `id, kb_id, question, answer, similar_questions, tags, valid_from, valid_until, source, created_by, created_at, updated_at`

func scanFAQ(row pgx.Row) (kb.FAQ, error) {
	var f kb.FAQ
	err := row.Scan(&f.ID, &f.KBID, &f.Question, &f.Answer, &f.SimilarQuestions, &f.Tags, &f.ValidFrom, &f.ValidUntil,
		&f.Source, &f.CreatedBy, &f.CreatedAt, &f.UpdatedAt)
	if f.SimilarQuestions == nil {
		f.SimilarQuestions = []string{}
	}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	return f, err
}

// CreateFAQ adds a curated question to knowledge base f.KBID, after kb.NormalizeFAQ; the
// stored FAQ is returned. Its knowledge base's caches are dropped through the change
// notification (see ListenKBChanges).
func (s *Store) CreateFAQ(ctx context.Context, f kb.FAQ) (kb.FAQ, error) {
	f, err := kb.NormalizeFAQ(f)
	if err != nil {
		return f, err
	}
	out, err := scanFAQ(s.db.QueryRow(ctx, `
		INSERT INTO faqs (kb_id, question, answer, similar_questions, tags, valid_from, valid_until, source, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING `+faqColumns,
		f.KBID, f.Question, f.Answer, f.SimilarQuestions, f.Tags, f.ValidFrom, f.ValidUntil, f.Source, f.CreatedBy))
	if err != nil {
		return out, fmt.Errorf("store: create FAQ in knowledge base %d: %w", f.KBID, interpret(err))
	}
	return out, s.notifyChanged(ctx, f.KBID)
}

// GetFAQ returns FAQ id of knowledge base kbID, or kb.ErrNotFound (also when the FAQ
// belongs to another knowledge base).
func (s *Store) GetFAQ(ctx context.Context, kbID, id int64) (kb.FAQ, error) {
	f, err := scanFAQ(s.db.QueryRow(ctx, `SELECT `+faqColumns+` FROM faqs WHERE kb_id = $1 AND id = $2`, kbID, id))
	if err != nil {
		return f, fmt.Errorf("store: FAQ %d: %w", id, interpret(err))
	}
	return f, nil
}

// ListFAQs returns a page of a knowledge base's FAQs, newest first, and how many match in
// all. query, when not blank, keeps the FAQs whose question, answer or a similar question
// contains it, case-insensitively. limit defaults to 50, at most 500.
func (s *Store) ListFAQs(ctx context.Context, kbID int64, query string, limit, offset int) ([]kb.FAQ, int, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	offset = max(offset, 0)
	query = strings.ToLower(strings.TrimSpace(query))
	if strings.ContainsRune(query, 0) {
		return nil, 0, kb.Invalid("q contains a NUL character", "q 含有空字符（NUL）")
	}
	// strpos, not LIKE: the operator's text is matched literally, '%' and '_' included.
	const where = `kb_id = $1 AND ($2 = '' OR strpos(lower(question), $2) > 0 OR strpos(lower(answer), $2) > 0
		OR EXISTS (SELECT 1 FROM unnest(similar_questions) q WHERE strpos(lower(q), $2) > 0))`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM faqs WHERE `+where, kbID, query).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count FAQs: %w", interpret(err))
	}
	rows, err := s.db.Query(ctx, `SELECT `+faqColumns+` FROM faqs WHERE `+where+`
		ORDER BY id DESC LIMIT $3 OFFSET $4`, kbID, query, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list FAQs: %w", interpret(err))
	}
	faqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.FAQ, error) { return scanFAQ(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("store: list FAQs: %w", interpret(err))
	}
	return faqs, total, nil
}

// UpdateFAQ replaces the question, answer, similar questions, tags and validity window of
// FAQ id of knowledge base kbID with f's (after kb.NormalizeFAQ); its source, author and
// creation time stay. kb.ErrNotFound when no such FAQ is in that knowledge base.
func (s *Store) UpdateFAQ(ctx context.Context, kbID, id int64, f kb.FAQ) (kb.FAQ, error) {
	f, err := kb.NormalizeFAQ(f)
	if err != nil {
		return f, err
	}
	out, err := scanFAQ(s.db.QueryRow(ctx, `
		UPDATE faqs SET question = $3, answer = $4, similar_questions = $5, tags = $6,
		       valid_from = $7, valid_until = $8, updated_at = now()
		WHERE kb_id = $1 AND id = $2
		RETURNING `+faqColumns,
		kbID, id, f.Question, f.Answer, f.SimilarQuestions, f.Tags, f.ValidFrom, f.ValidUntil))
	if err != nil {
		return out, fmt.Errorf("store: update FAQ %d: %w", id, interpret(err))
	}
	return out, s.notifyChanged(ctx, kbID)
}

// DeleteFAQ removes FAQ id of knowledge base kbID; kb.ErrNotFound when there is none.
func (s *Store) DeleteFAQ(ctx context.Context, kbID, id int64) error {
	if s.citus {
		// What gaps.faq_id's ON DELETE SET NULL does on a single node (Citus cannot keep it).
		if _, err := s.db.Exec(ctx, `UPDATE gaps SET faq_id = NULL WHERE kb_id = $1 AND faq_id = $2`, kbID, id); err != nil {
			return fmt.Errorf("store: delete FAQ %d: %w", id, interpret(err))
		}
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM faqs WHERE kb_id = $1 AND id = $2`, kbID, id)
	if err != nil {
		return fmt.Errorf("store: delete FAQ %d: %w", id, interpret(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete FAQ %d: %w", id, kb.ErrNotFound)
	}
	return s.notifyChanged(ctx, kbID)
}

// CuratedEntries lists what the answer pipeline matches before it searches: every FAQ of
// the knowledge base valid now (Ref "faq:<id>"), then every entry of an ingested FAQ file
// (a current, ready document of kind faq; Ref "doc:<id>"), each in id order.
func (s *Store) CuratedEntries(ctx context.Context, kbID int64) ([]kb.Curated, error) {
	db := s.reader(ctx) // a replica when the store has them: the index is reloaded after each change
	rows, err := db.Query(ctx, `
		SELECT id, question, similar_questions, answer FROM faqs
		WHERE kb_id = $1 AND (valid_from IS NULL OR valid_from <= now()) AND (valid_until IS NULL OR valid_until > now())
		ORDER BY id`, kbID)
	if err != nil {
		return nil, fmt.Errorf("store: curated FAQs of knowledge base %d: %w", kbID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Curated, error) {
		var c kb.Curated
		err := r.Scan(&c.FAQID, &c.Question, &c.Similar, &c.Answer)
		c.Ref = fmt.Sprintf("faq:%d", c.FAQID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: curated FAQs of knowledge base %d: %w", kbID, err)
	}

	// An ingested entry is one document with one chunk, "问：<q>\n答：<a>" or "Q: <q>\nA: <a>"
	// (ingest.qaText); its question and similar questions are in the document's metadata.
	rows, err = db.Query(ctx, `
		SELECT d.id, coalesce(d.metadata->>'question', ''),
		       coalesce(ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(d.metadata->'similar_questions') = 'array'
		                      THEN d.metadata->'similar_questions' ELSE '[]'::jsonb END)), '{}'),
		       coalesce((SELECT c.content FROM chunks c WHERE c.kb_id = d.kb_id AND c.document_id = d.id ORDER BY c.ord LIMIT 1), '')
		FROM documents d
		WHERE d.kb_id = $1 AND d.kind = 'faq' AND d.is_current AND d.status = 'ready'
		ORDER BY d.id`, kbID)
	if err != nil {
		return nil, fmt.Errorf("store: curated documents of knowledge base %d: %w", kbID, err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Curated, error) {
		var c kb.Curated
		var content string
		err := r.Scan(&c.DocumentID, &c.Question, &c.Similar, &content)
		c.Ref = fmt.Sprintf("doc:%d", c.DocumentID)
		c.Answer = qaAnswer(content)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: curated documents of knowledge base %d: %w", kbID, err)
	}
	for _, c := range docs {
		if c.Question != "" && c.Answer != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// qaAnswer is the answer of a stored question/answer pair: the text after the first
// "\n答：" or "\nA: ", whichever comes first; the whole content when it has neither.
func qaAnswer(content string) string {
	best, skip := -1, 0
	for _, sep := range []string{"\n答：", "\nA: "} {
		if i := strings.Index(content, sep); i >= 0 && (best < 0 || i < best) {
			best, skip = i, len(sep)
		}
	}
	if best < 0 {
		return strings.TrimSpace(content)
	}
	return strings.TrimSpace(content[best+skip:])
}
