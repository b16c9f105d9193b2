-- +goose Up
-- Curated answers, the answer log and feedback on it, and a change notification that lets
-- every server process drop its caches of a knowledge base whichever process wrote.

-- A FAQ is an operator's curated answer: matched against the question and its similar
-- phrasings, and returned as written. Validity windows let seasonal answers (a sale's
-- terms) come and go without an operator on duty.
CREATE TABLE faqs (
    id                bigserial PRIMARY KEY,
    kb_id             bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    question          text NOT NULL CHECK (question <> ''),
    answer            text NOT NULL CHECK (answer <> ''),
    similar_questions text[] NOT NULL DEFAULT '{}',
    tags              text[] NOT NULL DEFAULT '{}',
    valid_from        timestamptz,
    valid_until       timestamptz,
    source            text NOT NULL DEFAULT 'api', -- kb.FAQSourceAPI or kb.FAQSourceGap
    created_by        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from)
);
CREATE INDEX faqs_kb ON faqs (kb_id, id);

-- The answer log: one row per answered question, written in batches off the request path.
-- answer_id is the random id returned to the caller ("ans_<hex>"), which feedback quotes.
CREATE TABLE exchanges (
    answer_id       text PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kb_id           bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    session_id      text NOT NULL DEFAULT '',
    channel         text NOT NULL DEFAULT '',
    customer_id     text NOT NULL DEFAULT '',
    question        text NOT NULL DEFAULT '',
    rewritten_query text NOT NULL DEFAULT '',
    language        text NOT NULL DEFAULT '',
    answer          text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT '',
    answered        boolean NOT NULL DEFAULT false,
    handoff         boolean NOT NULL DEFAULT false,
    handoff_reason  text NOT NULL DEFAULT '',
    confidence      double precision NOT NULL DEFAULT 0,
    curated_ref     text NOT NULL DEFAULT '',
    results         jsonb NOT NULL DEFAULT '[]'::jsonb,
    latency_ms      double precision NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exchanges_kb_time ON exchanges (kb_id, created_at);
CREATE INDEX exchanges_kb_session ON exchanges (kb_id, session_id, created_at);

-- A verdict on one answer; an answer may collect several (a bot and, later, a human).
CREATE TABLE feedback (
    id         bigserial PRIMARY KEY,
    answer_id  text NOT NULL REFERENCES exchanges(answer_id) ON DELETE CASCADE,
    tenant_id  bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    helpful    boolean NOT NULL,
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_answer ON feedback (answer_id);

-- Every change to a knowledge base, its documents or its FAQs notifies channel
-- zhiku_kb_changed with the knowledge base's id, when the transaction commits (see
-- store.ListenKBChanges). PostgreSQL folds identical notifications of one transaction into
-- one, so a row-level trigger costs a bulk write one notification, not one per row.
-- +goose StatementBegin
CREATE FUNCTION zhiku_notify_kb_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF TG_TABLE_NAME = 'knowledge_bases' THEN
        IF TG_OP = 'DELETE' THEN changed := OLD.id; ELSE changed := NEW.id; END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN changed := OLD.kb_id; ELSE changed := NEW.kb_id; END IF;
    END IF;
    PERFORM pg_notify('zhiku_kb_changed', changed::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER faqs_notify AFTER INSERT OR UPDATE OR DELETE ON faqs
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
CREATE TRIGGER documents_notify AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
CREATE TRIGGER knowledge_bases_notify AFTER INSERT OR UPDATE OR DELETE ON knowledge_bases
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();

-- +goose Down
DROP TRIGGER knowledge_bases_notify ON knowledge_bases;
DROP TRIGGER documents_notify ON documents;
DROP TRIGGER faqs_notify ON faqs;
DROP FUNCTION zhiku_notify_kb_changed();
DROP TABLE feedback;
DROP TABLE exchanges;
DROP TABLE faqs;
