package store

import (
	"context"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

const docColumns = `d.id, d.kb_id, d.external_id, d.title, d.kind, d.version, d.is_current, d.content_hash, d.status,
	d.status_detail, d.source_name, d.mime_type, d.size_bytes, d.pages, d.metadata, d.created_at, d.updated_at,
	(SELECT count(*) FROM chunks c WHERE c.document_id = d.id)`

func scanDoc(row pgx.Row) (kb.Document, error) {
	var d kb.Document
	err := row.Scan(&d.ID, &d.KBID, &d.ExternalID, &d.Title, &d.Kind, &d.Version, &d.IsCurrent, &d.ContentHash,
		&d.Status, &d.StatusDetail, &d.SourceName, &d.MimeType, &d.SizeBytes, &d.Pages, &d.Metadata,
		&d.CreatedAt, &d.UpdatedAt, &d.Chunks)
	if d.Metadata == nil {
		d.Metadata = map[string]any{}
	}
	return d, err
}

// ReplaceDocument makes d (with its chunks) the current version of d.ExternalID in d.KBID,
// in one transaction: readers see the old version's chunks or the new ones, never a mix or
// nothing. Previous versions' rows stay for audit (their chunks go): the keepVersions most
// recent of them (at least 1); older ones are deleted. d.Status is ready (searchable) or review (held for an
// operator). When the current version has the same ContentHash nothing is written.
func (s *Store) ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string, keepVersions int) (kb.ReplaceResult, error) {
	var res kb.ReplaceResult
	if keepVersions < 1 {
		keepVersions = 1
	}
	err := s.WithTx(ctx, func(tx *Store) error {
		// One round trip: writers of the same document queue up (advisory lock) while other
		// documents proceed in parallel; the knowledge base is held FOR SHARE because a
		// re-embed swaps its model under FOR UPDATE of this row (see SwapReembed): chunks
		// written first are re-embedded by it, vectors of the model it retired are refused.
		// The commit does not wait for its WAL flush (synchronous_commit off): a crash can
		// only lose the last fraction of a second of documents, never half of one, and the
		// synchronous commit that closes an ingestion job or CLI run flushes them all, since
		// WAL is flushed in order. It multiplies single-row ingestion (catalogs) several-fold.
		var retired bool
		var dim int
		if err := tx.db.QueryRow(ctx, `
			SELECT $2 = ANY(retired_models), embedding_dim,
			       pg_advisory_xact_lock(hashtextextended($1::bigint::text || '/' || $3, 0)) IS NULL,
			       set_config('synchronous_commit', 'off', true) IS NULL
			FROM knowledge_bases WHERE id = $1 FOR SHARE`, d.KBID, model, d.ExternalID).Scan(&retired, &dim, new(bool), new(bool)); err != nil {
			return fmt.Errorf("store: lock knowledge base %d: %w", d.KBID, interpret(err))
		}
		for _, c := range chunks {
			if c.Embedding != nil && len(c.Embedding) != dim {
				retired = true
			}
		}
		if retired {
			return fmt.Errorf("%w: %q was embedded with model %q, which knowledge base %d no longer uses (re-embedded meanwhile); ingest it again / 知识库已切换向量模型，请重新导入", kb.ErrConflict, d.ExternalID, model, d.KBID)
		}
		cur, err := scanDoc(tx.db.QueryRow(ctx, `SELECT `+docColumns+` FROM documents d WHERE d.kb_id = $1 AND d.external_id = $2 AND d.is_current`, d.KBID, d.ExternalID))
		switch {
		case err == nil && d.ContentHash != "" && cur.ContentHash == d.ContentHash && (cur.Status == kb.StatusReady || cur.Status == kb.StatusReview):
			res = kb.ReplaceResult{Document: cur, Unchanged: true}
			return nil
		case err == nil:
			res.Replaced = cur.Version
			if _, err := tx.db.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, cur.ID); err != nil {
				return fmt.Errorf("store: drop chunks of %q v%d: %w", d.ExternalID, cur.Version, err)
			}
			if _, err := tx.db.Exec(ctx, `UPDATE documents SET is_current = false, status = 'superseded', updated_at = now() WHERE id = $1`, cur.ID); err != nil {
				return fmt.Errorf("store: supersede %q v%d: %w", d.ExternalID, cur.Version, err)
			}
		case interpret(err) != kb.ErrNotFound:
			return fmt.Errorf("store: current version of %q: %w", d.ExternalID, err)
		}
		if d.Metadata == nil {
			d.Metadata = map[string]any{}
		}
		row := tx.db.QueryRow(ctx, `
			INSERT INTO documents (kb_id, external_id, title, kind, version, is_current, content_hash, status, status_detail,
			                       source_name, mime_type, size_bytes, pages, metadata)
			VALUES ($1, $2, $3, $4, (SELECT coalesce(max(version), 0) + 1 FROM documents WHERE kb_id = $1 AND external_id = $2),
			        true, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING id`, d.KBID, d.ExternalID, d.Title, d.Kind, d.ContentHash, d.Status, d.StatusDetail,
			d.SourceName, d.MimeType, d.SizeBytes, d.Pages, d.Metadata)
		if err := row.Scan(&d.ID); err != nil {
			return fmt.Errorf("store: insert document %q: %w", d.ExternalID, interpret(err))
		}
		if err := tx.insertChunks(ctx, d, chunks, model); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `
			DELETE FROM documents WHERE kb_id = $1 AND external_id = $2 AND NOT is_current
			AND version < (SELECT max(version) FROM documents WHERE kb_id = $1 AND external_id = $2) - $3`,
			d.KBID, d.ExternalID, keepVersions); err != nil {
			return fmt.Errorf("store: prune versions of %q: %w", d.ExternalID, err)
		}
		res.Document, err = scanDoc(tx.db.QueryRow(ctx, `SELECT `+docColumns+` FROM documents d WHERE d.id = $1`, d.ID))
		return err
	})
	return res, err
}

// insertChunks writes a document's chunks in one pipelined batch. Each chunk's metadata
// also carries the document's kind and metadata, so search filters need only this table.
func (s *Store) insertChunks(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string) error {
	if len(chunks) == 0 {
		return nil
	}
	live := d.Status == kb.StatusReady
	batch := &pgx.Batch{}
	for _, c := range chunks {
		meta := maps.Clone(d.Metadata)
		maps.Copy(meta, c.Metadata)
		meta["kind"] = d.Kind
		var emb any
		if c.Embedding != nil {
			emb = pgvector.NewVector(c.Embedding)
		}
		section := c.SectionPath
		if section == nil {
			section = []string{}
		}
		tokens := c.Tokens
		if tokens == nil {
			tokens = []string{}
		}
		batch.Queue(`
			INSERT INTO chunks (kb_id, document_id, ord, content, section_path, page, metadata, content_hash,
			                    embedding, embedding_model, tsv, live)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, array_to_tsvector($11::text[]), $12)`,
			d.KBID, d.ID, c.Ord, c.Content, section, c.Page, meta, c.ContentHash, emb, model, tokens, live)
	}
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store: insert chunks of %q: %w", d.ExternalID, interpret(err))
	}
	return nil
}

// GetDocument returns the current version of a document by numeric id or external id.
func (s *Store) GetDocument(ctx context.Context, kbID int64, ref string) (kb.Document, error) {
	d, err := scanDoc(s.db.QueryRow(ctx, `SELECT `+docColumns+` FROM documents d
		WHERE d.kb_id = $1 AND (d.id::text = $2 OR d.external_id = $2) AND d.is_current
		ORDER BY (d.id::text = $2) DESC LIMIT 1`, kbID, ref))
	if err != nil {
		return d, fmt.Errorf("store: document %q: %w", ref, interpret(err))
	}
	return d, nil
}

// ListDocuments returns a page of current documents, newest first, and the total count.
// kind and status filter when not empty; limit defaults to 50, at most 500.
func (s *Store) ListDocuments(ctx context.Context, kbID int64, kind, status string, limit, offset int) ([]kb.Document, int, error) {
	p := struct {
		KBID          int64
		Kind, Status  string
		Limit, Offset int
	}{kbID, kind, status, limit, offset}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 50
	}
	var total int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE d.kb_id = $1 AND d.is_current
		AND ($2 = '' OR d.kind = $2) AND ($3 = '' OR d.status = $3)`, p.KBID, p.Kind, p.Status).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("store: count documents: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT `+docColumns+` FROM documents d WHERE d.kb_id = $1 AND d.is_current
		AND ($2 = '' OR d.kind = $2) AND ($3 = '' OR d.status = $3)
		ORDER BY d.updated_at DESC, d.id DESC LIMIT $4 OFFSET $5`, p.KBID, p.Kind, p.Status, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Document, error) { return scanDoc(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("store: list documents: %w", err)
	}
	return docs, total, nil
}

// DeleteDocument removes every version of a document (and its chunks).
func (s *Store) DeleteDocument(ctx context.Context, kbID int64, ref string) (kb.Document, error) {
	d, err := s.GetDocument(ctx, kbID, ref)
	if err != nil {
		return d, err
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM documents WHERE kb_id = $1 AND external_id = $2`, kbID, d.ExternalID); err != nil {
		return d, fmt.Errorf("store: delete document %q: %w", ref, err)
	}
	return d, nil
}

// SetDocumentStatus changes a current document's status; chunks become searchable exactly
// when it is ready (an operator approving reviewed tickets, for instance).
func (s *Store) SetDocumentStatus(ctx context.Context, kbID, docID int64, status, detail string) error {
	return s.WithTx(ctx, func(tx *Store) error {
		tag, err := tx.db.Exec(ctx, `UPDATE documents SET status = $3, status_detail = $4, updated_at = now()
			WHERE kb_id = $1 AND id = $2 AND is_current`, kbID, docID, status, detail)
		if err != nil {
			return fmt.Errorf("store: set status of document %d: %w", docID, interpret(err))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store: set status of document %d: %w", docID, kb.ErrNotFound)
		}
		_, err = tx.db.Exec(ctx, `UPDATE chunks SET live = ($2 = 'ready') WHERE document_id = $1`, docID, status)
		return err
	})
}

// ChunkTexts calls fn with the external id and indexed text (heading path, then content:
// what the full-text and vector indexes saw) of every live chunk of a knowledge base, the
// corpus a lexical baseline indexes, in id order.
func (s *Store) ChunkTexts(ctx context.Context, kbID int64, fn func(externalID, content string)) error {
	rows, err := s.db.Query(ctx, `
		SELECT d.external_id, concat_ws(E'\n', nullif(array_to_string(c.section_path, ' > '), ''), c.content)
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.kb_id = $1 AND c.live ORDER BY c.id`, kbID)
	if err != nil {
		return fmt.Errorf("store: chunk texts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ext, content string
		if err := rows.Scan(&ext, &content); err != nil {
			return fmt.Errorf("store: chunk texts: %w", err)
		}
		fn(ext, content)
	}
	return rows.Err()
}
