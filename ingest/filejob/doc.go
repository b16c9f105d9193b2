// Package filejob is the body of an upload job: it reads the uploaded file with
// ingest.ReadFile and writes its documents through ingest.Pipeline, reporting progress
// (pages parsed, documents written, chunks embedded) to the job queue in internal/jobs.
// Each document lands atomically; a job that is retried or resumed after a restart re-runs
// the file, and documents already written come back unchanged (same content hash).
package filejob
