// Package retrieval finds the passages that answer a question: it embeds the query, runs
// vector and Chinese-aware full-text search, fuses them, and optionally reranks. It
// depends only on internal/kb, internal/segment and its own consumer interfaces.
package retrieval
