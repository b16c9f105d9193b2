-- +goose Up
-- Ingestion jobs: an upload is queued here and run by a bounded pool of workers in any
-- server process. Workers claim rows with FOR UPDATE SKIP LOCKED and hold a lease they
-- renew while working; a row whose lease ran out (its worker died) is claimed again, so a
-- job survives a restart. Re-running a file is safe: ingestion is idempotent per content
-- hash and each document is swapped atomically.
CREATE TABLE ingest_jobs (
    id               bigserial PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kb_id            bigint NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec             jsonb NOT NULL DEFAULT '{}'::jsonb,  -- file name, size, format, kind, metadata, replace
    progress         jsonb NOT NULL DEFAULT '{}'::jsonb,
    result           jsonb,
    error            text NOT NULL DEFAULT '',
    attempt_errors   text[] NOT NULL DEFAULT '{}',
    attempt          int NOT NULL DEFAULT 0,
    max_attempts     int NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    cancel_requested boolean NOT NULL DEFAULT false,
    run_at           timestamptz NOT NULL DEFAULT now(),
    worker           text NOT NULL DEFAULT '',
    lease_until      timestamptz,
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- What workers poll: only unfinished jobs, so the index stays small.
CREATE INDEX ingest_jobs_runnable ON ingest_jobs (run_at, id) WHERE state IN ('queued', 'running');
CREATE INDEX ingest_jobs_tenant_kb ON ingest_jobs (tenant_id, kb_id, id DESC);

-- The uploaded bytes wait here until their job ends, so a job can run in another process
-- or after a restart on another machine. The PDF password lives here too, not in the job
-- row, and goes away with the bytes.
CREATE TABLE ingest_job_files (
    job_id   bigint PRIMARY KEY REFERENCES ingest_jobs(id) ON DELETE CASCADE,
    data     bytea NOT NULL,
    password text NOT NULL DEFAULT ''
);
ALTER TABLE ingest_job_files ALTER COLUMN data SET STORAGE EXTERNAL; -- uploads are mostly compressed already

-- +goose Down
DROP TABLE ingest_job_files;
DROP TABLE ingest_jobs;
