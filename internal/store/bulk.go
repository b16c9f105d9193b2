package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

// BulkChunk is one single-chunk document for BulkLoad.
type BulkChunk struct {
	ExternalID string
	Title      string
	Content    string
	Embedding  []float32
	Tokens     []string
	Metadata   map[string]any
	Units      []kb.Unit // its question-sized units
}

// BulkLoad writes many single-chunk documents at once with COPY, for benchmarks and large
// imports into an empty knowledge base: no versioning, no dedupe. The knowledge base's HNSW
// index is dropped first and rebuilt after the load (faster than maintaining it row by
// row); the rebuild time is returned.
func (s *Store) BulkLoad(ctx context.Context, k kb.KnowledgeBase, model string, items []BulkChunk, p HNSWParams) (IndexBuild, error) {
	var build IndexBuild
	if err := s.notCitus("bulk load"); err != nil {
		return build, err
	}
	err := s.WithTx(ctx, func(tx *Store) error {
		if err := tx.dropVectorIndexes(ctx, k.ID, false); err != nil {
			return err
		}
		if err := tx.bulkInsert(ctx, k, model, items); err != nil {
			return err
		}
		if err := tx.bulkUnits(ctx, k.ID, items); err != nil {
			return err
		}
		var err error
		build, err = tx.buildVectorIndex(ctx, k.ID, k.EmbeddingDim, p)
		return err
	})
	if err == nil {
		err = s.SettleBulk(ctx, k.ID)
	}
	return build, err
}

// BulkAppend writes single-chunk documents (and their units) with COPY in one transaction,
// as BulkLoad does, but leaves the indexes alone: a load of millions of chunks calls it batch
// after batch (from several connections at once if it likes) with the HNSW indexes dropped
// (DropVectorIndex), then builds them once (RebuildVectorIndex) and settles the partition
// (SettleBulk). External ids must be unique within a batch.
func (s *Store) BulkAppend(ctx context.Context, k kb.KnowledgeBase, model string, items []BulkChunk) error {
	return s.WithTx(ctx, func(tx *Store) error {
		if err := tx.bulkInsert(ctx, k, model, items); err != nil {
			return err
		}
		return tx.bulkUnits(ctx, k.ID, items)
	})
}

// bulkInsert is the COPY of BulkLoad and BulkAppend, inside the caller's transaction.
func (tx *Store) bulkInsert(ctx context.Context, k kb.KnowledgeBase, model string, items []BulkChunk) error {
	if _, err := tx.db.Exec(ctx, `CREATE TEMP TABLE bulk_chunks (
		external_id text, title text, content text, embedding vector, tsv text, ntokens int, metadata jsonb) ON COMMIT DROP`); err != nil {
		return err
	}
	rows := make([][]any, len(items))
	for i, it := range items {
		meta := it.Metadata
		if meta == nil {
			meta = map[string]any{}
		}
		meta["kind"] = kb.KindRecords
		rows[i] = []any{it.ExternalID, it.Title, it.Content, pgvector.NewVector(it.Embedding), TSVector(it.Tokens), len(it.Tokens), meta}
	}
	if _, err := tx.db.CopyFrom(ctx, pgx.Identifier{"bulk_chunks"},
		[]string{"external_id", "title", "content", "embedding", "tsv", "ntokens", "metadata"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("store: bulk copy: %w", err)
	}
	_, err := tx.db.Exec(ctx, `
		WITH docs AS (
			INSERT INTO documents (kb_id, external_id, title, kind, status, content_hash, metadata)
			SELECT $1, external_id, title, 'records', 'ready', md5(content), metadata FROM bulk_chunks
			RETURNING id, external_id)
		INSERT INTO chunks (kb_id, document_id, ord, content, section_path, metadata, content_hash, embedding, embedding_model, tsv, ntokens)
		SELECT $1, d.id, 0, b.content, ARRAY[b.title], b.metadata, md5(b.content), b.embedding, $2, b.tsv::tsvector, b.ntokens
		FROM bulk_chunks b JOIN docs d USING (external_id)`, k.ID, model)
	if err != nil {
		return fmt.Errorf("store: bulk insert: %w", interpret(err))
	}
	return nil
}

// bulkUnits writes the units of BulkLoad's and BulkAppend's chunks.
func (tx *Store) bulkUnits(ctx context.Context, kbID int64, items []BulkChunk) error {
	var rows [][]any
	for _, it := range items {
		for _, u := range it.Units {
			rows = append(rows, []any{it.ExternalID, u.Kind, u.Content, vectorArg(u.Embedding)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.db.Exec(ctx, `CREATE TEMP TABLE bulk_units (external_id text, kind text, content text, embedding vector) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.db.CopyFrom(ctx, pgx.Identifier{"bulk_units"}, []string{"external_id", "kind", "content", "embedding"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("store: bulk copy units: %w", err)
	}
	if _, err := tx.db.Exec(ctx, `
		INSERT INTO chunk_units (kb_id, chunk_id, kind, content, embedding)
		SELECT $1, c.id, u.kind, u.content, u.embedding FROM bulk_units u
		JOIN documents d ON d.kb_id = $1 AND d.external_id = u.external_id AND d.is_current
		JOIN chunks c ON c.kb_id = $1 AND c.document_id = d.id`, kbID); err != nil {
		return fmt.Errorf("store: bulk insert units: %w", interpret(err))
	}
	return nil
}

// DropVectorIndex drops knowledge base kbID's HNSW indexes (chunks' and units'), if it has
// them, before a bulk load; searches of the knowledge base are exact until RebuildVectorIndex.
func (s *Store) DropVectorIndex(ctx context.Context, kbID int64) error {
	return s.dropVectorIndexes(ctx, kbID, false)
}

// RebuildVectorIndex drops a knowledge base's HNSW index and builds it again with other
// parameters, the way BulkLoad builds it, and returns the build time. Searches of the
// knowledge base wait for it (the build holds its partition); it is for benchmarks and
// maintenance windows.
func (s *Store) RebuildVectorIndex(ctx context.Context, k kb.KnowledgeBase, p HNSWParams) (IndexBuild, error) {
	var build IndexBuild
	err := s.WithTx(ctx, func(tx *Store) error {
		if err := tx.dropVectorIndexes(ctx, k.ID, false); err != nil {
			return err
		}
		var err error
		build, err = tx.buildVectorIndex(ctx, k.ID, k.EmbeddingDim, p)
		return err
	})
	return build, err
}

// IndexBuild is how long building a knowledge base's HNSW indexes took.
type IndexBuild struct{ Chunks, Units time.Duration }

// Total is the time of both builds.
func (b IndexBuild) Total() time.Duration { return b.Chunks + b.Units }

// buildVectorIndex builds a knowledge base's HNSW indexes (chunks', units') inside the
// caller's transaction, with the memory to build the graph in memory (several times faster
// when it fits; a 100k-chunk graph is about 400 MB), and returns how long the builds took.
func (tx *Store) buildVectorIndex(ctx context.Context, kbID int64, dim int, p HNSWParams) (IndexBuild, error) {
	var b IndexBuild
	if err := tx.setBuildMem(ctx, p); err != nil {
		return b, err
	}
	if dim > maxHNSWDim {
		return b, nil
	}
	for i, ix := range vectorIndexes(kbID) {
		start := time.Now()
		if _, err := tx.db.Exec(ctx, indexSQL(ix, dim, p, false)); err != nil {
			return b, fmt.Errorf("store: create vector index for knowledge base %d: %w", kbID, err)
		}
		if i == 0 {
			b.Chunks = time.Since(start)
		} else {
			b.Units = time.Since(start)
		}
	}
	return b, nil
}

// defaultBuildMemMB is the maintenance_work_mem of an index build in one transaction.
const defaultBuildMemMB = 1024

func (tx *Store) setBuildMem(ctx context.Context, p HNSWParams) error {
	mb := p.BuildMemMB
	if mb <= 0 {
		mb = defaultBuildMemMB
	}
	_, err := tx.db.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, true)`, strconv.Itoa(mb)+"MB")
	return err
}

// SettleBulk follows a bulk write into knowledge base kbID's partition. Rows added in bulk
// wait in the GIN indexes' pending lists, which every text search would scan linearly
// until autovacuum merged them: merge them now, and refresh the statistics that the term
// weights and the planner read.
func (s *Store) SettleBulk(ctx context.Context, kbID int64) error {
	if _, err := s.db.Exec(ctx, `SELECT gin_clean_pending_list(i.indexrelid::regclass) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		WHERE i.indrelid = to_regclass($1) AND a.amname = 'gin'`, PartitionName(kbID)); err != nil {
		return fmt.Errorf("store: merge pending index entries of knowledge base %d: %w", kbID, err)
	}
	if _, err := s.db.Exec(ctx, `ANALYZE `+PartitionName(kbID)+`, `+UnitPartitionName(kbID)); err != nil {
		return fmt.Errorf("store: analyze knowledge base %d: %w", kbID, err)
	}
	return nil
}

// VacuumKB vacuums and analyzes knowledge base kbID's partitions and the documents table
// (a benchmark's step after a bulk load: what autovacuum does some time after one).
func (s *Store) VacuumKB(ctx context.Context, kbID int64) error {
	if _, err := s.db.Exec(ctx, `VACUUM (ANALYZE) `+PartitionName(kbID)+`, `+UnitPartitionName(kbID)+`, documents`); err != nil {
		return fmt.Errorf("store: vacuum knowledge base %d: %w", kbID, err)
	}
	return nil
}

// ExactVectorSearch is VectorSearch without the index: the true nearest neighbours, to
// measure the HNSW index's recall against (over units or chunks, as VectorSearch).
func (s *Store) ExactVectorSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int) ([]kb.Ranked, error) {
	units := k.Retrieval().UseUnits()
	sql, args, err := searchSQL(k, vec, limit, kb.Filter{}, units)
	if err != nil {
		return nil, err
	}

	var out []kb.Ranked
	err = s.WithTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `SET LOCAL enable_indexscan = off`); err != nil {
			return err
		}
		var err error
		out, err = tx.ranked(ctx, sql, args)
		return err
	})
	if units {
		out = bestPerChunk(out, limit)
	}
	return out, err
}

// ExplainVectorSearch returns the plan PostgreSQL chooses for VectorSearch, to check that
// it uses the knowledge base's HNSW index.
func (s *Store) ExplainVectorSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int) (string, error) {
	sql, args, err := searchSQL(k, vec, limit, kb.Filter{}, k.Retrieval().UseUnits())
	if err != nil {
		return "", err
	}
	plan := ""
	err = s.WithTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `SET LOCAL enable_sort = off`); err != nil {
			return err
		}
		rows, err := tx.db.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan += line + "\n"
		}
		return rows.Err()
	})
	return plan, err
}

// VectorIndexSize is the on-disk size of a knowledge base's HNSW indexes, its chunks' and
// its units', in bytes.
func (s *Store) VectorIndexSize(ctx context.Context, kbID int64) (chunks, units int64, err error) {
	err = s.db.QueryRow(ctx, `SELECT coalesce(pg_relation_size(to_regclass($1)), 0), coalesce(pg_relation_size(to_regclass($2)), 0)`,
		VectorIndexName(kbID), UnitIndexName(kbID)).Scan(&chunks, &units)
	return chunks, units, err
}

// VectorSearchEf is VectorSearch with hnsw.ef_search set for this one search, to measure
// how recall and latency trade off.
func (s *Store) VectorSearchEf(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit, efSearch int) ([]kb.Ranked, error) {
	var out []kb.Ranked
	err := s.WithTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `SELECT set_config('hnsw.ef_search', $1, true)`, strconv.Itoa(efSearch)); err != nil {
			return err
		}
		var err error
		out, err = tx.VectorSearch(ctx, k, vec, limit, kb.Filter{})
		return err
	})
	return out, err
}

// SearchTuning changes how VectorSearchTuned searches, for benchmarks that compare index
// types and settings on the same knowledge base. The zero value is VectorSearch.
type SearchTuning struct {
	EfSearch int // hnsw.ef_search for this search; 0: the session's
	// IterativeScan is hnsw.iterative_scan for this search: "off", "relaxed_order" (what
	// Zhiku's sessions use) or "strict_order"; "": the session's.
	IterativeScan string
	// Halfvec orders by the half-precision expression of a halfvec index
	// (BuildHalfvecIndex), with the query vector cast to halfvec too.
	Halfvec bool
	// Exact searches without any index (index scans off): the true nearest neighbours,
	// filter applied, to measure an index's recall against.
	Exact bool
}

// VectorSearchTuned is VectorSearch with the filter f and the settings t, each for this
// one search.
func (s *Store) VectorSearchTuned(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, t SearchTuning) ([]kb.Ranked, error) {
	sql, args, err := vectorSQL(k, vec, limit, f)
	if err != nil {
		return nil, err
	}
	if t.Halfvec {
		full := VectorExpr("c", k.EmbeddingDim)
		half := HalfvecExpr("c", k.EmbeddingDim)
		d := strconv.Itoa(k.EmbeddingDim)
		sql = strings.ReplaceAll(sql, full+" <=> $2", half+" <=> ($2::vector("+d+"))::halfvec("+d+")")
	}
	var out []kb.Ranked
	err = s.WithTx(ctx, func(tx *Store) error {
		if t.EfSearch > 0 {
			if _, err := tx.db.Exec(ctx, `SELECT set_config('hnsw.ef_search', $1, true)`, strconv.Itoa(t.EfSearch)); err != nil {
				return err
			}
		}
		if t.IterativeScan != "" {
			if _, err := tx.db.Exec(ctx, `SELECT set_config('hnsw.iterative_scan', $1, true)`, t.IterativeScan); err != nil {
				return err
			}
		}
		set := `SET LOCAL enable_sort = off` // as VectorSearch: the index, not an exact sort
		if t.Exact {
			set = `SET LOCAL enable_indexscan = off`
		}
		if _, err := tx.db.Exec(ctx, set); err != nil {
			return err
		}
		var err error
		out, err = tx.ranked(ctx, sql, args)
		return err
	})
	return out, err
}

// HalfvecIndexName is the name of knowledge base id's half-precision HNSW index, which only
// benchmarks build (BuildHalfvecIndex).
func HalfvecIndexName(kbID int64) string { return "chunks_halfvec_kb_" + strconv.FormatInt(kbID, 10) }

// HalfvecExpr is VectorExpr in half precision (pgvector's halfvec: 2 bytes a dimension,
// indexable up to 4,000 dimensions).
func HalfvecExpr(alias string, dim int) string {
	col := "embedding"
	if alias != "" {
		col = alias + ".embedding"
	}
	return "(" + col + "::halfvec(" + strconv.Itoa(dim) + "))"
}

// BuildHalfvecIndex builds, next to the knowledge base's HNSW index, one on the half-precision
// cast of its vectors (the table keeps full precision), and returns the build time;
// VectorSearchTuned with Halfvec searches it. For benchmarks: it doubles the index memory
// of the knowledge base until DropHalfvecIndex.
func (s *Store) BuildHalfvecIndex(ctx context.Context, k kb.KnowledgeBase, p HNSWParams) (time.Duration, error) {
	if p.M <= 0 {
		p.M = DefaultHNSW.M
	}
	if p.EfConstruction <= 0 {
		p.EfConstruction = DefaultHNSW.EfConstruction
	}
	var build time.Duration
	err := s.WithTx(ctx, func(tx *Store) error {
		if err := tx.setBuildMem(ctx, p); err != nil {
			return err
		}
		start := time.Now()
		_, err := tx.db.Exec(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING hnsw (%s halfvec_cosine_ops) WITH (m = %d, ef_construction = %d)`,
			HalfvecIndexName(k.ID), PartitionName(k.ID), HalfvecExpr("", k.EmbeddingDim), p.M, p.EfConstruction))
		build = time.Since(start)
		if err != nil {
			return fmt.Errorf("store: create halfvec index for knowledge base %d: %w", k.ID, err)
		}
		return nil
	})
	return build, err
}

// DropHalfvecIndex drops the index BuildHalfvecIndex built, if any.
func (s *Store) DropHalfvecIndex(ctx context.Context, kbID int64) error {
	_, err := s.db.Exec(ctx, `DROP INDEX IF EXISTS `+HalfvecIndexName(kbID))
	return err
}

// PartitionSizes are the on-disk sizes of a knowledge base's partition of chunks, in bytes.
type PartitionSizes struct {
	Heap, Toast int64 // the table's rows, and the out-of-line values (vectors, long texts)
	Vector      int64 // the HNSW index
	Halfvec     int64 // the half-precision HNSW index, when built
	Other       int64 // every other index (full text, keys)
}

// PartitionSize measures knowledge base kbID's partition.
func (s *Store) PartitionSize(ctx context.Context, kbID int64) (PartitionSizes, error) {
	var p PartitionSizes
	err := s.db.QueryRow(ctx, `
		SELECT pg_relation_size(c.oid), coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
		       coalesce(pg_relation_size(to_regclass($2)), 0), coalesce(pg_relation_size(to_regclass($3)), 0),
		       pg_indexes_size(c.oid)
		FROM pg_class c WHERE c.oid = to_regclass($1)`, PartitionName(kbID), VectorIndexName(kbID), HalfvecIndexName(kbID)).
		Scan(&p.Heap, &p.Toast, &p.Vector, &p.Halfvec, &p.Other)
	if err != nil {
		return p, fmt.Errorf("store: size of knowledge base %d: %w", kbID, interpret(err))
	}
	p.Other -= p.Vector + p.Halfvec
	return p, nil
}
