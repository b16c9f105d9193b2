package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

// Question-sized units (small-to-big): see migration 21. FAQ entries' questions and, when a
// knowledge base asks for them, long chunks' packed sentences point to their chunk. The
// vector leg matches chunks and units (a chunk is its own largest unit) and returns each
// parent chunk once, scored by its best match.

// UnitPartitionName is the name of knowledge base id's partition of chunk_units.
func UnitPartitionName(kbID int64) string { return "chunk_units_kb_" + strconv.FormatInt(kbID, 10) }

// UnitIndexName is the name of knowledge base id's HNSW index of units.
func UnitIndexName(kbID int64) string {
	return "chunk_units_embedding_kb_" + strconv.FormatInt(kbID, 10)
}

// unitFetch is how many units a vector search reads per parent chunk it must return:
// several units of one chunk often rank next to each other.
const unitFetch = 2

// queueUnits adds, after the statement that inserted a chunk, the rows of its units.
func queueUnits(batch *pgx.Batch, kbID int64, c kb.Chunk) {
	for _, u := range c.Units {
		batch.Queue(`INSERT INTO chunk_units (kb_id, chunk_id, kind, content, embedding)
			VALUES ($1, currval('chunks_id_seq'), $2, $3, $4)`, kbID, u.Kind, u.Content, vectorArg(u.Embedding))
	}
}

func vectorArg(v []float32) any {
	if v == nil {
		return nil
	}
	return pgvector.NewVector(v)
}

// unitVectorSQL is the vector leg over chunks and their units: the nearest live chunks
// (through the chunks' HNSW index) and the nearest units of live chunks (through the
// units' index, each feeding a nested loop to its chunk, so iterative scans go on until
// LIMIT rows pass), with the chunk each row stands for. Filters apply to the chunk.
func unitVectorSQL(k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) (string, []any, error) {
	if len(vec) != k.EmbeddingDim {
		return "", nil, fmt.Errorf("%w: query vector has %d dimensions, knowledge base %q has %d", kb.ErrInvalid, len(vec), k.Name, k.EmbeddingDim)
	}
	args := []any{k.ID, pgvector.NewVector(vec), limit, limit * unitFetch}
	where, args, err := filterSQL(f, args)
	if err != nil {
		return "", nil, err
	}
	cexpr, uexpr := VectorExpr("c", k.EmbeddingDim), VectorExpr("u", k.EmbeddingDim)
	return `(SELECT c.id, 1 - (` + cexpr + ` <=> $2) FROM chunks c
		WHERE c.kb_id = $1 AND c.live AND c.shadowed IS NOT TRUE AND c.embedding IS NOT NULL` + where + `
		ORDER BY ` + cexpr + ` <=> $2 LIMIT $3)
		UNION ALL
		(SELECT u.chunk_id, 1 - (` + uexpr + ` <=> $2) FROM chunk_units u
		JOIN chunks c ON c.kb_id = $1 AND c.id = u.chunk_id
		WHERE u.kb_id = $1 AND u.embedding IS NOT NULL AND c.live AND c.shadowed IS NOT TRUE` + where + `
		ORDER BY ` + uexpr + ` <=> $2 LIMIT $4)`, args, nil
}

// bestPerChunk keeps each chunk's best unit, best first (iterative scans return nearly
// sorted rows), at most limit chunks.
func bestPerChunk(units []kb.Ranked, limit int) []kb.Ranked {
	best := make(map[int64]float64, len(units))
	out := make([]kb.Ranked, 0, min(len(units), limit))
	for _, u := range units {
		if s, seen := best[u.ChunkID]; seen {
			if u.Score > s {
				best[u.ChunkID] = u.Score
			}
			continue
		}
		best[u.ChunkID] = u.Score
		out = append(out, u)
	}
	for i := range out {
		out[i].Score = best[out[i].ChunkID]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out[:min(len(out), limit)]
}

// UnitStats counts a knowledge base's units by kind.
func (s *Store) UnitStats(ctx context.Context, kbID int64) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, count(*) FROM chunk_units WHERE kb_id = $1 GROUP BY kind`, kbID)
	if err != nil {
		return nil, fmt.Errorf("store: count units: %w", err)
	}
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: count units: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// ChunkUnits lists a chunk's units (kind and text), in the order they were written.
func (s *Store) ChunkUnits(ctx context.Context, kbID, chunkID int64) ([]kb.Unit, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, content FROM chunk_units WHERE kb_id = $1 AND chunk_id = $2 ORDER BY id`, kbID, chunkID)
	if err != nil {
		return nil, fmt.Errorf("store: units of chunk %d: %w", chunkID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Unit, error) {
		var u kb.Unit
		return u, r.Scan(&u.Kind, &u.Content)
	})
	if err != nil {
		return nil, fmt.Errorf("store: units of chunk %d: %w", chunkID, err)
	}
	return out, nil
}

// UnitsWithoutShadow returns up to limit units of a knowledge base with ids above afterID
// that have no shadow vector yet, in id order, as sources whose IndexText is the unit's text.
func (s *Store) UnitsWithoutShadow(ctx context.Context, kbID, afterID int64, limit int) ([]ChunkSource, error) {
	rows, err := s.db.Query(ctx, `SELECT id, content FROM chunk_units
		WHERE kb_id = $1 AND id > $2 AND embedding_next IS NULL ORDER BY id LIMIT $3`, kbID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read units: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChunkSource, error) {
		var c ChunkSource
		return c, r.Scan(&c.ID, &c.IndexText)
	})
	if err != nil {
		return nil, fmt.Errorf("store: read units: %w", err)
	}
	return out, nil
}

// SetUnitShadowEmbeddings stores the target model's vectors of the given units, vecs[i]
// for ids[i], in one round trip. Units deleted meanwhile are skipped.
func (s *Store) SetUnitShadowEmbeddings(ctx context.Context, kbID int64, ids []int64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("store: set unit shadow vectors: %d ids, %d vectors", len(ids), len(vecs))
	}
	batch := &pgx.Batch{}
	for i, id := range ids {
		batch.Queue(`UPDATE chunk_units SET embedding_next = $3 WHERE kb_id = $1 AND id = $2`, kbID, id, pgvector.NewVector(vecs[i]))
	}
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store: set unit shadow vectors of knowledge base %d: %w", kbID, interpret(err))
	}
	return nil
}

// swapUnits embeds, inside SwapReembed's transaction, the units still lacking a shadow
// vector (written while the re-embed ran), then moves every unit's vector over.
func (tx *Store) swapUnits(ctx context.Context, kbID int64, embed ShadowEmbedder) error {
	for after := int64(0); ; {
		missing, err := tx.UnitsWithoutShadow(ctx, kbID, after, 256)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			break
		}
		vecs, err := embed(ctx, missing)
		if err != nil {
			return fmt.Errorf("store: embed units written during the re-embed: %w", err)
		}
		ids := make([]int64, len(missing))
		for i, c := range missing {
			ids[i] = c.ID
		}
		if err := tx.SetUnitShadowEmbeddings(ctx, kbID, ids, vecs); err != nil {
			return err
		}
		after = ids[len(ids)-1]
	}
	if _, err := tx.db.Exec(ctx, `UPDATE chunk_units SET embedding = embedding_next, embedding_next = NULL
		WHERE kb_id = $1`, kbID); err != nil {
		return fmt.Errorf("store: move unit shadow vectors of knowledge base %d: %w", kbID, err)
	}
	return nil
}

// SyncVectorIndexes rebuilds, concurrently (searches and writes go on, on the old index),
// each of knowledge base kbID's HNSW indexes whose m or ef_construction differ from the
// knowledge base's settings (retrieval.hnsw, else the process's): a new index is built
// under another name, then swapped in. It reports whether it rebuilt any.
func (s *Store) SyncVectorIndexes(ctx context.Context, kbID int64) (bool, error) {
	var dim int
	if err := s.db.QueryRow(ctx, `SELECT embedding_dim FROM knowledge_bases WHERE id = $1`, kbID).Scan(&dim); err != nil {
		return false, fmt.Errorf("store: knowledge base %d: %w", kbID, interpret(err))
	}
	if dim > maxHNSWDim {
		return false, nil
	}
	p := s.hnswOf(ctx, kbID)
	if p.M <= 0 {
		p.M = DefaultHNSW.M
	}
	if p.EfConstruction <= 0 {
		p.EfConstruction = DefaultHNSW.EfConstruction
	}
	want := []string{"m=" + strconv.Itoa(p.M), "ef_construction=" + strconv.Itoa(p.EfConstruction)}
	rebuilt := false
	for _, ix := range vectorIndexes(kbID) {
		var opts []string
		err := s.db.QueryRow(ctx, `SELECT coalesce(c.reloptions, '{}') FROM pg_class c
			WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, ix.name).Scan(&opts)
		if err == nil && len(opts) == 2 && opts[0] == want[0] && opts[1] == want[1] {
			continue
		}
		if err != nil && interpret(err) != kb.ErrNotFound {
			return rebuilt, fmt.Errorf("store: look up vector index of knowledge base %d: %w", kbID, err)
		}
		next := vecIndex{table: ix.table, name: ix.name + "_next"}
		for _, sql := range []string{
			`DROP INDEX CONCURRENTLY IF EXISTS ` + next.name, // an interrupted earlier run's
			indexSQL(next, dim, p, true),
			`DROP INDEX CONCURRENTLY IF EXISTS ` + ix.name,
			`ALTER INDEX ` + next.name + ` RENAME TO ` + ix.name,
		} {
			if _, err := s.db.Exec(ctx, sql); err != nil {
				return rebuilt, fmt.Errorf("store: rebuild vector index of knowledge base %d: %w", kbID, err)
			}
		}
		rebuilt = true
	}
	return rebuilt, nil
}
