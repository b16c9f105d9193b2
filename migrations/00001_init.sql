-- +goose Up
-- The foundation schema. Later migrations extend it; they never rewrite it.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A knowledge base records the embedder and dimension its chunks were embedded with:
-- queries must use the same model, and its HNSW index is built on that dimension.
CREATE TABLE knowledge_bases (
    id              bigserial PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    description     text NOT NULL DEFAULT '',
    language        text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    embedder        text NOT NULL,
    embedding_model text NOT NULL,
    embedding_dim   int  NOT NULL CHECK (embedding_dim BETWEEN 1 AND 16000),
    settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- Documents are versioned: re-ingesting an external id adds a version and flips
-- is_current in the same transaction, so readers see the old chunks or the new ones.
CREATE TABLE documents (
    id             bigserial PRIMARY KEY,
    kb_id          bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    external_id    text NOT NULL,
    title          text NOT NULL DEFAULT '',
    kind           text NOT NULL,
    version        int  NOT NULL DEFAULT 1,
    is_current     boolean NOT NULL DEFAULT true,
    content_hash   text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processing', 'ready', 'review', 'failed', 'superseded')),
    status_detail  text NOT NULL DEFAULT '',
    source_name    text NOT NULL DEFAULT '',
    mime_type      text NOT NULL DEFAULT '',
    size_bytes     bigint NOT NULL DEFAULT 0,
    pages          int NOT NULL DEFAULT 0,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kb_id, external_id, version)
);
CREATE UNIQUE INDEX documents_current ON documents (kb_id, external_id) WHERE is_current;
CREATE INDEX documents_kb_hash ON documents (kb_id, content_hash);
CREATE INDEX documents_metadata ON documents USING gin (metadata jsonb_path_ops);

-- embedding has no fixed dimension so knowledge bases with different models share the
-- table; each knowledge base gets its own partial HNSW index on embedding::vector(dim)
-- (created with the knowledge base), and searches cast to the same expression.
-- tsv holds the Chinese-aware tokens (segmented in Go), built with array_to_tsvector.
-- Only current document versions have chunks; live is false while the document awaits
-- review, so every search filter is on this one table and fits inside the index scan.
-- metadata carries the document's kind and metadata too, for the same reason.
CREATE TABLE chunks (
    id              bigserial PRIMARY KEY,
    kb_id           bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    document_id     bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
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
    UNIQUE (document_id, ord)
);
CREATE INDEX chunks_document ON chunks (document_id);
CREATE INDEX chunks_kb_hash ON chunks (kb_id, content_hash);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX chunks_metadata ON chunks USING gin (metadata jsonb_path_ops);

-- API keys: only a SHA-256 of the key is stored (keys are 256-bit random, so a slow
-- hash adds nothing); prefix lets operators recognise a key without revealing it.
-- kb_ids NULL means every knowledge base of the tenant.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'uploader', 'bot')),
    kb_ids       bigint[],
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Admin UI users (operators, manufacturers); passwords hashed by the application.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    tenant_id     bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email         text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'uploader', 'bot')),
    kb_ids        bigint[],
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    UNIQUE (tenant_id, email)
);

-- Who changed what: knowledge bases, documents, keys, curated answers.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    tenant_id  bigint REFERENCES tenants(id) ON DELETE CASCADE,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, created_at DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE users;
DROP TABLE api_keys;
DROP TABLE chunks;
DROP TABLE documents;
DROP TABLE knowledge_bases;
DROP TABLE tenants;
