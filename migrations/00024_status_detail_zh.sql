-- +goose Up
-- The status line of a document (how it was parsed or imported, who approved or rejected
-- it) in Chinese next to the English one: operators read Chinese, and a message travels as
-- two fields, never as one "en / zh" string. Documents written before keep their English
-- line and an empty status_detail_zh (readers fall back to the English); rewriting every
-- row of a large documents table here would hold the migration for minutes.
ALTER TABLE documents ADD COLUMN status_detail_zh text NOT NULL DEFAULT '';

-- The same for the reason a curated answer is flagged for review, which the trigger of
-- 00013 writes when a document it cites is re-ingested or deleted.
ALTER TABLE faqs ADD COLUMN review_reason_zh text NOT NULL DEFAULT '';

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zhiku_flag_stale_faqs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE faqs SET needs_review = true,
           review_reason = CASE WHEN TG_OP = 'DELETE'
               THEN 'document ' || OLD.external_id || ' was deleted'
               ELSE 'document ' || OLD.external_id || ' was re-ingested' END,
           review_reason_zh = CASE WHEN TG_OP = 'DELETE'
               THEN '引用的文档 ' || OLD.external_id || ' 已被删除'
               ELSE '引用的文档 ' || OLD.external_id || ' 已重新导入' END
    WHERE kb_id = OLD.kb_id AND source_documents @> ARRAY[OLD.id];
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zhiku_faq_reviewed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.needs_review AND OLD.needs_review
       AND (NEW.question IS DISTINCT FROM OLD.question OR NEW.answer IS DISTINCT FROM OLD.answer) THEN
        NEW.needs_review := false;
        NEW.review_reason := '';
        NEW.review_reason_zh := '';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zhiku_faq_reviewed() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zhiku_flag_stale_faqs() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE faqs DROP COLUMN review_reason_zh;
ALTER TABLE documents DROP COLUMN status_detail_zh;
