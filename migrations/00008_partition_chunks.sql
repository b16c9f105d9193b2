-- +goose Up
-- chunks becomes a table partitioned by knowledge base: one partition, chunks_kb_<id>,
-- per knowledge base, created with it (store.CreateKB), holding that knowledge base's
-- HNSW index (no partial-index predicate) and its own share of every other index.
-- Why: with one table and a partial HNSW index per knowledge base, every statement on
-- chunks was planned against every knowledge base's index and every insert tested every
-- predicate, so costs grew with the number of knowledge bases; building one knowledge
-- base's index scanned (and write-locked) every tenant's chunks. A partition keeps each
-- knowledge base's statistics, indexes and index builds its own: a large first import can
-- load without the HNSW index and build it after, as pgvector recommends.
-- Chunk ids still come from one sequence, so they stay unique across partitions.
ALTER SEQUENCE chunks_id_seq OWNED BY NONE;

-- The composite key lets a chunk reference its document by (kb_id, id): the cascade that
-- follows a document's deletion then reaches only its knowledge base's partition.
ALTER TABLE documents ADD CONSTRAINT documents_kb_id_id UNIQUE (kb_id, id);

CREATE TABLE chunks_partitioned (
    id              bigint NOT NULL DEFAULT nextval('chunks_id_seq'),
    kb_id           bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    document_id     bigint NOT NULL,
    ord             int NOT NULL,
    content         text NOT NULL,
    section_path    text[] NOT NULL DEFAULT '{}',
    page            int NOT NULL DEFAULT 0,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    content_hash    text NOT NULL DEFAULT '',
    embedding       vector,
    embedding_model text NOT NULL DEFAULT '',
    tsv             tsvector NOT NULL DEFAULT ''::tsvector,
    live            boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    embedding_next  vector,
    index_text      text,
    shadowed        boolean DEFAULT false,
    PRIMARY KEY (kb_id, id),
    UNIQUE (document_id, ord, kb_id),
    FOREIGN KEY (kb_id, document_id) REFERENCES documents (kb_id, id) ON DELETE CASCADE
) PARTITION BY LIST (kb_id);

-- +goose StatementBegin
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT id FROM knowledge_bases ORDER BY id LOOP
        EXECUTE format('CREATE TABLE chunks_kb_%s PARTITION OF chunks_partitioned FOR VALUES IN (%s)', k.id, k.id);
    END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO chunks_partitioned (id, kb_id, document_id, ord, content, section_path, page, metadata, content_hash,
                                embedding, embedding_model, tsv, live, created_at, embedding_next, index_text, shadowed)
SELECT id, kb_id, document_id, ord, content, section_path, page, metadata, content_hash,
       embedding, embedding_model, tsv, live, created_at, embedding_next, index_text, shadowed
FROM chunks;

DROP TABLE chunks; -- with every knowledge base's partial HNSW index
ALTER TABLE chunks_partitioned RENAME TO chunks;
ALTER TABLE chunks RENAME CONSTRAINT chunks_partitioned_pkey TO chunks_pkey;
ALTER SEQUENCE chunks_id_seq OWNED BY chunks.id;

-- Each partition is one knowledge base: no kb_id column in these.
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX chunks_metadata ON chunks USING gin (metadata jsonb_path_ops);
CREATE INDEX chunks_hash_served ON chunks (content_hash) WHERE live AND NOT shadowed;

-- +goose StatementBegin
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT id, embedding_dim FROM knowledge_bases WHERE embedding_dim <= 2000 ORDER BY id LOOP
        EXECUTE format('CREATE INDEX chunks_embedding_kb_%s ON chunks_kb_%s USING hnsw ((embedding::vector(%s)) vector_cosine_ops) WITH (m = 16, ef_construction = 64)',
                       k.id, k.id, k.embedding_dim);
    END LOOP;
END
$$;
-- +goose StatementEnd
ANALYZE chunks;

-- +goose Down
-- +goose StatementBegin
DO $$ BEGIN RAISE EXCEPTION 'chunks cannot be un-partitioned in place: restore a backup taken before migration 8'; END $$;
-- +goose StatementEnd
