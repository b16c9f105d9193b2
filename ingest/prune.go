package ingest

import (
	"context"
	"fmt"
	"strings"
)

// Pruner finds and deletes the documents a replacing import no longer has; *store.Store
// implements it. CurrentExternalIDs lists the current documents of a kind from a source
// (file name); DeleteDocuments removes documents with all their versions and chunks.
type Pruner interface {
	CurrentExternalIDs(ctx context.Context, kbID int64, kind, source string) ([]string, error)
	DeleteDocuments(ctx context.Context, kbID int64, externalIDs []string) (int, error)
}

// Prune deletes the documents of res.ReplaceScope ("catalog:<file name>") that the file no
// longer holds: SKUs dropped from a catalog. It returns the external ids removed. A result
// without a scope prunes nothing. Rows the file still holds stay even when writing them
// failed, so a transient error never deletes a product.
func Prune(ctx context.Context, p Pruner, kbID int64, res FileResult) ([]string, error) {
	kind, source, ok := strings.Cut(res.ReplaceScope, ":")
	if !ok || source == "" {
		return nil, nil
	}
	keep := make(map[string]bool, len(res.Units))
	for _, u := range res.Units {
		keep[u.Doc.ExternalID] = true
	}
	current, err := p.CurrentExternalIDs(ctx, kbID, kind, source)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", res.ReplaceScope, err)
	}
	var gone []string
	for _, id := range current {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if _, err := p.DeleteDocuments(ctx, kbID, gone); err != nil {
		return nil, fmt.Errorf("prune %s: %w", res.ReplaceScope, err)
	}
	return gone, nil
}
