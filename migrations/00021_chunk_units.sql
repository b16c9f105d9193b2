-- +goose Up
-- Question-sized indexing (small-to-big, issue 12). Customers ask short questions; chunks
-- are long, and a long chunk's vector sits far from a short question's (see
-- docs/research/hnsw-recall-and-latency.md). chunk_units holds question-sized texts that
-- point to their parent chunk: FAQ entries' questions and similar questions ('question'),
-- and, when a knowledge base asks for them, long chunks' sentences packed into short
-- passages ('passage'). The vector leg matches chunks and units (a chunk is its own
-- largest unit) and returns each parent chunk once, scored by its best match.
--
-- Units are partitioned by knowledge base like chunks (migration 8): chunk_units_kb_<id>,
-- created with the knowledge base, holding its own HNSW index. They are written in the
-- transaction that writes their chunks and go with them (the foreign key cascades), so a
-- re-ingest swaps them atomically and a deletion removes them.
CREATE SEQUENCE chunk_units_id_seq;

CREATE TABLE chunk_units (
    id             bigint NOT NULL DEFAULT nextval('chunk_units_id_seq'),
    kb_id          bigint NOT NULL,
    chunk_id       bigint NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('passage', 'question', 'generated')),
    content        text NOT NULL DEFAULT '',
    embedding      vector,
    embedding_next vector,
    PRIMARY KEY (kb_id, id),
    FOREIGN KEY (kb_id, chunk_id) REFERENCES chunks (kb_id, id) ON DELETE CASCADE
) PARTITION BY LIST (kb_id);
ALTER SEQUENCE chunk_units_id_seq OWNED BY chunk_units.id;

-- The cascade from a deleted chunk, and the cosine of a text-leg candidate, look units up
-- by their chunk.
CREATE INDEX chunk_units_chunk ON chunk_units (chunk_id);

-- Existing knowledge bases: a partition each, empty (search ranks as before) until their
-- FAQ entries are ingested again, with its HNSW index.
-- +goose StatementBegin
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT id, embedding_dim FROM knowledge_bases ORDER BY id LOOP
        EXECUTE format('CREATE TABLE chunk_units_kb_%s PARTITION OF chunk_units FOR VALUES IN (%s)', k.id, k.id);
        IF k.embedding_dim <= 2000 THEN
            EXECUTE format('CREATE INDEX chunk_units_embedding_kb_%s ON chunk_units_kb_%s USING hnsw ((embedding::vector(%s)) vector_cosine_ops) WITH (m = 16, ef_construction = 64)',
                           k.id, k.id, k.embedding_dim);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd
ANALYZE chunk_units;

-- +goose Down
DROP TABLE chunk_units;
