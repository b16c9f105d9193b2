package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CurrentExternalIDs lists the external ids of a knowledge base's current documents of one
// kind that came from one source (file name), so a replacing import can prune the rest.
func (s *Store) CurrentExternalIDs(ctx context.Context, kbID int64, kind, source string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT external_id FROM documents
		WHERE kb_id = $1 AND kind = $2 AND source_name = $3 AND is_current ORDER BY external_id`, kbID, kind, source)
	if err != nil {
		return nil, fmt.Errorf("store: external ids of %s from %q: %w", kind, source, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: external ids of %s from %q: %w", kind, source, err)
	}
	return ids, nil
}

// DeleteDocuments removes every version (and the chunks) of the given documents in one
// transaction and returns how many documents (current versions) went.
func (s *Store) DeleteDocuments(ctx context.Context, kbID int64, externalIDs []string) (int, error) {
	if len(externalIDs) == 0 {
		return 0, nil
	}
	var n int
	err := s.WithTx(ctx, func(tx *Store) error {
		if err := tx.db.QueryRow(ctx, `SELECT count(*) FROM documents WHERE kb_id = $1 AND external_id = ANY($2) AND is_current`,
			kbID, externalIDs).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `DELETE FROM documents WHERE kb_id = $1 AND external_id = ANY($2)`, kbID, externalIDs); err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, promoteShadowed, kbID); err != nil {
			return err
		}
		return tx.notifyChanged(ctx, kbID)
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete %d documents: %w", len(externalIDs), err)
	}
	return n, nil
}
