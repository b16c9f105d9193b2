// Package kb holds Zhiku's domain types and sentinel errors: knowledge bases, documents,
// chunks, search hits, API key roles. It imports only the standard library so that every
// other package (ingest, retrieval, closedloop, api, store) can share it without cycles.
package kb
