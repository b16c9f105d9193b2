-- +goose Up
-- The closed loop: questions Zhiku answered badly or not at all (occurrences), grouped into
-- gaps that operators work: resolve with a curated answer, dismiss, merge, split. And the
-- staleness of curated answers: a FAQ that cited a document is flagged for review when the
-- document is re-ingested or deleted.

-- A gap is one missing piece of knowledge: look-alike questions grouped together. Its
-- embedding is the mean of its questions' vectors (the grouping embedder's, always the
-- same model, so no dimension is fixed here); samples are its first distinct questions,
-- which the lexical half of the grouping compares with. Only a knowledge base's open gaps
-- are compared, by an exact scan (gaps_kb_status): a few thousand rows at most.
CREATE TABLE gaps (
    id               bigserial PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kb_id            bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    question         text NOT NULL CHECK (question <> ''), -- the representative question
    samples          text[] NOT NULL DEFAULT '{}',
    embedding        vector,
    occurrences      integer NOT NULL DEFAULT 0,
    channels         text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    assignee         text NOT NULL DEFAULT '',
    faq_id           bigint REFERENCES faqs(id) ON DELETE SET NULL,
    resolved_by      text NOT NULL DEFAULT '',
    resolved_at      timestamptz,
    dismissed_reason text NOT NULL DEFAULT '',
    dismissed_at     timestamptz,
    hits             integer NOT NULL DEFAULT 0, -- answers from its curated FAQ after resolution
    last_hit_at      timestamptz,
    first_seen       timestamptz NOT NULL DEFAULT now(),
    last_seen        timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gaps_kb_status ON gaps (kb_id, status, last_seen DESC);
CREATE INDEX gaps_tenant_status ON gaps (tenant_id, status, last_seen DESC);
CREATE INDEX gaps_faq ON gaps (faq_id) WHERE faq_id IS NOT NULL;

-- An occurrence is one question that became (part of) a gap. answer_id links it to the
-- answer log while that is kept (no foreign key: the log is purged, and a search miss has
-- no answer); one answer makes at most one occurrence (a refusal later thumbed down too).
CREATE TABLE gap_occurrences (
    id              bigserial PRIMARY KEY,
    gap_id          bigint NOT NULL REFERENCES gaps(id) ON DELETE CASCADE,
    kb_id           bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    answer_id       text NOT NULL DEFAULT '',
    reason          text NOT NULL, -- kb.Reason*: unanswered, low_confidence, handoff, thumbs_down, search_miss
    question        text NOT NULL,
    rewritten_query text NOT NULL DEFAULT '',
    session_id      text NOT NULL DEFAULT '',
    channel         text NOT NULL DEFAULT '',
    customer_id     text NOT NULL DEFAULT '',
    confidence      double precision NOT NULL DEFAULT 0,
    results         jsonb NOT NULL DEFAULT '[]'::jsonb,
    embedding       vector,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gap_occurrences_gap ON gap_occurrences (gap_id, created_at);
CREATE INDEX gap_occurrences_kb_time ON gap_occurrences (kb_id, created_at);
CREATE UNIQUE INDEX gap_occurrences_answer ON gap_occurrences (kb_id, answer_id) WHERE answer_id <> '';

-- Staleness of curated answers. source_documents are the documents a FAQ's answer rests
-- on (an operator resolving a gap from its draft's passages); when one of them stops being
-- current (re-ingested: a new version replaces it) or is deleted, the FAQ is flagged.
-- Saving the FAQ again (its question or answer changed) clears the flag.
ALTER TABLE faqs
    ADD COLUMN source_documents bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN needs_review     boolean NOT NULL DEFAULT false,
    ADD COLUMN review_reason    text NOT NULL DEFAULT '';
CREATE INDEX faqs_source_documents ON faqs USING gin (source_documents);
CREATE INDEX faqs_needs_review ON faqs (kb_id) WHERE needs_review;

-- +goose StatementBegin
CREATE FUNCTION zhiku_flag_stale_faqs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE faqs SET needs_review = true,
           review_reason = CASE WHEN TG_OP = 'DELETE'
               THEN 'document ' || OLD.external_id || ' was deleted'
               ELSE 'document ' || OLD.external_id || ' was re-ingested' END
    WHERE kb_id = OLD.kb_id AND source_documents @> ARRAY[OLD.id];
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER documents_flag_stale_faqs_update AFTER UPDATE OF is_current ON documents
    FOR EACH ROW WHEN (OLD.is_current AND NOT NEW.is_current) EXECUTE FUNCTION zhiku_flag_stale_faqs();
CREATE TRIGGER documents_flag_stale_faqs_delete AFTER DELETE ON documents
    FOR EACH ROW WHEN (OLD.is_current) EXECUTE FUNCTION zhiku_flag_stale_faqs();

-- +goose StatementBegin
CREATE FUNCTION zhiku_faq_reviewed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.needs_review AND OLD.needs_review
       AND (NEW.question IS DISTINCT FROM OLD.question OR NEW.answer IS DISTINCT FROM OLD.answer) THEN
        NEW.needs_review := false;
        NEW.review_reason := '';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER faqs_reviewed BEFORE UPDATE ON faqs
    FOR EACH ROW EXECUTE FUNCTION zhiku_faq_reviewed();

-- +goose Down
DROP TRIGGER faqs_reviewed ON faqs;
DROP FUNCTION zhiku_faq_reviewed();
DROP TRIGGER documents_flag_stale_faqs_delete ON documents;
DROP TRIGGER documents_flag_stale_faqs_update ON documents;
DROP FUNCTION zhiku_flag_stale_faqs();
DROP INDEX faqs_needs_review;
DROP INDEX faqs_source_documents;
ALTER TABLE faqs DROP COLUMN review_reason, DROP COLUMN needs_review, DROP COLUMN source_documents;
DROP TABLE gap_occurrences;
DROP TABLE gaps;
