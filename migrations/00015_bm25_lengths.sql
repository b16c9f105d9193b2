-- +goose Up
-- Okapi BM25 in the text leg (issue 12) needs each chunk's length in tokens, with repeats,
-- and each term's frequency in it. The frequencies travel in the tsvector's positions: the
-- writers now build tsv with one position per occurrence of a lexeme (it was built by
-- array_to_tsvector, which keeps no positions), and search reads a lexeme's frequency back
-- with ts_rank (see store.TextSearch). The length is this column, written with tsv.
-- Rows written before stay valid: without a length the search falls back to the number of
-- distinct lexemes, and without positions every frequency reads as 1; `zhiku reindex`
-- rewrites both exactly. Adding a nullable column without a default rewrites nothing.
ALTER TABLE chunks ADD COLUMN ntokens int;

-- +goose Down
ALTER TABLE chunks DROP COLUMN ntokens;
