package store

import (
	"context"
	"fmt"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// CreateSession stores a new admin UI session (its id already hashed by the caller) and
// drops expired ones, so the table never grows past the live sessions.
func (s *Store) CreateSession(ctx context.Context, ss kb.Session) error {
	var user, key any
	if ss.UserID != 0 {
		user = ss.UserID
	}
	if ss.KeyID != 0 {
		key = ss.KeyID
	}
	_, err := s.db.Exec(ctx, `
		WITH gone AS (DELETE FROM sessions WHERE expires_at < now())
		INSERT INTO sessions (id_hash, tenant_id, user_id, key_id, admin_key_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		ss.IDHash, ss.TenantID, user, key, ss.AdminKeyHash, ss.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create session: %w", interpret(err))
	}
	return nil
}

// SessionPrincipal resolves a live session to whoever signed in, read afresh from the
// user or the key: a disabled user, a revoked or expired key or an expired session is
// kb.ErrNotFound. Each use slides the expiry to now+idle, never past created_at+maxAge.
// For a session of the bootstrap admin key the principal is empty and sess.AdminKeyHash
// set: the caller compares it with the current key.
func (s *Store) SessionPrincipal(ctx context.Context, idHash []byte, idle, maxAge time.Duration) (kb.Principal, kb.Session, error) {
	var p kb.Principal
	var sess kb.Session
	var userID, keyID *int64
	var name, role *string
	err := s.db.QueryRow(ctx, `
		WITH live AS (
			UPDATE sessions SET expires_at = LEAST(created_at + $3::interval, now() + $2::interval)
			WHERE id_hash = $1 AND expires_at > now()
			RETURNING tenant_id, user_id, key_id, admin_key_hash, expires_at)
		SELECT l.tenant_id, l.user_id, l.key_id, l.admin_key_hash, l.expires_at,
		       COALESCE(u.email, CASE WHEN k.name = '' THEN k.prefix ELSE k.name END),
		       COALESCE(u.role, k.role), COALESCE(u.kb_ids, k.kb_ids)
		FROM live l
		LEFT JOIN users u ON u.id = l.user_id AND u.disabled_at IS NULL
		LEFT JOIN api_keys k ON k.id = l.key_id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
		idHash, idle.String(), maxAge.String()).
		Scan(&sess.TenantID, &userID, &keyID, &sess.AdminKeyHash, &sess.ExpiresAt, &name, &role, &p.KBIDs)
	if err != nil {
		return p, sess, fmt.Errorf("store: session: %w", interpret(err))
	}
	sess.IDHash = idHash
	if userID != nil {
		sess.UserID = *userID
	}
	if keyID != nil {
		sess.KeyID = *keyID
		p.KeyID = *keyID
	}
	if sess.AdminKeyHash != nil {
		return kb.Principal{TenantID: sess.TenantID}, sess, nil
	}
	if name == nil || role == nil { // the user was disabled or the key revoked
		return p, sess, fmt.Errorf("store: session: %w", kb.ErrNotFound)
	}
	p.Name, p.Role, p.TenantID = *name, kb.Role(*role), sess.TenantID
	return p, sess, nil
}

// DeleteSession ends a session; ending one that does not exist is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}
