-- +goose Up
-- Indexes no query uses, each costing an insert for every document or chunk written:
-- chunks_document duplicates the leading column of the unique (document_id, ord) index;
-- documents are filtered on chunks.metadata (which carries the document's), never on
-- documents.metadata; chunks are never looked up by content hash (documents are:
-- documents_kb_hash stays, for duplicate files).
DROP INDEX IF EXISTS chunks_document;
DROP INDEX IF EXISTS documents_metadata;
DROP INDEX IF EXISTS chunks_kb_hash;

-- +goose Down
CREATE INDEX chunks_kb_hash ON chunks (kb_id, content_hash);
CREATE INDEX documents_metadata ON documents USING gin (metadata jsonb_path_ops);
CREATE INDEX chunks_document ON chunks (document_id);
