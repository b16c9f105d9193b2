package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

// ListChunks returns a page of a document's chunks in reading order (ord), with their
// page, heading path and metadata, and how many it has: the admin UI's chunk preview. The
// document is given by id and must belong to knowledge base kbID (the caller resolved it).
// limit defaults to 50, at most 500.
func (s *Store) ListChunks(ctx context.Context, kbID, docID int64, limit, offset int) ([]kb.Chunk, int, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	offset = max(offset, 0)
	var total int
	// kb_id first: chunks are partitioned by knowledge base, so only its partition is read.
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1 AND document_id = $2`, kbID, docID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count chunks of document %d: %w", docID, interpret(err))
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, document_id, ord, content, section_path, page, metadata, content_hash
		FROM chunks WHERE kb_id = $1 AND document_id = $2 ORDER BY ord, id LIMIT $3 OFFSET $4`, kbID, docID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list chunks of document %d: %w", docID, interpret(err))
	}
	chunks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Chunk, error) {
		var c kb.Chunk
		err := r.Scan(&c.ID, &c.DocumentID, &c.Ord, &c.Content, &c.SectionPath, &c.Page, &c.Metadata, &c.ContentHash)
		if c.SectionPath == nil {
			c.SectionPath = []string{}
		}
		if c.Metadata == nil {
			c.Metadata = map[string]any{}
		}
		return c, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list chunks of document %d: %w", docID, err)
	}
	return chunks, total, nil
}

// DocumentVersions returns every stored version of a document's external id in knowledge
// base kbID, newest first: the current one and the superseded ones kept for audit (their
// chunks are gone, so their chunk count is 0).
func (s *Store) DocumentVersions(ctx context.Context, kbID int64, externalID string) ([]kb.Document, error) {
	rows, err := s.db.Query(ctx, `SELECT `+docColumns+` FROM documents d
		WHERE d.kb_id = $1 AND d.external_id = $2 ORDER BY d.version DESC, d.id DESC`, kbID, externalID)
	if err != nil {
		return nil, fmt.Errorf("store: versions of document %q: %w", externalID, interpret(err))
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Document, error) { return scanDoc(r) })
	if err != nil {
		return nil, fmt.Errorf("store: versions of document %q: %w", externalID, err)
	}
	return docs, nil
}

// productFields are the metadata keys a Product lifts out of Attributes.
var productFields = []string{"sku", "name", "price", "stock", "category", "brand"}

// ListProducts returns a page of a knowledge base's catalog (current catalog documents),
// by SKU, and how many match. query, when not empty, is a case-insensitive substring of
// the SKU, the name, the title or any attribute's value. limit defaults to 50, at most 500.
func (s *Store) ListProducts(ctx context.Context, kbID int64, query string, limit, offset int) ([]kb.Product, int, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	offset = max(offset, 0)
	pattern := ""
	if q := strings.TrimSpace(query); q != "" {
		pattern = "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	}
	// The match looks at values only (never the keys: "price" must not find every product).
	const where = `d.kb_id = $1 AND d.is_current AND d.kind = 'catalog'
		AND ($2 = '' OR d.title ILIKE $2 OR d.external_id ILIKE $2
		     OR EXISTS (SELECT 1 FROM jsonb_each_text(d.metadata) m WHERE m.value ILIKE $2))`
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE `+where, kbID, pattern).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count products: %w", interpret(err))
	}
	rows, err := s.db.Query(ctx, `SELECT d.id, d.external_id, d.title, d.status, d.source_name, d.metadata FROM documents d WHERE `+where+`
		ORDER BY coalesce(d.metadata->>'sku', d.external_id), d.id LIMIT $3 OFFSET $4`, kbID, pattern, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list products: %w", interpret(err))
	}
	products, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Product, error) {
		var p kb.Product
		var title string
		var meta map[string]any
		if err := r.Scan(&p.DocumentID, &p.ExternalID, &title, &p.Status, &p.SourceName, &meta); err != nil {
			return p, err
		}
		p.SKU, _ = meta["sku"].(string)
		p.Name, _ = meta["name"].(string)
		if p.Name == "" {
			p.Name = title
		}
		if v, ok := meta["price"].(float64); ok {
			p.Price = &v
		}
		if v, ok := meta["stock"].(float64); ok {
			n := int64(v)
			p.Stock = &n
		}
		p.Category, _ = meta["category"].(string)
		p.Brand, _ = meta["brand"].(string)
		lifted := make([]any, 0, len(productFields))
		for _, k := range productFields {
			switch v := meta[k].(type) {
			case string, float64: // comparable: lists or objects are never lifted values
				lifted = append(lifted, v)
			}
			delete(meta, k)
		}
		// Each well-known field is also kept under its column's own header ("售价": 1299):
		// a column holding exactly a lifted value is that field again, not an attribute.
		for k, v := range meta {
			switch v.(type) {
			case string, float64:
			default:
				continue
			}
			for _, l := range lifted {
				if v == l {
					delete(meta, k)
					break
				}
			}
		}
		if meta == nil {
			meta = map[string]any{}
		}
		p.Attributes = meta
		return p, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list products: %w", err)
	}
	return products, total, nil
}
