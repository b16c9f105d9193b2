package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zhiku/zhiku/internal/kb"
)

const userCols = `id, tenant_id, email, display_name, role, kb_ids, created_at, disabled_at, password_hash`

func scanUser(row pgx.Row) (kb.User, error) {
	var u kb.User
	var role string
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.DisplayName, &role, &u.KBIDs, &u.CreatedAt, &u.DisabledAt, &u.PasswordHash)
	u.Role = kb.Role(role)
	return u, err
}

// NormalizeEmail is how emails are stored and looked up: trimmed and lower-cased.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// CreateUser stores a user whose PasswordHash is already set; an existing email in the
// tenant is kb.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u kb.User) (kb.User, error) {
	out, err := scanUser(s.db.QueryRow(ctx, `
		INSERT INTO users (tenant_id, email, display_name, password_hash, role, kb_ids)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+userCols,
		u.TenantID, NormalizeEmail(u.Email), u.DisplayName, u.PasswordHash, string(u.Role), u.KBIDs))
	if err != nil {
		return out, fmt.Errorf("store: create user %s: %w", u.Email, interpret(err))
	}
	return out, nil
}

// UsersByEmail returns the users with email in every tenant (an email may be a user of
// several tenants), disabled ones included, oldest first.
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]kb.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users WHERE email = $1 ORDER BY id`, NormalizeEmail(email))
	if err != nil {
		return nil, fmt.Errorf("store: users by email: %w", err)
	}
	return collectUsers(rows)
}

// ListUsers returns a tenant's users, oldest first.
func (s *Store) ListUsers(ctx context.Context, tenantID int64) ([]kb.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return collectUsers(rows)
}

func collectUsers(rows pgx.Rows) ([]kb.User, error) {
	defer rows.Close()
	var out []kb.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser changes user id of the tenant; disabling a user (or changing its password)
// also ends its sessions. A missing user is kb.ErrNotFound.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id int64, p kb.UserPatch) (kb.User, error) {
	var role *string
	if p.Role != nil {
		r := string(*p.Role)
		role = &r
	}
	setKBs := p.KBIDs != nil
	var kbIDs []int64
	if setKBs {
		kbIDs = *p.KBIDs
	}
	var out kb.User
	err := s.WithTx(ctx, func(tx *Store) error {
		var err error
		out, err = scanUser(tx.db.QueryRow(ctx, `
			UPDATE users SET
				display_name  = COALESCE($3, display_name),
				role          = COALESCE($4, role),
				kb_ids        = CASE WHEN $5 THEN $6 ELSE kb_ids END,
				disabled_at   = CASE WHEN $7::bool IS NULL THEN disabled_at
				                     WHEN $7 THEN COALESCE(disabled_at, now()) ELSE NULL END,
				password_hash = COALESCE($8, password_hash)
			WHERE tenant_id = $1 AND id = $2 RETURNING `+userCols,
			tenantID, id, p.DisplayName, role, setKBs, kbIDs, p.Disabled, p.PasswordHash))
		if err != nil {
			return err
		}
		if (p.Disabled != nil && *p.Disabled) || p.PasswordHash != nil {
			_, err = tx.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	if err != nil {
		return out, fmt.Errorf("store: update user %d: %w", id, interpret(err))
	}
	return out, nil
}
