-- +goose Up
-- A chunk identical to a live chunk of another document of the same knowledge base is
-- stored for its own document but shadowed: not searched, so the knowledge base serves the
-- passage once. When the served copy goes (its document deleted, replaced or taken out of
-- service), a shadowed copy takes over (see store.promoteShadowed). NULL marks chunks that
-- are unique by construction (catalog cards carry their SKU; FAQ and ticket pairs are keyed
-- by their question), which need no check and stay out of the lookup index.
ALTER TABLE chunks ADD COLUMN shadowed boolean DEFAULT false;
CREATE INDEX chunks_kb_hash_served ON chunks (kb_id, content_hash) WHERE live AND NOT shadowed;
CREATE INDEX chunks_kb_shadowed ON chunks (kb_id) WHERE shadowed;

-- +goose Down
DROP INDEX chunks_kb_shadowed;
DROP INDEX chunks_kb_hash_served;
ALTER TABLE chunks DROP COLUMN shadowed;
