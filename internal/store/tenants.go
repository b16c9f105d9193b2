package store

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
)

// EnsureTenant returns the tenant named name, creating it when absent.
func (s *Store) EnsureTenant(ctx context.Context, name string) (kb.Tenant, error) {
	var t kb.Tenant
	err := s.db.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
			RETURNING id, name, created_at)
		SELECT id, name, created_at FROM ins
		UNION ALL
		SELECT id, name, created_at FROM tenants WHERE name = $1
		LIMIT 1`, name).Scan(&t.ID, &t.Name, &t.CreatedAt)
	if err != nil {
		return t, fmt.Errorf("store: ensure tenant %q: %w", name, interpret(err))
	}
	return t, nil
}

// TenantByName returns the tenant named name, or kb.ErrNotFound.
func (s *Store) TenantByName(ctx context.Context, name string) (kb.Tenant, error) {
	var t kb.Tenant
	err := s.db.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE name = $1`, name).
		Scan(&t.ID, &t.Name, &t.CreatedAt)
	if err != nil {
		return t, fmt.Errorf("store: tenant %q: %w", name, interpret(err))
	}
	return t, nil
}
