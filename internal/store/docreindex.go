package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
)

// ErrDocumentChanged is returned by SwapDocumentIndex when the document's chunks or the
// knowledge base's model changed while its new index was computed: nothing was written.
var ErrDocumentChanged = kb.Conflict("the document or its knowledge base's model changed during the re-index; nothing was written", "重建期间文档或知识库的向量模型已变化，未写入任何内容")

// DocumentChunkSources returns every chunk of document docID (one version's row) of a
// knowledge base, in id order: what re-indexing one document reads.
func (s *Store) DocumentChunkSources(ctx context.Context, kbID, docID int64) ([]ChunkSource, error) {
	return s.chunkSources(ctx, `SELECT `+chunkSourceColumns+` FROM chunks c
		WHERE c.kb_id = $1 AND c.document_id = $2 ORDER BY c.id`, kbID, docID)
}

// SwapDocumentIndex gives document docID's chunks their new search tokens and vectors
// (tokens[i] and vecs[i] for ids[i], embedded with model) in one transaction, so a search
// sees either all the old index or all the new one, never a mix. It locks the knowledge
// base row, whose text_epoch it bumps (postingCache; shared in Citus mode, which caches no
// postings), so a re-embedding's swap and other documents' swaps wait (each is a few
// statements), and writes nothing, returning ErrDocumentChanged, when model is no longer the
// knowledge base's or the document's chunks are no longer exactly ids (a new version was
// written, or the document deleted, meanwhile).
func (s *Store) SwapDocumentIndex(ctx context.Context, kbID, docID int64, model string, ids []int64, tokens [][]string, vecs [][]float32) error {
	if len(ids) != len(tokens) || len(ids) != len(vecs) {
		return fmt.Errorf("store: swap document index: %d ids, %d token lists, %d vectors", len(ids), len(tokens), len(vecs))
	}
	return s.WithTx(ctx, func(tx *Store) error {
		var cur string
		lock := "FOR NO KEY UPDATE"
		if s.citus {
			lock = "FOR SHARE" // no postings cached, no epoch to bump
		}
		err := tx.db.QueryRow(ctx, `SELECT embedding_model FROM knowledge_bases WHERE id = $1 `+lock, kbID).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: knowledge base %d: %w", kbID, kb.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: swap document index: %w", interpret(err))
		}
		if cur != model {
			return ErrDocumentChanged
		}
		var have []int64
		// FOR UPDATE: a concurrent writer of the same rows waits until this swap commits.
		rows, err := tx.db.Query(ctx, `SELECT id FROM chunks WHERE kb_id = $1 AND document_id = $2 ORDER BY id FOR UPDATE`, kbID, docID)
		if err != nil {
			return fmt.Errorf("store: swap document index: %w", interpret(err))
		}
		if have, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("store: swap document index: %w", interpret(err))
		}
		want := slices.Clone(ids)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			return ErrDocumentChanged
		}
		batch := &pgx.Batch{}
		if !s.citus {
			batch.Queue(bumpTextEpochSQL, kbID)
		}
		for i, id := range ids {
			batch.Queue(`UPDATE chunks SET tsv = $3::tsvector, ntokens = $4, embedding = $5, embedding_model = $6 WHERE kb_id = $1 AND id = $2`,
				kbID, id, TSVector(tokens[i]), len(tokens[i]), pgvector.NewVector(vecs[i]), model)
		}
		if err := tx.db.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("store: swap index of document %d: %w", docID, interpret(err))
		}
		return nil
	})
}

// SetDocumentTaskStatus records a maintenance run over one document (task
// jobs.TaskReindexDocument) in kb_maintenance; DocumentTaskStatus reads it back, or
// kb.ErrNotFound when none ran.
func (s *Store) SetDocumentTaskStatus(ctx context.Context, kbID, docID int64, task string, t jobs.TaskStatus) error {
	return s.setTaskStatus(ctx, kbID, docID, task, t)
}

// DocumentTaskStatus implements jobs.Queue.
func (s *Store) DocumentTaskStatus(ctx context.Context, kbID, docID int64, task string) (jobs.TaskStatus, error) {
	return s.taskStatus(ctx, kbID, docID, task)
}
