-- +goose Up
-- Full-text lookups always filter by knowledge base: one GIN index over (kb_id, tsv)
-- (btree_gin lets GIN index the bigint) answers both conditions in a single scan,
-- instead of walking every knowledge base's postings for a term.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX chunks_kb_tsv ON chunks USING gin (kb_id, tsv);
DROP INDEX IF EXISTS chunks_tsv;

-- +goose Down
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
DROP INDEX IF EXISTS chunks_kb_tsv;
