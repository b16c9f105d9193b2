-- +goose Up
-- An operator's rejection of a document held for review (a mined ticket Q&A) is its own
-- status, `rejected`, no longer `failed`, which now means only that ingestion failed.
-- Rows rejected before this migration (failed, with the "rejected by …" detail the review
-- route wrote) are renamed, so the API reads them as rejected too.
ALTER TABLE documents DROP CONSTRAINT documents_status_check;
ALTER TABLE documents ADD CONSTRAINT documents_status_check
    CHECK (status IN ('pending', 'processing', 'ready', 'review', 'rejected', 'failed', 'superseded'));
UPDATE documents SET status = 'rejected' WHERE status = 'failed' AND status_detail LIKE 'rejected by %';

-- +goose Down
UPDATE documents SET status = 'failed' WHERE status = 'rejected';
ALTER TABLE documents DROP CONSTRAINT documents_status_check;
ALTER TABLE documents ADD CONSTRAINT documents_status_check
    CHECK (status IN ('pending', 'processing', 'ready', 'review', 'failed', 'superseded'));
