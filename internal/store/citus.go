package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	pgvector "github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/migrations"
)

// Citus mode (Options.Citus, docs/citus.md): what the store does differently.

// Citus reports whether the store runs on a Citus coordinator (Options.Citus).
func (s *Store) Citus() bool { return s.citus }

// ErrNotInCitus is what the operations Citus mode does not support yet return: re-embedding,
// bulk loading, the statistics report, merging and splitting gaps. The API answers it 501.
var ErrNotInCitus = kb.NotSupported(
	"not supported when Zhiku runs on Citus (ZHIKU_CITUS=1) yet; see docs/citus.md",
	"Zhiku 运行在 Citus 上（ZHIKU_CITUS=1）时暂不支持该操作，见 docs/citus.md")

// notCitus returns ErrNotInCitus in Citus mode, naming the operation.
func (s *Store) notCitus(op string) error {
	if s.citus {
		return fmt.Errorf("store: %s: %w", op, ErrNotInCitus)
	}
	return nil
}

// notifyChanged sends the change notification of knowledge base kbID (KBChangedChannel) in
// Citus mode, where the triggers that send it on one node cannot run (a trigger on a shard
// fires on a worker, out of the servers' hearing). On a transaction it goes out at commit.
// On a single node the triggers send it; this does nothing.
func (s *Store) notifyChanged(ctx context.Context, kbID int64) error {
	if !s.citus {
		return nil
	}
	if _, err := s.db.Exec(ctx, `SELECT pg_notify($1, $2::bigint::text)`, KBChangedChannel, kbID); err != nil {
		return fmt.Errorf("store: notify change of knowledge base %d: %w", kbID, err)
	}
	return nil
}

// ensureCitusVectorIndex builds the HNSW index of dimension dim on the distributed chunks
// table when it does not exist yet (the first knowledge base of a new dimension). It runs
// outside any transaction that has written: Citus runs the DDL on every shard in parallel.
func (s *Store) ensureCitusVectorIndex(ctx context.Context, dim int, p HNSWParams) error {
	if dim > maxHNSWDim {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrations.CitusVectorIndexName(dim)).Scan(&exists); err != nil {
		return fmt.Errorf("store: vector index of dimension %d: %w", dim, err)
	}
	if exists {
		return nil
	}
	if p.M <= 0 {
		p.M = DefaultHNSW.M
	}
	if p.EfConstruction <= 0 {
		p.EfConstruction = DefaultHNSW.EfConstruction
	}
	if _, err := s.db.Exec(ctx, migrations.CitusVectorIndexSQL(dim, p.M, p.EfConstruction)); err != nil {
		return fmt.Errorf("store: vector index of dimension %d: %w", dim, err)
	}
	return nil
}

// CitusVectorFilter is the predicate a Citus-mode vector search adds so the planner can use
// the partial per-dimension index (migrations.CitusVectorIndexSQL).
func CitusVectorFilter(alias string, dim int) string {
	return fmt.Sprintf(" AND vector_dims(%s.embedding) = %d", alias, dim)
}

// citusVectorSQL adds the per-dimension index's predicate to a vector search statement
// (vectorSQL's, whose WHERE begins with c.kb_id = $1).
func citusVectorSQL(sql string, dim int) string {
	return strings.Replace(sql, "WHERE c.kb_id = $1", "WHERE c.kb_id = $1"+CitusVectorFilter("c", dim), 1)
}

// citusSearchSettings are the pool's search settings (OpenPool) as SET LOCAL statements,
// which Citus passes on to the worker that runs a search's shard (set_config is not
// passed on); ef > 0 replaces the pool's ef_search.
func (s *Store) citusSearchSettings(ef int) []string {
	if ef <= 0 {
		ef = s.efSearch
	}
	if ef <= 0 {
		ef = DefaultEfSearch
	}
	return []string{
		`SET LOCAL hnsw.ef_search = ` + strconv.Itoa(ef),
		`SET LOCAL hnsw.iterative_scan = relaxed_order`,
		`SET LOCAL random_page_cost = 1.1`,
	}
}

// citusDocumentJoin joins a chunk's document on kb_id as well in Citus mode: Citus routes a
// join of two distributed tables to one worker only when they are joined on (or both filtered
// by) the distribution column.
func (s *Store) citusDocumentJoin() string {
	if s.citus {
		return " AND d.kb_id = c.kb_id"
	}
	return ""
}

// ensureCitusVectorIndexes builds the index of every embedding dimension in use that lacks
// one (serve runs it at start, as EnsureVectorIndexes on a single node).
func (s *Store) ensureCitusVectorIndexes(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT embedding_dim FROM knowledge_bases ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("store: list embedding dimensions: %w", err)
	}
	dims, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("store: list embedding dimensions: %w", err)
	}
	for _, d := range dims {
		if err := s.ensureCitusVectorIndex(ctx, d, s.hnsw); err != nil {
			return err
		}
	}
	return nil
}

// ExplainSearch returns the plans (EXPLAIN, costs off) of the two statements a search of
// knowledge base k runs: the vector leg for vec and the text leg for q, as VectorSearch and
// TextSearch send them, with the same settings. `make test-citus` reads from them that a
// search is routed to one worker and uses that shard's HNSW index.
func (s *Store) ExplainSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, q kb.TextQuery, limit int) (vector, text string, err error) {
	vsql, vargs, err := vectorSQL(k, vec, limit, kb.Filter{})
	if err != nil {
		return "", "", err
	}
	if s.citus {
		vsql = citusVectorSQL(vsql, k.EmbeddingDim)
	}
	tsql, targs, err := textSQL(k.ID, q, limit, kb.Filter{})
	if err != nil {
		return "", "", err
	}
	err = s.WithTx(ctx, func(tx *Store) error {
		var sets []string
		if s.citus {
			sets = s.citusSearchSettings(0)
		}
		for _, set := range append(sets, `SET LOCAL enable_sort = off`) {
			if _, err := tx.db.Exec(ctx, set); err != nil {
				return err
			}
		}
		explain := func(sql string, args []any) (string, error) {
			// Citus cannot fetch a worker's plan of a statement with parameters ("Could not get
			// remote plan"): the values go in as literals.
			sql, err := inlineArgs(sql, args)
			if err != nil {
				return "", err
			}
			rows, err := tx.db.Query(ctx, `EXPLAIN (COSTS OFF) `+sql)
			if err != nil {
				return "", err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			return strings.Join(lines, "\n"), err
		}
		if vector, err = explain(vsql, vargs); err != nil {
			return fmt.Errorf("store: explain vector search: %w", err)
		}
		if _, err := tx.db.Exec(ctx, `SET LOCAL enable_sort = on`); err != nil {
			return err
		}
		if text, err = explain(tsql, targs); err != nil {
			return fmt.Errorf("store: explain text search: %w", err)
		}
		return nil
	})
	return vector, text, err
}

// coordinatorTables are the tables on the Citus coordinator whose rows belong to a knowledge
// base but which keep no foreign key to knowledge_bases in Citus mode (migrations.Citus):
// what the cascade deletes on a single node, the store deletes there (feedback and job
// files follow by their own cascades).
var coordinatorTables = []string{"exchanges", "ingest_jobs"}

// deleteCoordinatorRows deletes knowledge base kbID's rows from coordinatorTables, in Citus
// mode (on a single node the foreign keys' cascades do it).
func (s *Store) deleteCoordinatorRows(ctx context.Context, kbID int64) error {
	if !s.citus {
		return nil
	}
	for _, t := range coordinatorTables {
		if _, err := s.db.Exec(ctx, `DELETE FROM `+t+` WHERE kb_id = $1`, kbID); err != nil {
			return fmt.Errorf("store: delete knowledge base %d from %s: %w", kbID, t, err)
		}
	}
	return nil
}

// queueDocumentCitus is ReplaceDocuments' insert of a new document version and its chunks
// in Citus mode: id and version are given (read beforehand: Citus runs no subquery in an
// INSERT, and a worker knows no currval), and the duplicate check that marks a chunk
// shadowed runs as one UPDATE after the document's chunks, with what row-by-row inserts
// see: a live chunk is shadowed when an older live unshadowed chunk of the knowledge base
// has its passage.
func (s *Store) queueDocumentCitus(batch *pgx.Batch, res *kb.ReplaceResult, d kb.Document, chunks []kb.Chunk, model string, id int64, version int) {
	batch.Queue(`
		INSERT INTO documents AS d (id, kb_id, external_id, title, kind, version, is_current, content_hash, status, status_detail,
		                            source_name, mime_type, size_bytes, pages, metadata, status_detail_zh)
		VALUES ($13, $1, $2, $3, $4, $14, true, $5, $6, $7, $8, $9, $10, $11, $12, $15)
		RETURNING `+docReturning, d.KBID, d.ExternalID, d.Title, d.Kind, d.ContentHash, d.Status, d.StatusDetail,
		d.SourceName, d.MimeType, d.SizeBytes, d.Pages, d.Metadata, id, version, d.StatusDetailZh).QueryRow(func(row pgx.Row) error {
		var err error
		res.Document, err = scanDoc(row)
		res.Document.Chunks = len(chunks)
		return err
	})
	live, dedupe := d.Status == kb.StatusReady, dedupes(d)
	for _, c := range chunks {
		meta, emb, section := chunkValues(d, c)
		batch.Queue(`
			INSERT INTO chunks (kb_id, document_id, ord, content, section_path, page, metadata, content_hash,
			                    embedding, embedding_model, tsv, ntokens, live, shadowed)
			VALUES ($1, $14, $2, $3, $4, $5, $6, $7, $8, $9, $10::tsvector, $13, $11, CASE WHEN $12 THEN false END)`,
			d.KBID, c.Ord, c.Content, section, c.Page, meta, c.ContentHash, emb, model, TSVector(c.Tokens), live, dedupe, len(c.Tokens), id)
	}
	if dedupe && live && len(chunks) > 0 {
		batch.Queue(`
			UPDATE chunks c SET shadowed = true
			WHERE c.kb_id = $1 AND c.document_id = $2 AND c.live AND c.shadowed = false AND c.content_hash <> ''
			  AND EXISTS (SELECT 1 FROM chunks o WHERE o.kb_id = $1 AND o.content_hash = c.content_hash
			              AND o.live AND NOT o.shadowed AND o.id < c.id)`, d.KBID, id)
	}
}

// inlineArgs replaces the parameters $1…$n of sql by literals of args (the types search
// statements use), last first so that $1 does not match the start of $10.
func inlineArgs(sql string, args []any) (string, error) {
	for i := len(args); i >= 1; i-- {
		var lit string
		switch v := args[i-1].(type) {
		case int:
			lit = strconv.Itoa(v)
		case int64:
			lit = strconv.FormatInt(v, 10)
		case float64:
			lit = "(" + strconv.FormatFloat(v, 'g', -1, 64) + ")::float8"
		case string:
			lit = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case pgvector.Vector:
			lit = "'" + v.String() + "'::vector"
		default:
			return "", fmt.Errorf("store: explain: parameter $%d of type %T", i, v)
		}
		sql = strings.ReplaceAll(sql, "$"+strconv.Itoa(i), lit)
	}
	return sql, nil
}
