-- +goose Up
-- Vector indexes belong to each knowledge base's partition (migration 8). Before this
-- version, `zhiku bench retrieval --rebuild` built its index on the parent table, where it
-- outlived the benchmark and gave every later partition an empty child index. Drop any such
-- parent-level HNSW index (with its children); the partitions' own indexes are untouched.
-- +goose StatementBegin
DO $$
DECLARE
	idx regclass;
BEGIN
	FOR idx IN
		SELECT i.indexrelid::regclass FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		WHERE i.indrelid = 'chunks'::regclass AND a.amname = 'hnsw'
	LOOP
		EXECUTE format('DROP INDEX %s', idx);
	END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
