package store

import (
	"context"
	"fmt"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// CreateKeyParams describes a new API key; KeyHash is the SHA-256 of the key.
type CreateKeyParams struct {
	TenantID int64
	Name     string
	Prefix   string
	KeyHash  []byte
	Role     kb.Role
	KBIDs    []int64 // nil: all of the tenant's knowledge bases
	// ExpiresAt is when the key stops working; nil: never.
	ExpiresAt *time.Time
	// RateLimit is the key's requests per second; nil: the server's default, 0: unlimited.
	RateLimit *float64
}

// CreateKey stores a key's hash and returns its id.
func (s *Store) CreateKey(ctx context.Context, p CreateKeyParams) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `
		INSERT INTO api_keys (tenant_id, name, prefix, key_hash, role, kb_ids, expires_at, rate_limit)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.TenantID, p.Name, p.Prefix, p.KeyHash, string(p.Role), p.KBIDs, p.ExpiresAt, p.RateLimit).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: create key: %w", interpret(err))
	}
	return id, nil
}

// PrincipalByKeyHash resolves a key that is not revoked to its principal, or kb.ErrNotFound.
// An expired key is resolved too, with its ExpiresAt: the caller refuses it, and can say
// why (the API checks expiry on every request, cached principals included).
func (s *Store) PrincipalByKeyHash(ctx context.Context, hash []byte) (kb.Principal, error) {
	var p kb.Principal
	var role string
	err := s.db.QueryRow(ctx, `
		UPDATE api_keys SET last_used_at = CASE WHEN expires_at IS NULL OR expires_at > now() THEN now() ELSE last_used_at END
		WHERE key_hash = $1 AND revoked_at IS NULL
		RETURNING id, CASE WHEN name = '' THEN prefix ELSE name END, tenant_id, role, kb_ids, expires_at, rate_limit`, hash).
		Scan(&p.KeyID, &p.Name, &p.TenantID, &role, &p.KBIDs, &p.ExpiresAt, &p.RateLimit)
	if err != nil {
		return p, fmt.Errorf("store: look up key: %w", interpret(err))
	}
	p.Role = kb.Role(role)
	return p, nil
}

// RevokeKey revokes key id of the tenant.
func (s *Store) RevokeKey(ctx context.Context, tenantID, id int64) error {
	// The notification goes out when the update commits: every process's key cache
	// forgets its keys then (ListenOptions.OnKeyRevoked), not when its entries expire.
	tag, err := s.db.Exec(ctx, `
		WITH r AS (UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id)
		SELECT pg_notify($3, 'key:' || id) FROM r`, tenantID, id, KBChangedChannel)
	if err != nil {
		return fmt.Errorf("store: revoke key %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: revoke key %d: %w", id, kb.ErrNotFound)
	}
	return nil
}
