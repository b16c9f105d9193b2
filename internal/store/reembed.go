package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

// ChunkSource is what re-embedding and re-indexing read of a chunk: the text it was
// embedded and tokenized from, or what that text is rebuilt from.
type ChunkSource struct {
	ID          int64
	SectionPath []string
	Content     string
	// IndexText is the stored index text; empty for chunks written without one, whose
	// index text is rebuilt from SectionPath and Content (see internal/kbmaint).
	IndexText string
	Kind      string         // the document's kind
	Metadata  map[string]any // the chunk's metadata (document metadata merged in)
}

const chunkSourceColumns = `c.id, c.section_path, c.content, coalesce(c.index_text, ''), coalesce(c.metadata->>'kind', ''), c.metadata`

func (s *Store) chunkSources(ctx context.Context, sql string, args ...any) ([]ChunkSource, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read chunks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChunkSource, error) {
		var c ChunkSource
		err := r.Scan(&c.ID, &c.SectionPath, &c.Content, &c.IndexText, &c.Kind, &c.Metadata)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: read chunks: %w", err)
	}
	return out, nil
}

// ChunksAfter pages through every chunk of a knowledge base in id order: up to limit
// chunks with ids above afterID (start with 0).
func (s *Store) ChunksAfter(ctx context.Context, kbID, afterID int64, limit int) ([]ChunkSource, error) {
	return s.chunkSources(ctx, `SELECT `+chunkSourceColumns+` FROM chunks c
		WHERE c.kb_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`, kbID, afterID, limit)
}

// CountChunks returns how many chunks a knowledge base has, and how many of them already
// have a shadow vector (embedding_next) from a re-embed in progress.
func (s *Store) CountChunks(ctx context.Context, kbID int64) (total, shadowed int, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(*), count(embedding_next) FROM chunks WHERE kb_id = $1`, kbID).Scan(&total, &shadowed)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count chunks of knowledge base %d: %w", kbID, err)
	}
	return total, shadowed, nil
}

// SetTokens replaces the search tokens (tsv) of the given chunks of a knowledge base,
// tokens[i] for ids[i], in one round trip. Chunks deleted meanwhile are skipped. It bumps
// the knowledge base's text_epoch with them (see postingCache).
func (s *Store) SetTokens(ctx context.Context, kbID int64, ids []int64, tokens [][]string) error {
	if len(ids) != len(tokens) {
		return fmt.Errorf("store: set tokens: %d ids, %d token lists", len(ids), len(tokens))
	}
	batch := &pgx.Batch{}
	if !s.citus { // Citus mode caches no postings (and knowledge_bases is a reference table there)
		// First, so the knowledge base's row is locked before its chunks', as a document's
		// re-index swap locks them (the batch is one transaction).
		batch.Queue(bumpTextEpochSQL, kbID)
	}
	for i, id := range ids {
		batch.Queue(`UPDATE chunks SET tsv = $3::tsvector, ntokens = $4 WHERE kb_id = $1 AND id = $2`,
			kbID, id, TSVector(tokens[i]), len(tokens[i]))
	}
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store: set tokens of knowledge base %d: %w", kbID, interpret(err))
	}
	return nil
}

// EmbeddingTarget is the model a knowledge base is being re-embedded with.
type EmbeddingTarget struct {
	Embedder string
	Model    string
	Dim      int
}

// Matches reports whether knowledge base k already uses the target model.
func (t EmbeddingTarget) Matches(k kb.KnowledgeBase) bool {
	return k.Embedder == t.Embedder && k.EmbeddingModel == t.Model && k.EmbeddingDim == t.Dim
}

// StartReembed records t as knowledge base kbID's re-embedding target. When a run towards
// the same target was interrupted, its shadow vectors are kept (resumed is true); when the
// target differs, shadow vectors of the earlier target are cleared first.
func (s *Store) StartReembed(ctx context.Context, kbID int64, t EmbeddingTarget) (resumed bool, err error) {
	if err := s.notCitus("re-embed"); err != nil {
		return false, err
	}
	err = s.WithTx(ctx, func(tx *Store) error {
		cur, _, err := scanTarget(tx.db.QueryRow(ctx, `SELECT next_embedder, next_model, next_dim FROM knowledge_bases WHERE id = $1 FOR UPDATE`, kbID))
		if err != nil {
			return fmt.Errorf("store: start re-embed of knowledge base %d: %w", kbID, err)
		}
		if cur == t {
			resumed = true
			return nil
		}
		if _, err := tx.db.Exec(ctx, `UPDATE chunks SET embedding_next = NULL WHERE kb_id = $1 AND embedding_next IS NOT NULL`, kbID); err != nil {
			return fmt.Errorf("store: clear shadow vectors of knowledge base %d: %w", kbID, err)
		}
		if _, err := tx.db.Exec(ctx, `UPDATE chunk_units SET embedding_next = NULL WHERE kb_id = $1 AND embedding_next IS NOT NULL`, kbID); err != nil {
			return fmt.Errorf("store: clear unit shadow vectors of knowledge base %d: %w", kbID, err)
		}
		if _, err := tx.db.Exec(ctx, `UPDATE knowledge_bases SET next_embedder = $2, next_model = $3, next_dim = $4 WHERE id = $1`,
			kbID, t.Embedder, t.Model, t.Dim); err != nil {
			return fmt.Errorf("store: record re-embed target of knowledge base %d: %w", kbID, interpret(err))
		}
		return nil
	})
	return resumed, err
}

// ChunksWithoutShadow returns up to limit chunks of a knowledge base with ids above
// afterID that have no shadow vector yet, in id order.
func (s *Store) ChunksWithoutShadow(ctx context.Context, kbID, afterID int64, limit int) ([]ChunkSource, error) {
	return s.chunkSources(ctx, `SELECT `+chunkSourceColumns+` FROM chunks c
		WHERE c.kb_id = $1 AND c.id > $2 AND c.embedding_next IS NULL ORDER BY c.id LIMIT $3`, kbID, afterID, limit)
}

// SetShadowEmbeddings stores the target model's vectors of the given chunks, vecs[i] for
// ids[i], in one round trip. Chunks deleted meanwhile are skipped.
func (s *Store) SetShadowEmbeddings(ctx context.Context, kbID int64, ids []int64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("store: set shadow vectors: %d ids, %d vectors", len(ids), len(vecs))
	}
	batch := &pgx.Batch{}
	for i, id := range ids {
		batch.Queue(`UPDATE chunks SET embedding_next = $3 WHERE kb_id = $1 AND id = $2`, kbID, id, pgvector.NewVector(vecs[i]))
	}
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store: set shadow vectors of knowledge base %d: %w", kbID, interpret(err))
	}
	return nil
}

// ShadowEmbedder embeds, with the target model, chunks written while a re-embed ran.
type ShadowEmbedder func(ctx context.Context, chunks []ChunkSource) ([][]float32, error)

// SwapReembed makes the shadow vectors knowledge base kbID's vectors and t its model. It
// first drops the old HNSW index (concurrently: searches keep running, exactly, on the old
// vectors meanwhile; an HNSW index is on embedding::vector(dim), so it cannot be built
// ahead on a column the search does not read). Then, in one transaction holding the
// knowledge base row (ingestion waits on it): chunks still lacking a shadow vector are
// embedded with embed, every chunk's vector and embedding_model move over at once, and
// the knowledge base records t (the old model becomes retired: later writes of its
// vectors, or of vectors of the old dimension, are refused by ReplaceDocument).
// Last, the new index is built concurrently. On failure the old index is rebuilt.
func (s *Store) SwapReembed(ctx context.Context, kbID int64, t EmbeddingTarget, embed ShadowEmbedder) error {
	if err := s.notCitus("re-embed"); err != nil {
		return err
	}
	var oldDim int
	if err := s.db.QueryRow(ctx, `SELECT embedding_dim FROM knowledge_bases WHERE id = $1`, kbID).Scan(&oldDim); err != nil {
		return fmt.Errorf("store: swap vectors of knowledge base %d: %w", kbID, interpret(err))
	}
	if err := s.dropVectorIndexes(ctx, kbID, true); err != nil {
		return err
	}
	err := s.WithTx(ctx, func(tx *Store) error {
		cur, _, err := scanTarget(tx.db.QueryRow(ctx, `SELECT next_embedder, next_model, next_dim FROM knowledge_bases WHERE id = $1 FOR UPDATE`, kbID))
		if err != nil {
			return fmt.Errorf("store: lock knowledge base %d: %w", kbID, err)
		}
		if cur != t {
			return fmt.Errorf("%w: knowledge base %d is being re-embedded with %s %q (%d dims), not %s %q (%d dims)",
				kb.ErrConflict, kbID, cur.Embedder, cur.Model, cur.Dim, t.Embedder, t.Model, t.Dim)
		}
		for after := int64(0); ; {
			missing, err := tx.ChunksWithoutShadow(ctx, kbID, after, 256)
			if err != nil || len(missing) == 0 {
				if err != nil {
					return err
				}
				break
			}
			vecs, err := embed(ctx, missing)
			if err != nil {
				return fmt.Errorf("store: embed chunks written during the re-embed: %w", err)
			}
			ids := make([]int64, len(missing))
			for i, c := range missing {
				ids[i] = c.ID
			}
			if err := tx.SetShadowEmbeddings(ctx, kbID, ids, vecs); err != nil {
				return err
			}
			after = ids[len(ids)-1]
		}
		if _, err := tx.db.Exec(ctx, `UPDATE chunks SET embedding = embedding_next, embedding_next = NULL, embedding_model = $2
			WHERE kb_id = $1`, kbID, t.Model); err != nil {
			return fmt.Errorf("store: move shadow vectors of knowledge base %d: %w", kbID, err)
		}
		if err := tx.swapUnits(ctx, kbID, embed); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `UPDATE knowledge_bases SET
				retired_models = CASE WHEN embedding_model = $3 THEN array_remove(retired_models, $3) -- same model, new dimension
				                 ELSE array_append(array_remove(retired_models, $3), embedding_model) END,
				embedder = $2, embedding_model = $3, embedding_dim = $4,
				next_embedder = NULL, next_model = NULL, next_dim = NULL, updated_at = now()
			WHERE id = $1`, kbID, t.Embedder, t.Model, t.Dim); err != nil {
			return fmt.Errorf("store: record model of knowledge base %d: %w", kbID, interpret(err))
		}
		return nil
	})
	if err != nil {
		if ierr := s.EnsureVectorIndex(context.WithoutCancel(ctx), kbID, oldDim); ierr != nil {
			return fmt.Errorf("%w (and rebuilding the old index failed: %v)", err, ierr)
		}
		return err
	}
	return s.EnsureVectorIndex(ctx, kbID, t.Dim)
}

// EnsureVectorIndex builds knowledge base kbID's HNSW index on dimension dim concurrently
// (writes go on) unless a valid one exists; an invalid leftover of an interrupted build is
// dropped first. Dimensions above HNSW's limit have no index.
func (s *Store) EnsureVectorIndex(ctx context.Context, kbID int64, dim int) error {
	if err := s.notCitus("build vector index"); err != nil {
		return err
	}
	_, err := s.ensureVectorIndex(ctx, kbID, dim, true)
	return err
}

// ensureVectorIndex is EnsureVectorIndex, concurrently or not (a plain build scans the
// partition once and holds writes to this one knowledge base until it is done); built says
// whether an index had to be built.
func (s *Store) ensureVectorIndex(ctx context.Context, kbID int64, dim int, concurrently bool) (built bool, err error) {
	if dim > maxHNSWDim {
		return false, nil
	}
	p := s.hnswOf(ctx, kbID)
	for _, ix := range vectorIndexes(kbID) {
		var valid *bool
		err = s.db.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, ix.name).Scan(&valid)
		switch {
		case err == nil && valid != nil && *valid:
			continue
		case err == nil:
			if _, err := s.db.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+ix.name); err != nil {
				return built, fmt.Errorf("store: drop invalid vector index of knowledge base %d: %w", kbID, err)
			}
		case interpret(err) != kb.ErrNotFound:
			return built, fmt.Errorf("store: look up vector index of knowledge base %d: %w", kbID, err)
		}
		if concurrently {
			if _, err := s.db.Exec(ctx, indexSQL(ix, dim, p, true)); err != nil {
				return built, fmt.Errorf("store: build vector index of knowledge base %d: %w", kbID, err)
			}
		} else if err := s.WithTx(ctx, func(tx *Store) error {
			if err := tx.setBuildMem(ctx, p); err != nil {
				return err
			}
			_, err := tx.db.Exec(ctx, indexSQL(ix, dim, p, false))
			return err
		}); err != nil {
			return built, fmt.Errorf("store: build vector index of knowledge base %d: %w", kbID, err)
		}
		built = true
	}
	return built, nil
}

// EnsureVectorIndexes builds the HNSW index of every knowledge base that lacks a valid
// one: an index left dropped by a process that stopped during WithoutVectorIndex, or an
// interrupted build. It returns the knowledge bases it built for. Searches are exact (and
// slower) on a knowledge base without its index, never wrong.
func (s *Store) EnsureVectorIndexes(ctx context.Context) ([]int64, error) {
	if s.citus {
		return nil, s.ensureCitusVectorIndexes(ctx)
	}
	rows, err := s.db.Query(ctx, `SELECT id, embedding_dim FROM knowledge_bases ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge bases: %w", err)
	}
	type kbDim struct {
		id  int64
		dim int
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kbDim, error) {
		var k kbDim
		return k, r.Scan(&k.id, &k.dim)
	})
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge bases: %w", err)
	}
	var built []int64
	for _, k := range all {
		did, err := s.ensureVectorIndex(ctx, k.id, k.dim, true)
		if err != nil {
			return built, err
		}
		if did {
			built = append(built, k.id)
		}
	}
	return built, nil
}

// VectorIndexMissing reports whether knowledge base kbID, of dimension dim, lacks a valid HNSW index it should
// have: a bulk write (WithoutVectorIndex) stopped before its rebuild, for example by a
// database restart, and the retry is no longer large enough to be a bulk write itself.
func (s *Store) VectorIndexMissing(ctx context.Context, kbID int64, dim int) (bool, error) {
	if s.citus {
		return false, nil // one shared index per dimension, never set aside
	}
	if dim > maxHNSWDim {
		return false, nil
	}
	var names []string
	for _, ix := range vectorIndexes(kbID) {
		names = append(names, ix.name)
	}
	var valid int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = ANY($1) AND c.relnamespace = current_schema()::regnamespace AND i.indisvalid`, names).Scan(&valid); err != nil {
		return false, fmt.Errorf("store: look up vector indexes of knowledge base %d: %w", kbID, err)
	}
	return valid < len(names), nil
}

// WithoutVectorIndex runs fn with knowledge base kbID's HNSW index dropped and builds it
// afterwards, whatever fn returned: for writing many chunks into a small knowledge base,
// inserting them unindexed and building the graph once is several times faster than
// maintaining it row by row (pgvector's own advice for initial loads). Meanwhile searches
// of this knowledge base are exact: right, slower on large partitions, so callers use it
// only for small ones. Other knowledge bases are not affected. If the process stops
// before the build, EnsureVectorIndexes (run when Zhiku serves) builds it.
func (s *Store) WithoutVectorIndex(ctx context.Context, kbID int64, fn func(ctx context.Context) error) error {
	if s.citus {
		return fn(ctx) // the index is shared by the knowledge bases of one dimension: it stays
	}
	if err := s.WithTx(ctx, func(tx *Store) error {
		// DROP INDEX waits for the partition's running searches; don't queue behind a long one.
		if _, err := tx.db.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		return tx.dropVectorIndexes(ctx, kbID, false)
	}); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available: an index build or a long search
			return fn(ctx) // write with the index in place, only slower
		}
		return fmt.Errorf("store: set aside vector index of knowledge base %d: %w", kbID, err)
	}
	ferr := fn(ctx)
	bctx := context.WithoutCancel(ctx)
	var dim int
	err := s.db.QueryRow(bctx, `SELECT embedding_dim FROM knowledge_bases WHERE id = $1`, kbID).Scan(&dim)
	if interpret(err) == kb.ErrNotFound {
		return ferr // deleted meanwhile: nothing to index
	}
	if err == nil {
		_, err = s.ensureVectorIndex(bctx, kbID, dim, false)
	}
	if err == nil {
		err = s.SettleBulk(bctx, kbID)
	}
	if err != nil {
		err = fmt.Errorf("store: rebuild vector index of knowledge base %d: %w", kbID, err)
	}
	return errors.Join(ferr, err)
}

// ReembedTarget returns the re-embedding target recorded for a knowledge base, if any.
func (s *Store) ReembedTarget(ctx context.Context, kbID int64) (EmbeddingTarget, bool, error) {
	t, ok, err := scanTarget(s.db.QueryRow(ctx, `SELECT next_embedder, next_model, next_dim FROM knowledge_bases WHERE id = $1`, kbID))
	if err != nil {
		return t, false, fmt.Errorf("store: re-embed target of knowledge base %d: %w", kbID, err)
	}
	return t, ok, nil
}

func scanTarget(row pgx.Row) (EmbeddingTarget, bool, error) {
	var emb, model *string
	var dim *int
	if err := row.Scan(&emb, &model, &dim); err != nil {
		return EmbeddingTarget{}, false, interpret(err)
	}
	if emb == nil || model == nil || dim == nil {
		return EmbeddingTarget{}, false, nil
	}
	return EmbeddingTarget{Embedder: *emb, Model: *model, Dim: *dim}, true, nil
}

// bumpTextEpochSQL marks, in the transaction that rewrites chunks' tokens in place, that the
// postings cached for the knowledge base ($1) no longer hold (postingCache).
const bumpTextEpochSQL = `UPDATE knowledge_bases SET text_epoch = text_epoch + 1 WHERE id = $1`
