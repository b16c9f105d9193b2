package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zhiku/zhiku/internal/kb"
)

const kbColumns = `id, tenant_id, name, description, language, embedder, embedding_model, embedding_dim, settings, created_at, updated_at`

func scanKB(row pgx.Row) (kb.KnowledgeBase, error) {
	var k kb.KnowledgeBase
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Description, &k.Language, &k.Embedder,
		&k.EmbeddingModel, &k.EmbeddingDim, &k.Settings, &k.CreatedAt, &k.UpdatedAt)
	return k, err
}

// CreateKB inserts a knowledge base (TenantID, Name, Description, Language, Embedder,
// EmbeddingModel and EmbeddingDim of p; Language defaults to zh) with its own partition of
// chunks and HNSW index, in one transaction. It returns kb.ErrConflict when the tenant has that name.
func (s *Store) CreateKB(ctx context.Context, p kb.KnowledgeBase) (kb.KnowledgeBase, error) {
	if p.Language == "" {
		p.Language = kb.LanguageZh
	}
	if s.citus {
		return s.createKBCitus(ctx, p)
	}
	var out kb.KnowledgeBase
	err := s.withPartitionTx(ctx, func(tx *Store) error {
		// Attaching the new partitions clones their foreign keys (chunks → documents, units
		// → chunks), which takes this lock on documents and on chunks and every partition of
		// it: taken at once, before the new partitions exist, so that a writer never finds a
		// new partition locked while it holds documents or chunks.
		if _, err := tx.db.Exec(ctx, `LOCK TABLE documents, chunks IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("store: create knowledge base %q: lock chunks: %w", p.Name, err)
		}
		var err error
		out, err = scanKB(tx.db.QueryRow(ctx, `
			INSERT INTO knowledge_bases (tenant_id, name, description, language, embedder, embedding_model, embedding_dim)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING `+kbColumns,
			p.TenantID, p.Name, p.Description, p.Language, p.Embedder, p.EmbeddingModel, p.EmbeddingDim))
		if err != nil {
			return fmt.Errorf("store: create knowledge base %q: %w", p.Name, interpret(err))
		}
		if err := tx.createChunkPartition(ctx, out.ID); err != nil {
			return err
		}
		return tx.createVectorIndex(ctx, out.ID, out.EmbeddingDim, tx.hnsw.with(out.Retrieval().HNSW))
	})
	return out, err
}

// createKBCitus is CreateKB in Citus mode: no partition; the HNSW index of the knowledge
// base's dimension is built first when it is the first of its dimension.
func (s *Store) createKBCitus(ctx context.Context, p kb.KnowledgeBase) (kb.KnowledgeBase, error) {
	if err := s.ensureCitusVectorIndex(ctx, p.EmbeddingDim, s.hnsw); err != nil {
		return kb.KnowledgeBase{}, err
	}
	var out kb.KnowledgeBase
	err := s.WithTx(ctx, func(tx *Store) error {
		var err error
		out, err = scanKB(tx.db.QueryRow(ctx, `
			INSERT INTO knowledge_bases (tenant_id, name, description, language, embedder, embedding_model, embedding_dim)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING `+kbColumns,
			p.TenantID, p.Name, p.Description, p.Language, p.Embedder, p.EmbeddingModel, p.EmbeddingDim))
		if err != nil {
			return fmt.Errorf("store: create knowledge base %q: %w", p.Name, interpret(err))
		}
		return tx.notifyChanged(ctx, out.ID)
	})
	return out, err
}

// lockPartitions serializes, across processes, the transactions that add or remove a
// partition of chunks: two creations at once each hold a lock the other's ATTACH needs
// (the new row in knowledge_bases, chunks itself) and PostgreSQL aborts one as a deadlock.
// Creating and deleting knowledge bases is rare; searches and writes take no such lock.
func (s *Store) lockPartitions(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('zhiku/chunk-partitions', 0))`); err != nil {
		return fmt.Errorf("store: lock chunk partitions: %w", err)
	}
	return nil
}

// withPartitionTx runs fn in a transaction that holds the partition lock. Adding or
// removing partitions takes strong locks on documents and on every partition of chunks,
// which writers take in either order; so while fn runs, a lock is waited for at most
// 100 ms (less than PostgreSQL's deadlock check, 1 s): the creation or deletion gives way
// to searches and writes, never the other way round, and runs again a moment later, for
// up to about 10 s, before the caller sees the error.
func (s *Store) withPartitionTx(ctx context.Context, fn func(tx *Store) error) error {
	jitter := func() time.Duration { return time.Duration(10+rand.IntN(40)) * time.Millisecond }
	return retryGivenWay(ctx, 100, jitter, func() error {
		return s.WithTx(ctx, func(tx *Store) error {
			if err := tx.lockPartitions(ctx); err != nil {
				return err
			}
			if _, err := tx.db.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
				return fmt.Errorf("store: set lock timeout: %w", err)
			}
			return fn(tx)
		})
	})
}

// PartitionName is the name of knowledge base id's partition of chunks.
func PartitionName(kbID int64) string { return "chunks_kb_" + strconv.FormatInt(kbID, 10) }

// VectorIndexName is the name of knowledge base id's HNSW index, on its partition.
func VectorIndexName(kbID int64) string { return "chunks_embedding_kb_" + strconv.FormatInt(kbID, 10) }

// createChunkPartition gives a new knowledge base its partition of chunks. The table is
// created on its own, then attached: ATTACH PARTITION locks chunks only against schema
// changes (SHARE UPDATE EXCLUSIVE), where CREATE TABLE … PARTITION OF would block every
// search and write of every tenant until the transaction ends. The CHECK constraint
// spares the attach its validation scan; the parent's indexes and keys are cloned onto it.
func (s *Store) createChunkPartition(ctx context.Context, kbID int64) error {
	name, units := PartitionName(kbID), UnitPartitionName(kbID)
	id := strconv.FormatInt(kbID, 10)
	for _, sql := range []string{
		`CREATE TABLE ` + name + ` (LIKE chunks INCLUDING DEFAULTS INCLUDING STORAGE, CHECK (kb_id = ` + id + `))`,
		`ALTER TABLE chunks ATTACH PARTITION ` + name + ` FOR VALUES IN (` + id + `)`,
		`CREATE TABLE ` + units + ` (LIKE chunk_units INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING CONSTRAINTS, CHECK (kb_id = ` + id + `))`,
		`ALTER TABLE chunk_units ATTACH PARTITION ` + units + ` FOR VALUES IN (` + id + `)`,
	} {
		if _, err := s.db.Exec(ctx, sql); err != nil {
			return fmt.Errorf("store: create chunk partition of knowledge base %d: %w", kbID, err)
		}
	}
	return nil
}

// VectorExpr is the indexed expression for a dimension, optionally qualified by a table
// alias; searches must use exactly it for the planner to pick the knowledge base's index.
// dim is an integer from the knowledge_bases row (a type modifier cannot be a parameter).
func VectorExpr(alias string, dim int) string {
	col := "embedding"
	if alias != "" {
		col = alias + ".embedding"
	}
	return "(" + col + "::vector(" + strconv.Itoa(dim) + "))"
}

// HNSWParams are the graph's build parameters: M links per node and the candidate list
// size while building. Larger values build slower and bigger graphs that keep recall up
// for short, sparse queries; `zhiku bench retrieval --m --ef-construction` measures them.
type HNSWParams struct {
	M              int // defaults to DefaultHNSW.M
	EfConstruction int // defaults to DefaultHNSW.EfConstruction
	// BuildMemMB is the maintenance_work_mem of a build in one transaction (BulkLoad,
	// RebuildVectorIndex), in MB; defaults to defaultBuildMemMB. A graph larger than it is
	// finished on disk, several times slower (a 768-dimension graph is about 4 kB a chunk).
	BuildMemMB int
}

// DefaultHNSW is what knowledge bases are indexed with unless Options.HNSW says otherwise:
// pgvector's defaults, which keep row-by-row inserts (catalog re-imports) affordable.
var DefaultHNSW = HNSWParams{M: 16, EfConstruction: 64}

// maxHNSWDim is the most dimensions pgvector's HNSW indexes; larger vectors are searched
// exactly.
const maxHNSWDim = 2000

// vecIndex is one of a knowledge base's HNSW indexes: its chunks' or its units'.
type vecIndex struct{ table, name string }

// vectorIndexes are knowledge base kbID's HNSW indexes, each on its own partition: its
// chunks' (exact lookups of a chunk's vector, searches with units turned off) and its
// units' (what the vector leg matches).
func vectorIndexes(kbID int64) []vecIndex {
	return []vecIndex{{PartitionName(kbID), VectorIndexName(kbID)}, {UnitPartitionName(kbID), UnitIndexName(kbID)}}
}

// indexSQL is the CREATE INDEX statement of one of a knowledge base's vector indexes. All
// values are integers from Zhiku's own rows and settings, never user text.
func indexSQL(ix vecIndex, dim int, p HNSWParams, concurrently bool) string {
	if p.M <= 0 {
		p.M = DefaultHNSW.M
	}
	if p.EfConstruction <= 0 {
		p.EfConstruction = DefaultHNSW.EfConstruction
	}
	how := "INDEX"
	if concurrently {
		how = "INDEX CONCURRENTLY"
	}
	return fmt.Sprintf(`CREATE %s IF NOT EXISTS %s ON %s USING hnsw (%s vector_cosine_ops) WITH (m = %d, ef_construction = %d)`,
		how, ix.name, ix.table, VectorExpr("", dim), p.M, p.EfConstruction)
}

// createVectorIndex builds the knowledge base's own cosine HNSW indexes on its partitions
// (chunks and units). The cast lets knowledge bases of different dimensions share one
// column type.
func (s *Store) createVectorIndex(ctx context.Context, kbID int64, dim int, p HNSWParams) error {
	if dim > maxHNSWDim {
		return nil
	}
	for _, ix := range vectorIndexes(kbID) {
		if _, err := s.db.Exec(ctx, indexSQL(ix, dim, p, false)); err != nil {
			return fmt.Errorf("store: create vector index for knowledge base %d: %w", kbID, err)
		}
	}
	return nil
}

// dropVectorIndexes drops knowledge base kbID's HNSW indexes (concurrently or not).
func (s *Store) dropVectorIndexes(ctx context.Context, kbID int64, concurrently bool) error {
	how := "DROP INDEX IF EXISTS "
	if concurrently {
		how = "DROP INDEX CONCURRENTLY IF EXISTS "
	}
	for _, ix := range vectorIndexes(kbID) {
		if _, err := s.db.Exec(ctx, how+ix.name); err != nil {
			return fmt.Errorf("store: drop vector index of knowledge base %d: %w", kbID, err)
		}
	}
	return nil
}

// hnswOf is the build parameters of knowledge base kbID's indexes: its settings'
// (retrieval.hnsw), else the store's.
func (s *Store) hnswOf(ctx context.Context, kbID int64) HNSWParams {
	p := s.hnsw
	var m, efc *int
	if err := s.db.QueryRow(ctx, `SELECT (settings->'retrieval'->'hnsw'->>'m')::int, (settings->'retrieval'->'hnsw'->>'ef_construction')::int
		FROM knowledge_bases WHERE id = $1`, kbID).Scan(&m, &efc); err != nil {
		return p // a malformed value was refused by the API; the defaults build a sound index
	}
	return p.with(kb.HNSWSettings{M: m, EfConstruction: efc})
}

// with is p overridden by a knowledge base's settings.
func (p HNSWParams) with(h kb.HNSWSettings) HNSWParams {
	if h.M != nil && *h.M > 0 {
		p.M = *h.M
	}
	if h.EfConstruction != nil && *h.EfConstruction > 0 {
		p.EfConstruction = *h.EfConstruction
	}
	return p
}

// GetKB finds a knowledge base of the tenant by numeric id or by name.
func (s *Store) GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error) {
	var row pgx.Row
	if id, err := strconv.ParseInt(idOrName, 10, 64); err == nil {
		row = s.db.QueryRow(ctx, `SELECT `+kbColumns+` FROM knowledge_bases WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	} else {
		row = s.db.QueryRow(ctx, `SELECT `+kbColumns+` FROM knowledge_bases WHERE tenant_id = $1 AND name = $2`, tenantID, idOrName)
	}
	k, err := scanKB(row)
	if err != nil {
		return k, fmt.Errorf("store: knowledge base %q: %w", idOrName, interpret(err))
	}
	return k, nil
}

// ListKBs lists the tenant's knowledge bases by name; ids, when not nil, restricts the list.
func (s *Store) ListKBs(ctx context.Context, tenantID int64, ids []int64) ([]kb.KnowledgeBase, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+kbColumns+` FROM knowledge_bases
		WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
		ORDER BY name`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge bases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.KnowledgeBase, error) { return scanKB(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge bases: %w", err)
	}
	return out, nil
}

// UpdateKB changes the given fields of knowledge base id of the tenant.
func (s *Store) UpdateKB(ctx context.Context, tenantID, id int64, p kb.KBPatch) (kb.KnowledgeBase, error) {
	var settings []byte
	if len(p.Settings) > 0 {
		settings = p.Settings
	}
	k, err := scanKB(s.db.QueryRow(ctx, `
		UPDATE knowledge_bases SET
			name        = COALESCE($3, name),
			description = COALESCE($4, description),
			language    = COALESCE($5, language),
			settings    = settings || COALESCE($6::jsonb, '{}'::jsonb),
			updated_at  = now()
		WHERE tenant_id = $1 AND id = $2
		RETURNING `+kbColumns, tenantID, id, p.Name, p.Description, p.Language, settings))
	if err != nil {
		return k, fmt.Errorf("store: update knowledge base %d: %w", id, interpret(err))
	}
	return k, s.notifyChanged(ctx, id)
}

// DeleteKB removes a knowledge base with its documents and chunks. Its partitions of
// chunks and units are detached and dropped first: deleting the knowledge base's row with
// them in place cascades a DELETE through every chunk row, each chunk's own cascade
// probing the units: on the 2-core machine 40 s for 200,000 chunks in 20,000 documents,
// and over 19 minutes for 200,000 one-chunk documents (a catalog), against 1.2 s and 14 s
// this way (TestDeleteLargeKB with ZHIKU_DELETE_KB_CHUNKS; what remains is the documents'
// own cascade and triggers, row by row).
// Meanwhile the knowledge base still exists, with no chunks: a search finds nothing, a
// write fails. Should the partitions not go (a long transaction holds them past the
// detach's patience, or DeleteKB runs inside a transaction), the row is deleted with its
// cascade as before and the partitions are dropped after, best effort. Should the row's
// deletion fail after the partitions went, calling DeleteKB again finishes it.
func (s *Store) DeleteKB(ctx context.Context, tenantID, id int64) error {
	var mine bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE tenant_id = $1 AND id = $2)`, tenantID, id).Scan(&mine); err != nil {
		return fmt.Errorf("store: delete knowledge base %d: %w", id, interpret(err))
	}
	if !mine {
		return fmt.Errorf("store: delete knowledge base %d: %w", id, kb.ErrNotFound)
	}
	dropped := !s.citus && s.dropChunkPartition(ctx, id) // Citus mode has no partitions
	err := s.withPartitionTx(ctx, func(tx *Store) error {
		tag, err := tx.db.Exec(ctx, `DELETE FROM knowledge_bases WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return fmt.Errorf("store: delete knowledge base %d: %w", id, interpret(err))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store: delete knowledge base %d: %w", id, kb.ErrNotFound)
		}
		if err := tx.deleteCoordinatorRows(ctx, id); err != nil {
			return err
		}
		return tx.notifyChanged(ctx, id)
	})
	if err != nil {
		return err
	}
	if !s.citus && !dropped {
		s.dropChunkPartition(ctx, id)
	}
	return nil
}

// dropChunkPartition removes a knowledge base's partitions of units and chunks, with
// whatever rows they hold, and reports whether both are gone. It detaches them
// concurrently, which takes no lock that would stop other tenants' searches or writes.
// It gives up after 10 s (a long transaction on chunks holds a detach up) or inside a
// transaction; a partition left behind is harmless once its knowledge base is deleted,
// since knowledge base ids are never reused, and the next call finishes an interrupted
// detach.
func (s *Store) dropChunkPartition(ctx context.Context, kbID int64) bool {
	pool, ok := s.db.(interface {
		Acquire(ctx context.Context) (*pgxpool.Conn, error)
	})
	if !ok {
		return false // inside a transaction: DETACH … CONCURRENTLY cannot run there
	}
	// A long transaction on chunks would hold the detach up: don't make the caller wait.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false
	}
	defer conn.Release()
	// Detaching and dropping take exclusive locks on the partitions that the foreign keys
	// involve (units → chunks → documents), one after another; a search or write holding
	// one of them and waiting for another would deadlock with it. Each statement waits at
	// most 100 ms for a lock, less than PostgreSQL's deadlock check (1 s), so it is the
	// statement that gives way, never the search or write, and is tried again a moment later.
	if _, err := conn.Exec(ctx, `SET lock_timeout = '100ms'`); err != nil {
		return false
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `RESET lock_timeout`) }()
	pause := func() time.Duration { return 50 * time.Millisecond }
	// Units first: their partition references the chunks'. A detach that gave way after its
	// first step (the partition is then pending detach) is finished by FINALIZE.
	for _, p := range []struct{ parent, name string }{{"chunk_units", UnitPartitionName(kbID)}, {"chunks", PartitionName(kbID)}} {
		detach := func() error {
			var pending bool // found only while the partition is still attached
			err := conn.QueryRow(ctx, `SELECT i.inhdetachpending FROM pg_inherits i
				WHERE i.inhrelid = to_regclass($1) AND i.inhparent = $2::regclass`, p.name, p.parent).Scan(&pending)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			sql := `ALTER TABLE ` + p.parent + ` DETACH PARTITION ` + p.name + ` CONCURRENTLY`
			if pending {
				sql = `ALTER TABLE ` + p.parent + ` DETACH PARTITION ` + p.name + ` FINALIZE`
			}
			_, err = conn.Exec(ctx, sql)
			return err
		}
		if retryGivenWay(ctx, math.MaxInt, pause, detach) != nil {
			return false
		}
		drop := func() error {
			_, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+p.name)
			return err
		}
		if retryGivenWay(ctx, math.MaxInt, pause, drop) != nil {
			return false
		}
	}
	return true
}
