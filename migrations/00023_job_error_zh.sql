-- +goose Up
-- A job's final error in Chinese next to the English one (error): messages travel as two
-- fields, never as one "en / zh" string. Jobs finished before keep their one string in
-- error and an empty error_zh.
ALTER TABLE ingest_jobs ADD COLUMN error_zh text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE ingest_jobs DROP COLUMN error_zh;
