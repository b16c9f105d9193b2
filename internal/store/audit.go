package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
)

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e kb.AuditEntry) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("store: audit details: %w", err)
	}
	if e.Details == nil {
		details = []byte("{}")
	}
	var tenant any
	if e.TenantID != 0 {
		tenant = e.TenantID
	}
	_, err = s.db.Exec(ctx, `
		INSERT INTO audit_log (tenant_id, actor, action, target, details, request_id)
		VALUES ($1, $2, $3, $4, $5, $6)`, tenant, e.Actor, e.Action, e.Target, details, e.RequestID)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return nil
}

// CountAudit counts a tenant's audit entries with the given action (for tests and the UI).
func (s *Store) CountAudit(ctx context.Context, tenantID int64, action string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2`, tenantID, action).Scan(&n)
	return n, err
}
