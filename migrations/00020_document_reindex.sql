-- +goose Up
-- One document's re-index (re-tokenize and re-embed its chunks, asked from the admin UI's
-- document detail) is a maintenance run too: kb_maintenance keeps the latest run per
-- knowledge base and task, and now per document for task reindex_document (doc_id 0 for
-- runs over a whole knowledge base). No foreign key to documents: a version's row may be
-- replaced while its run's record is still read.
ALTER TABLE kb_maintenance ADD COLUMN doc_id bigint NOT NULL DEFAULT 0;
ALTER TABLE kb_maintenance DROP CONSTRAINT kb_maintenance_pkey;
ALTER TABLE kb_maintenance ADD PRIMARY KEY (kb_id, task, doc_id);
ALTER TABLE kb_maintenance DROP CONSTRAINT kb_maintenance_task_check;
ALTER TABLE kb_maintenance ADD CONSTRAINT kb_maintenance_task_check
    CHECK (task IN ('reindex', 'reembed', 'reindex_document') AND (doc_id <> 0) = (task = 'reindex_document'));

-- +goose Down
DELETE FROM kb_maintenance WHERE doc_id <> 0;
ALTER TABLE kb_maintenance DROP CONSTRAINT kb_maintenance_task_check;
ALTER TABLE kb_maintenance ADD CONSTRAINT kb_maintenance_task_check CHECK (task IN ('reindex', 'reembed'));
ALTER TABLE kb_maintenance DROP CONSTRAINT kb_maintenance_pkey;
ALTER TABLE kb_maintenance ADD PRIMARY KEY (kb_id, task);
ALTER TABLE kb_maintenance DROP COLUMN doc_id;
