-- +goose Up
-- Jobs now run on River (its own tables come from rivermigrate, run by `zhiku migrate`).
-- ingest_jobs stays the record the API shows (ids, progress, result, errors, cancel) and
-- names the River job that runs it; River schedules, retries and rescues. Leases are
-- River's business now, so the lease columns and the claim index go.
ALTER TABLE ingest_jobs ADD COLUMN river_job_id bigint;
ALTER TABLE ingest_jobs DROP COLUMN worker;
ALTER TABLE ingest_jobs DROP COLUMN lease_until;
DROP INDEX ingest_jobs_runnable;
-- Unfinished jobs that no River job runs yet (queued by an older binary, or before this
-- migration): a starting worker finds them here and hands them to River.
CREATE INDEX ingest_jobs_unscheduled ON ingest_jobs (id)
    WHERE state IN ('queued', 'running') AND river_job_id IS NULL;

-- A knowledge base's latest background maintenance run (re-index after a dictionary
-- change, re-embedding), written by the River job that runs it so every server shows it.
CREATE TABLE kb_maintenance (
    kb_id       bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    task        text NOT NULL CHECK (task IN ('reindex', 'reembed')),
    state       text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    done        int NOT NULL DEFAULT 0,
    total       int NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kb_id, task)
);

-- +goose Down
DROP TABLE kb_maintenance;
DROP INDEX ingest_jobs_unscheduled;
ALTER TABLE ingest_jobs ADD COLUMN worker text NOT NULL DEFAULT '';
ALTER TABLE ingest_jobs ADD COLUMN lease_until timestamptz;
ALTER TABLE ingest_jobs DROP COLUMN river_job_id;
CREATE INDEX ingest_jobs_runnable ON ingest_jobs (run_at, id) WHERE state IN ('queued', 'running');
