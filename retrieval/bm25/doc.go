// Package bm25 is an in-memory Okapi BM25 index over [segment] tokens: the lexical
// baseline that `zhiku eval --baseline bm25` compares the database-backed search against,
// and a quality check that needs no database.
//
// Scoring is the classic Okapi form with Lucene's non-negative IDF,
// idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), and k1 = 1.2, b = 0.75 by default. Query
// tokens are counted once each, so a repeated word does not count twice.
package bm25
