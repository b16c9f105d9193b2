package store

import (
	"context"
	"fmt"
	"maps"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

const docColumns = `d.id, d.kb_id, d.external_id, d.title, d.kind, d.version, d.is_current, d.content_hash, d.status,
	d.status_detail, d.status_detail_zh, d.source_name, d.mime_type, d.size_bytes, d.pages, d.metadata, d.created_at, d.updated_at,
	(SELECT count(*) FROM chunks c WHERE c.kb_id = d.kb_id AND c.document_id = d.id)`

// docListColumns is docColumns with the chunk count of a joined n(document_id, n).
const docListColumns = `d.id, d.kb_id, d.external_id, d.title, d.kind, d.version, d.is_current, d.content_hash, d.status,
	d.status_detail, d.status_detail_zh, d.source_name, d.mime_type, d.size_bytes, d.pages, d.metadata, d.created_at, d.updated_at, coalesce(n.n, 0)`

// docReturning is docColumns for an INSERT's RETURNING clause: a new version has no
// chunks yet, and the caller knows how many it writes.
const docReturning = `d.id, d.kb_id, d.external_id, d.title, d.kind, d.version, d.is_current, d.content_hash, d.status,
	d.status_detail, d.status_detail_zh, d.source_name, d.mime_type, d.size_bytes, d.pages, d.metadata, d.created_at, d.updated_at, 0`

func scanDoc(row pgx.Row) (kb.Document, error) {
	var d kb.Document
	err := row.Scan(&d.ID, &d.KBID, &d.ExternalID, &d.Title, &d.Kind, &d.Version, &d.IsCurrent, &d.ContentHash,
		&d.Status, &d.StatusDetail, &d.StatusDetailZh, &d.SourceName, &d.MimeType, &d.SizeBytes, &d.Pages, &d.Metadata,
		&d.CreatedAt, &d.UpdatedAt, &d.Chunks)
	if d.Metadata == nil {
		d.Metadata = map[string]any{}
	}
	return d, err
}

// ReplaceDocument makes d (with its chunks) the current version of d.ExternalID in d.KBID,
// in one transaction: readers see the old version's chunks or the new ones, never a mix or
// nothing. Previous versions' rows stay for audit (their chunks go): the keepVersions most
// recent of them (at least 1); older ones are deleted. d.Status is ready (searchable) or
// review (held for an operator). When the current version has the same ContentHash nothing
// is written.
func (s *Store) ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string, keepVersions int) (kb.ReplaceResult, error) {
	res, err := s.ReplaceDocuments(ctx, d.KBID, []kb.DocumentWrite{{Doc: d, Chunks: chunks}}, model, keepVersions)
	if err != nil {
		return kb.ReplaceResult{}, err
	}
	return res[0], nil
}

// ReplaceDocuments is ReplaceDocument for several documents of one knowledge base in one
// transaction, in three round trips whatever their number: one batch takes the locks and
// reads the current versions, one writes every changed document, then the commit. The
// documents land together or not at all; results are in input order.
func (s *Store) ReplaceDocuments(ctx context.Context, kbID int64, writes []kb.DocumentWrite, model string, keepVersions int) ([]kb.ReplaceResult, error) {
	results := make([]kb.ReplaceResult, len(writes))
	if len(writes) == 0 {
		return results, nil
	}
	keepVersions = max(keepVersions, 1)
	// Locks are taken in external-id order, so concurrent groups cannot deadlock.
	order := make([]int, len(writes))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return writes[order[a]].Doc.ExternalID < writes[order[b]].Doc.ExternalID })

	err := s.WithTx(ctx, func(tx *Store) error {
		// The knowledge base is held FOR SHARE because a re-embed swaps its model under FOR
		// UPDATE of this row (see SwapReembed): chunks written first are re-embedded by it,
		// vectors of the model it retired are refused. Writers of the same document queue
		// up on its advisory lock; other documents proceed in parallel. The commit does not
		// wait for its WAL flush (synchronous_commit off): a crash can only lose the last
		// fraction of a second of documents, never half of one, and the synchronous commit
		// that closes an ingestion job or CLI run flushes them all, WAL being flushed in order.
		// Writes plan generically (plan_cache_mode auto): the connection's forced custom
		// plans exist for searches (see OpenPool), and re-planning every insert cost a
		// quarter of the time; partitions are pruned when a generic plan runs.
		var retired bool
		var dim int
		current := make([]*kb.Document, len(writes))
		twins := make([]*kb.Document, len(writes))
		lookups := &pgx.Batch{}
		lock := " FOR SHARE"
		if tx.citus {
			lock = "" // no re-embedding in Citus mode; a row lock on a reference table locks it on every node
		}
		lookups.Queue(`
			SELECT $2 = ANY(retired_models), embedding_dim,
			       set_config('synchronous_commit', 'off', true) || set_config('plan_cache_mode', 'auto', true) IS NULL
			FROM knowledge_bases WHERE id = $1`+lock, kbID, model).QueryRow(func(row pgx.Row) error {
			return row.Scan(&retired, &dim, new(bool))
		})
		// Citus cannot run an INSERT holding a subquery, nor read currval of a sequence on a
		// worker: in Citus mode the new documents' ids and versions are read first.
		var citusIDs []int64
		citusVersions := make([]int, len(writes))
		if tx.citus {
			lookups.Queue(`SELECT nextval('documents_id_seq') FROM generate_series(1, $1)`, len(writes)).Query(func(rows pgx.Rows) error {
				var err error
				citusIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				return err
			})
			for i, w := range writes {
				lookups.Queue(`SELECT coalesce(max(version), 0) FROM documents WHERE kb_id = $1 AND external_id = $2`, kbID, w.Doc.ExternalID).
					QueryRow(func(row pgx.Row) error { return row.Scan(&citusVersions[i]) })
			}
		}
		for _, i := range order {
			ext := writes[i].Doc.ExternalID
			lookups.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1::bigint::text || '/' || $2, 0))`, kbID, ext)
			lookups.Queue(`SELECT `+docColumns+` FROM documents d WHERE d.kb_id = $1 AND d.external_id = $2 AND d.is_current`, kbID, ext).
				Query(firstDocInto(&current[i]))
			if d := writes[i].Doc; d.Kind == kb.KindManual && d.ContentHash != "" {
				// The same file under another name is the same manual: keep one copy.
				lookups.Queue(`SELECT `+docColumns+` FROM documents d WHERE d.kb_id = $1 AND d.content_hash = $2
					AND d.is_current AND d.kind = 'manual' AND d.external_id <> $3 ORDER BY d.id LIMIT 1`, kbID, d.ContentHash, ext).
					Query(firstDocInto(&twins[i]))
			}
		}
		if err := tx.db.SendBatch(ctx, lookups).Close(); err != nil {
			return fmt.Errorf("store: lock documents of knowledge base %d: %w", kbID, interpret(err))
		}
		for _, w := range writes {
			for _, c := range w.Chunks {
				if c.Embedding != nil && len(c.Embedding) != dim {
					retired = true
				}
			}
		}
		if retired {
			return kb.Conflict(fmt.Sprintf("documents were embedded with model %q, which knowledge base %d no longer uses (re-embedded meanwhile); ingest them again", model, kbID), "知识库已切换向量模型，请重新导入")
		}

		// Every write goes in one pipelined batch: chunk rows find their document through
		// currval of the sequence the document insert just used.
		batch := &pgx.Batch{}
		for i, w := range writes {
			d, cur := w.Doc, current[i]
			d.KBID = kbID
			if cur != nil && d.ContentHash != "" && cur.ContentHash == d.ContentHash && (cur.Status == kb.StatusReady || cur.Status == kb.StatusReview || cur.Status == kb.StatusRejected) {
				results[i] = kb.ReplaceResult{Document: *cur, Unchanged: true}
				continue
			}
			if twin := twins[i]; twin != nil && cur == nil {
				results[i] = kb.ReplaceResult{Document: *twin, Unchanged: true, DuplicateOf: twin.ExternalID}
				continue
			}
			if d.Metadata == nil {
				d.Metadata = map[string]any{}
			}
			if cur != nil {
				results[i].Replaced = cur.Version
				batch.Queue(`DELETE FROM chunks WHERE kb_id = $1 AND document_id = $2`, kbID, cur.ID)
				batch.Queue(`UPDATE documents SET is_current = false, status = 'superseded', updated_at = now() WHERE id = $1 AND kb_id = $2`, cur.ID, kbID)
			}
			if tx.citus {
				tx.queueDocumentCitus(batch, &results[i], d, w.Chunks, model, citusIDs[i], citusVersions[i]+1)
			} else {
				batch.Queue(`
				INSERT INTO documents AS d (kb_id, external_id, title, kind, version, is_current, content_hash, status, status_detail,
				                            source_name, mime_type, size_bytes, pages, metadata, status_detail_zh)
				VALUES ($1, $2, $3, $4, (SELECT coalesce(max(version), 0) + 1 FROM documents WHERE kb_id = $1 AND external_id = $2),
				        true, $5, $6, $7, $8, $9, $10, $11, $12, $13)
				RETURNING `+docReturning, d.KBID, d.ExternalID, d.Title, d.Kind, d.ContentHash, d.Status, d.StatusDetail,
					d.SourceName, d.MimeType, d.SizeBytes, d.Pages, d.Metadata, d.StatusDetailZh).QueryRow(func(row pgx.Row) error {
					var err error
					results[i].Document, err = scanDoc(row)
					results[i].Document.Chunks = len(w.Chunks)
					return err
				})
				queueChunks(batch, d, w.Chunks, model)
			}
			if cur != nil {
				batch.Queue(`
					DELETE FROM documents WHERE kb_id = $1 AND external_id = $2 AND NOT is_current
					AND version < (SELECT max(version) FROM documents WHERE kb_id = $1 AND external_id = $2) - $3`,
					d.KBID, d.ExternalID, keepVersions)
			}
		}
		if batch.Len() == 0 {
			return nil
		}
		for _, cur := range current {
			if cur != nil {
				batch.Queue(promoteShadowed, kbID) // a replaced version may have served passages others share
				break
			}
		}
		if err := tx.db.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("store: write documents of knowledge base %d: %w", kbID, interpret(err))
		}
		return tx.notifyChanged(ctx, kbID)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// firstDocInto reads a batched query's first document, if any, into *dst.
func firstDocInto(dst **kb.Document) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Document, error) { return scanDoc(r) })
		if len(docs) > 0 {
			*dst = &docs[0]
		}
		return err
	}
}

// queueChunks adds a new document version's chunk rows to batch, after the statement that
// inserted the document (they take its id from currval). Each chunk's metadata also
// carries the document's kind and metadata, so search filters need only this table.
func queueChunks(batch *pgx.Batch, d kb.Document, chunks []kb.Chunk, model string) {
	live, dedupe := d.Status == kb.StatusReady, dedupes(d)
	for _, c := range chunks {
		meta, emb, section := chunkValues(d, c)
		batch.Queue(`
			INSERT INTO chunks (kb_id, document_id, ord, content, section_path, page, metadata, content_hash,
			                    embedding, embedding_model, tsv, ntokens, live, shadowed)
			VALUES ($1, currval('documents_id_seq'), $2, $3, $4, $5, $6, $7, $8, $9, $10::tsvector, $13, $11,
			        CASE WHEN $12 THEN $11 AND $7 <> '' AND EXISTS (SELECT 1 FROM chunks o WHERE o.kb_id = $1 AND o.content_hash = $7 AND o.live AND NOT o.shadowed) END)`,
			d.KBID, c.Ord, c.Content, section, c.Page, meta, c.ContentHash, emb, model, TSVector(c.Tokens), live, dedupe, len(c.Tokens))
		queueUnits(batch, d.KBID, c)
	}
}

// dedupes reports whether d's chunks are checked for passages the knowledge base already
// holds. Catalog cards, FAQ and ticket pairs are unique by construction: no duplicate check.
func dedupes(d kb.Document) bool {
	return d.Kind != kb.KindCatalog && d.Kind != kb.KindFAQ && d.Kind != kb.KindTickets
}

// chunkValues are chunk c's column values that come from its document d too: its metadata
// with the document's metadata and kind (so search filters need only the chunks table), its
// vector (NULL when it has none) and its heading path (never NULL).
func chunkValues(d kb.Document, c kb.Chunk) (meta map[string]any, emb any, section []string) {
	meta = maps.Clone(d.Metadata)
	maps.Copy(meta, c.Metadata)
	meta["kind"] = d.Kind
	if c.Embedding != nil {
		emb = pgvector.NewVector(c.Embedding)
	}
	section = c.SectionPath
	if section == nil {
		section = []string{}
	}
	return meta, emb, section
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
	// The page's chunk counts in one grouped scan of the knowledge base's partition, not a
	// subquery per document (each one set up a scan of every partition: 22 ms for the 81
	// documents of the demo data, the most of the documents screen's query time).
	rows, err := s.db.Query(ctx, `
		WITH page AS (
		    SELECT * FROM documents d WHERE d.kb_id = $1 AND d.is_current
		      AND ($2 = '' OR d.kind = $2) AND ($3 = '' OR d.status = $3)
		    ORDER BY d.updated_at DESC, d.id DESC LIMIT $4 OFFSET $5),
		n AS (
		    SELECT c.document_id, count(*) AS n FROM chunks c
		    WHERE c.kb_id = $1 AND c.document_id IN (SELECT id FROM page) GROUP BY 1)
		SELECT `+docListColumns+`
		FROM page d LEFT JOIN n ON n.document_id = d.id
		ORDER BY d.updated_at DESC, d.id DESC`, p.KBID, p.Kind, p.Status, p.Limit, p.Offset)
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
	err = s.WithTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `DELETE FROM documents WHERE kb_id = $1 AND external_id = $2`, kbID, d.ExternalID); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, promoteShadowed, kbID); err != nil {
			return err
		}
		return tx.notifyChanged(ctx, kbID)
	})
	if err != nil {
		return d, fmt.Errorf("store: delete document %q: %w", ref, err)
	}
	return d, nil
}

// promoteShadowed lets a shadowed copy serve each passage of knowledge base $1 whose served
// copy is gone (its document deleted, replaced, or out of service): identical chunks are
// searched once, and never lost while one document still holds them.
const promoteShadowed = `
	UPDATE chunks SET shadowed = false WHERE kb_id = $1 AND id IN (
		SELECT DISTINCT ON (s.content_hash) s.id FROM chunks s
		WHERE s.kb_id = $1 AND s.shadowed AND s.live AND s.content_hash <> ''
		  AND NOT EXISTS (SELECT 1 FROM chunks o WHERE o.kb_id = $1 AND o.content_hash = s.content_hash AND o.live AND NOT o.shadowed)
		ORDER BY s.content_hash, s.id)`

// SetDocumentStatus changes a current document's status whatever it is; chunks become
// searchable exactly when it is ready. Operators' decisions go through [Store.ChangeDocumentStatus].
func (s *Store) SetDocumentStatus(ctx context.Context, kbID, docID int64, status string, detail kb.Text) error {
	return s.ChangeDocumentStatus(ctx, kb.StatusChange{KBID: kbID, DocID: docID, To: status, Detail: detail.En, DetailZh: detail.Zh})
}

// ChangeDocumentStatus applies p in one statement conditioned on p.From, so that of two
// operators approving or rejecting the same document at once exactly one wins: the other,
// blocked on the row until the first commits, then finds another status and gets
// kb.ErrConflict. A missing document is kb.ErrNotFound.
func (s *Store) ChangeDocumentStatus(ctx context.Context, p kb.StatusChange) error {
	return s.WithTx(ctx, func(tx *Store) error {
		tag, err := tx.db.Exec(ctx, `UPDATE documents SET status = $3, status_detail = $4, status_detail_zh = $6, updated_at = now()
			WHERE kb_id = $1 AND id = $2 AND is_current AND ($5 = '' OR status = $5)`, p.KBID, p.DocID, p.To, p.Detail, p.From, p.DetailZh)
		if err != nil {
			return fmt.Errorf("store: set status of document %d: %w", p.DocID, interpret(err))
		}
		if tag.RowsAffected() == 0 {
			var now string
			err := tx.db.QueryRow(ctx, `SELECT status FROM documents WHERE kb_id = $1 AND id = $2 AND is_current`, p.KBID, p.DocID).Scan(&now)
			if err != nil {
				return fmt.Errorf("store: set status of document %d: %w", p.DocID, interpret(err))
			}
			return kb.Conflict(fmt.Sprintf("document %d is %s now, no longer %s (changed meanwhile)", p.DocID, now, p.From),
				fmt.Sprintf("文档状态已被他人修改（现为 %s，不再是 %s）", now, p.From))
		}
		// Chunks coming into service are shadowed where another document already serves the
		// same passage; chunks leaving it hand their passages over to shadowed copies.
		if _, err := tx.db.Exec(ctx, `
			UPDATE chunks c SET live = ($2 = 'ready'),
			       shadowed = CASE WHEN c.shadowed IS NULL THEN NULL ELSE ($2 = 'ready') AND c.content_hash <> '' AND EXISTS (SELECT 1 FROM chunks o WHERE o.kb_id = c.kb_id
			                  AND o.content_hash = c.content_hash AND o.live AND NOT o.shadowed AND o.document_id <> c.document_id) END
			WHERE kb_id = $3 AND document_id = $1`, p.DocID, p.To, p.KBID); err != nil {
			return err
		}
		if _, err = tx.db.Exec(ctx, promoteShadowed, p.KBID); err != nil {
			return err
		}
		return tx.notifyChanged(ctx, p.KBID)
	})
}

// ChunkTexts calls fn with the external id and indexed text (heading path, then content:
// what the full-text and vector indexes saw) of every live chunk of a knowledge base, the
// corpus a lexical baseline indexes, in id order.
func (s *Store) ChunkTexts(ctx context.Context, kbID int64, fn func(externalID, content string)) error {
	rows, err := s.db.Query(ctx, `
		SELECT d.external_id, concat_ws(E'\n', nullif(array_to_string(c.section_path, ' > '), ''), c.content)
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.kb_id = $1 AND c.live AND c.shadowed IS NOT TRUE ORDER BY c.id`, kbID)
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
