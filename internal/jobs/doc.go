// Package jobs runs ingestion jobs from a queue kept in PostgreSQL: the job types the API
// shows, the Queue contract the store implements, and Pool, a bounded set of workers.
//
// A worker claims a job (FOR UPDATE SKIP LOCKED) with a lease it renews while working,
// writing the job's progress each time. A job whose worker dies is claimed again once the
// lease runs out; on a graceful stop a worker hands its job back at once. Transient
// failures (the embedding provider's 429/5xx/timeouts) are retried with exponential
// backoff up to the job's attempt limit; anything else fails the job with its error.
// Cancelling a running job is noticed at the next lease renewal.
//
// What a job does is a Processor's business (ingest/filejob reads the file and writes its
// documents); this package imports neither ingest nor the store, so the API can use its
// types and cmd/zhiku wires the rest.
package jobs
