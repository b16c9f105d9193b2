-- The text leg caches, per knowledge base and term, the chunks holding the term with their
-- frequencies and lengths (store.postingCache), and trusts them only while no chunk's
-- tokens were rewritten in place since they were read. Re-segmenting a knowledge base (a new dictionary) and re-indexing
-- a document rewrite tokens in place; each such write bumps text_epoch in the same
-- transaction, and a search reads it in the same statement as its scores.

-- +goose Up
ALTER TABLE knowledge_bases ADD COLUMN text_epoch bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE knowledge_bases DROP COLUMN text_epoch;
