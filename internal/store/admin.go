package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
)

// CreateAPIKey stores a key (its SHA-256 in hash) described by k and returns it as listed.
func (s *Store) CreateAPIKey(ctx context.Context, k kb.APIKey, hash []byte) (kb.APIKey, error) {
	id, err := s.CreateKey(ctx, CreateKeyParams{TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, KeyHash: hash, Role: k.Role, KBIDs: k.KBIDs, ExpiresAt: k.ExpiresAt, RateLimit: k.RateLimit})
	if err != nil {
		return k, err
	}
	return s.getKey(ctx, k.TenantID, id)
}

const keyCols = `id, tenant_id, name, prefix, role, kb_ids, created_at, last_used_at, revoked_at, expires_at, rate_limit`

func (s *Store) getKey(ctx context.Context, tenantID, id int64) (kb.APIKey, error) {
	var k kb.APIKey
	var role string
	err := s.db.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &role, &k.KBIDs, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &k.ExpiresAt, &k.RateLimit)
	k.Role = kb.Role(role)
	if err != nil {
		return k, fmt.Errorf("store: key %d: %w", id, interpret(err))
	}
	return k, nil
}

// ListKeys returns a tenant's API keys, newest first, revoked ones included.
func (s *Store) ListKeys(ctx context.Context, tenantID int64) ([]kb.APIKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var out []kb.APIKey
	for rows.Next() {
		var k kb.APIKey
		var role string
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &role, &k.KBIDs, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt, &k.ExpiresAt, &k.RateLimit); err != nil {
			return nil, fmt.Errorf("store: scan key: %w", err)
		}
		k.Role = kb.Role(role)
		out = append(out, k)
	}
	return out, rows.Err()
}

// ListAudit returns a tenant's audit entries, newest first, before id (0: from the newest),
// at most limit; action filters by prefix ("kb." for every knowledge-base action).
func (s *Store) ListAudit(ctx context.Context, tenantID int64, action string, before int64, limit int) ([]kb.AuditRecord, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, actor, action, target, details, request_id, created_at FROM audit_log
		WHERE tenant_id = $1 AND ($2 = '' OR starts_with(action, $2)) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, tenantID, action, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []kb.AuditRecord
	for rows.Next() {
		var r kb.AuditRecord
		var details []byte
		if err := rows.Scan(&r.ID, &r.Actor, &r.Action, &r.Target, &details, &r.RequestID, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: scan audit: %w", err)
		}
		_ = json.Unmarshal(details, &r.Details)
		out = append(out, r)
	}
	return out, rows.Err()
}
