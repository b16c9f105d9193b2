// Package jobs runs Zhiku's background work on River (github.com/riverqueue/river): upload
// ingestion, re-indexing after a dictionary change and periodic chores (log retention).
// It is a thin layer: River schedules, retries with backoff, rescues the jobs of a dead
// process, elects the one process that enqueues periodic jobs and spreads work over every
// worker process; this package says what each job does and keeps the records the API
// shows.
//
// An upload's record is its ingest_jobs row (the job id the API returns, progress,
// result, attempt errors, cancel). The row and its River job are inserted in one
// transaction. A running upload saves progress every Heartbeat and stops when a cancel
// is asked; on shutdown it is handed back without counting the attempt; transient failures
// (the embedding provider's 429/5xx/timeouts) are retried up to the job's attempt limit.
// Ingestion is idempotent per content hash and each document lands atomically, so a job
// River runs again (at-least-once) writes nothing twice and no half-written document is
// ever visible.
//
// What a job does is a Processor's or TaskFunc's business (ingest/filejob, kbmaint); this
// package imports neither ingest nor the store (the Queue interface is what it needs),
// so the API can use its types and cmd/zhiku wires the rest.
package jobs
