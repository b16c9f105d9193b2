-- +goose Up
-- Keep each chunk's full-text vector in its row. With the default EXTENDED storage a
-- long chunk's tsvector (1–2 KB), which compresses poorly, was moved to the TOAST table,
-- so scoring every full-text candidate fetched it back through the TOAST index, once per
-- query term: a 10k-chunk search touched 53,000 buffers and took 64 ms instead of 3.
-- MAIN keeps it inline (PostgreSQL moves the content and the vector out first when a row
-- is too large). New partitions copy this (CREATE TABLE … LIKE chunks INCLUDING STORAGE);
-- rows already written keep their layout until rewritten.
ALTER TABLE chunks ALTER COLUMN tsv SET STORAGE MAIN;

-- +goose Down
ALTER TABLE chunks ALTER COLUMN tsv SET STORAGE EXTENDED;
