package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

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
// EmbeddingModel and EmbeddingDim of p; Language defaults to zh) and builds its own HNSW
// index, in one transaction. It returns kb.ErrConflict when the tenant has that name.
func (s *Store) CreateKB(ctx context.Context, p kb.KnowledgeBase) (kb.KnowledgeBase, error) {
	if p.Language == "" {
		p.Language = kb.LanguageZh
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
		return tx.createVectorIndex(ctx, out.ID, out.EmbeddingDim, DefaultHNSW)
	})
	return out, err
}

// VectorIndexName is the name of knowledge base id's partial HNSW index.
func VectorIndexName(kbID int64) string { return "chunks_embedding_kb_" + strconv.FormatInt(kbID, 10) }

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
}

// DefaultHNSW is what knowledge bases are indexed with.
var DefaultHNSW = HNSWParams{M: 16, EfConstruction: 64}

// indexSQL is the CREATE INDEX statement of a knowledge base's vector index. All values
// are integers from Zhiku's own rows and settings, never user text.
func indexSQL(kbID int64, dim int, p HNSWParams, concurrently bool) string {
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
	return fmt.Sprintf(`CREATE %s IF NOT EXISTS %s ON chunks USING hnsw (%s vector_cosine_ops) WITH (m = %d, ef_construction = %d) WHERE kb_id = %d`,
		how, VectorIndexName(kbID), VectorExpr("", dim), p.M, p.EfConstruction, kbID)
}

// createVectorIndex builds the knowledge base's own cosine HNSW index. The partial
// predicate and the cast let knowledge bases of different dimensions share one table.
func (s *Store) createVectorIndex(ctx context.Context, kbID int64, dim int, p HNSWParams) error {
	if dim > 2000 {
		// pgvector's HNSW indexes vectors up to 2,000 dimensions; larger ones are searched exactly.
		return nil
	}
	if _, err := s.db.Exec(ctx, indexSQL(kbID, dim, p, false)); err != nil {
		return fmt.Errorf("store: create vector index for knowledge base %d: %w", kbID, err)
	}
	return nil
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
	return k, nil
}

// DeleteKB removes a knowledge base with its documents, chunks and vector index.
func (s *Store) DeleteKB(ctx context.Context, tenantID, id int64) error {
	return s.WithTx(ctx, func(tx *Store) error {
		tag, err := tx.db.Exec(ctx, `DELETE FROM knowledge_bases WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return fmt.Errorf("store: delete knowledge base %d: %w", id, interpret(err))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store: delete knowledge base %d: %w", id, kb.ErrNotFound)
		}
		if _, err := tx.db.Exec(ctx, `DROP INDEX IF EXISTS `+VectorIndexName(id)); err != nil {
			return fmt.Errorf("store: drop vector index of knowledge base %d: %w", id, err)
		}
		return nil
	})
}
