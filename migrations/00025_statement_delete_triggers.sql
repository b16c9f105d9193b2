-- Deleting many documents at once (a catalog-shaped knowledge base: one document per
-- product, hundreds of thousands of them, deleted with its knowledge base or by a catalog
-- import) ran two row triggers per document: a change notification and a lookup of the
-- curated answers citing it. They become statement triggers that read the deleted rows as
-- a transition table: one notification per knowledge base and one join per statement.
-- Inserts and updates keep their row triggers (one document at a time).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION zhiku_notify_kb_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zhiku_kb_changed', k::text) FROM (SELECT DISTINCT kb_id FROM gone) s(k);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION zhiku_flag_stale_faqs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each curated answer citing deleted current documents is flagged once, naming the
    -- lowest-numbered of them.
    UPDATE faqs f SET needs_review = true,
           review_reason = 'document ' || x.external_id || ' was deleted',
           review_reason_zh = '引用的文档 ' || x.external_id || ' 已被删除'
    FROM (SELECT DISTINCT ON (c.id) c.id, g.external_id
          FROM faqs c
          CROSS JOIN LATERAL unnest(c.source_documents) AS s(doc)
          JOIN gone g ON g.id = s.doc AND g.kb_id = c.kb_id AND g.is_current
          WHERE c.kb_id IN (SELECT DISTINCT kb_id FROM gone)
          ORDER BY c.id, s.doc) x
    WHERE f.id = x.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER documents_notify ON documents;
CREATE TRIGGER documents_notify AFTER INSERT OR UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
CREATE TRIGGER documents_notify_delete AFTER DELETE ON documents
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION zhiku_notify_kb_rows_deleted();

DROP TRIGGER faqs_notify ON faqs;
CREATE TRIGGER faqs_notify AFTER INSERT OR UPDATE ON faqs
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
CREATE TRIGGER faqs_notify_delete AFTER DELETE ON faqs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION zhiku_notify_kb_rows_deleted();

DROP TRIGGER documents_flag_stale_faqs_delete ON documents;
CREATE TRIGGER documents_flag_stale_faqs_delete AFTER DELETE ON documents
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION zhiku_flag_stale_faqs_deleted();

-- +goose Down
DROP TRIGGER documents_flag_stale_faqs_delete ON documents;
CREATE TRIGGER documents_flag_stale_faqs_delete AFTER DELETE ON documents
    FOR EACH ROW WHEN (OLD.is_current) EXECUTE FUNCTION zhiku_flag_stale_faqs();
DROP TRIGGER faqs_notify_delete ON faqs;
DROP TRIGGER faqs_notify ON faqs;
CREATE TRIGGER faqs_notify AFTER INSERT OR UPDATE OR DELETE ON faqs
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
DROP TRIGGER documents_notify_delete ON documents;
DROP TRIGGER documents_notify ON documents;
CREATE TRIGGER documents_notify AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION zhiku_notify_kb_changed();
DROP FUNCTION zhiku_flag_stale_faqs_deleted();
DROP FUNCTION zhiku_notify_kb_rows_deleted();
