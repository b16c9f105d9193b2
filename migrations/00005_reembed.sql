-- +goose Up
-- Re-embedding a knowledge base (`zhiku reembed`) writes the new model's vectors into a
-- shadow column while searches keep using embedding, and swaps them in one transaction
-- once every chunk has one. next_* record the target so an interrupted run resumes (rows
-- whose embedding_next is still NULL) and a run towards another target starts over.
-- retired_models lists models a knowledge base was re-embedded away from: a write still
-- carrying such vectors (an ingestion that embedded before the swap) is refused, so one
-- index never holds two models. Adding nullable columns rewrites no rows.
ALTER TABLE knowledge_bases
    ADD COLUMN next_embedder  text,
    ADD COLUMN next_model     text,
    ADD COLUMN next_dim       int CHECK (next_dim BETWEEN 1 AND 16000),
    ADD COLUMN retired_models text[] NOT NULL DEFAULT '{}';

-- index_text is the text a chunk was embedded and tokenized from, when the writer stored
-- it; NULL means "rebuild it from section_path and content" (re-index and re-embed do).
ALTER TABLE chunks
    ADD COLUMN embedding_next vector,
    ADD COLUMN index_text     text;

-- +goose Down
ALTER TABLE chunks DROP COLUMN index_text, DROP COLUMN embedding_next;
ALTER TABLE knowledge_bases DROP COLUMN retired_models, DROP COLUMN next_dim, DROP COLUMN next_model, DROP COLUMN next_embedder;
