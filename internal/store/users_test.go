package store_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestUsersAndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	st := b.db.Store
	ten, err := st.EnsureTenant(ctx, "acme")
	require.NoError(t, err)
	k := newKB(t, st, ten.ID, "kb1", 8)

	u, err := st.CreateUser(ctx, kb.User{TenantID: ten.ID, Email: " Op@Example.com ", PasswordHash: "h", Role: kb.RoleUploader, KBIDs: []int64{k.ID}})
	require.NoError(t, err)
	require.Equal(t, "op@example.com", u.Email)
	_, err = st.CreateUser(ctx, kb.User{TenantID: ten.ID, Email: "op@example.com", PasswordHash: "h", Role: kb.RoleAdmin})
	require.ErrorIs(t, err, kb.ErrConflict)
	found, err := st.UsersByEmail(ctx, "OP@example.com")
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, "h", found[0].PasswordHash)

	// A user's session resolves to the user's current role and knowledge bases.
	id := sha256.Sum256([]byte("session-1"))
	require.NoError(t, st.CreateSession(ctx, kb.Session{IDHash: id[:], TenantID: ten.ID, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	p, sess, err := st.SessionPrincipal(ctx, id[:], time.Hour, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, kb.Principal{Name: "op@example.com", TenantID: ten.ID, Role: kb.RoleUploader, KBIDs: []int64{k.ID}}, p)
	require.Equal(t, u.ID, sess.UserID)

	op := kb.RoleOperator
	all := []int64(nil)
	u, err = st.UpdateUser(ctx, ten.ID, u.ID, kb.UserPatch{Role: &op, KBIDs: &all})
	require.NoError(t, err)
	require.Nil(t, u.KBIDs)
	p, _, err = st.SessionPrincipal(ctx, id[:], time.Hour, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, kb.RoleOperator, p.Role)
	require.Nil(t, p.KBIDs)

	// Disabling ends the session; another tenant cannot touch the user.
	yes := true
	_, err = st.UpdateUser(ctx, ten.ID+1000, u.ID, kb.UserPatch{Disabled: &yes})
	require.ErrorIs(t, err, kb.ErrNotFound)
	u, err = st.UpdateUser(ctx, ten.ID, u.ID, kb.UserPatch{Disabled: &yes})
	require.NoError(t, err)
	require.NotNil(t, u.DisabledAt)
	_, _, err = st.SessionPrincipal(ctx, id[:], time.Hour, 24*time.Hour)
	require.ErrorIs(t, err, kb.ErrNotFound)

	// Expired sessions are gone; a key's session ends with the key.
	old := sha256.Sum256([]byte("expired"))
	require.NoError(t, st.CreateSession(ctx, kb.Session{IDHash: old[:], TenantID: ten.ID, AdminKeyHash: []byte("x"), ExpiresAt: time.Now().Add(-time.Minute)}))
	_, _, err = st.SessionPrincipal(ctx, old[:], time.Hour, 24*time.Hour)
	require.ErrorIs(t, err, kb.ErrNotFound)

	key, err := st.CreateAPIKey(ctx, kb.APIKey{TenantID: ten.ID, Name: "ops", Prefix: "zk_abc", Role: kb.RoleOperator}, []byte("keyhash"))
	require.NoError(t, err)
	require.Equal(t, "ops", key.Name)
	ks := sha256.Sum256([]byte("key-session"))
	require.NoError(t, st.CreateSession(ctx, kb.Session{IDHash: ks[:], TenantID: ten.ID, KeyID: key.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	p, _, err = st.SessionPrincipal(ctx, ks[:], time.Hour, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, "ops", p.Name)
	require.Equal(t, key.ID, p.KeyID)
	require.NoError(t, st.RevokeKey(ctx, ten.ID, key.ID))
	_, _, err = st.SessionPrincipal(ctx, ks[:], time.Hour, 24*time.Hour)
	require.ErrorIs(t, err, kb.ErrNotFound)
	require.NoError(t, st.DeleteSession(ctx, ks[:]))

	keys, err := st.ListKeys(ctx, ten.ID)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.NotNil(t, keys[0].RevokedAt)

	require.NoError(t, st.Audit(ctx, kb.AuditEntry{TenantID: ten.ID, Actor: "a", Action: "kb.create", Target: "kb1"}))
	require.NoError(t, st.Audit(ctx, kb.AuditEntry{TenantID: ten.ID, Actor: "a", Action: "key.create", Target: "k"}))
	recs, err := st.ListAudit(ctx, ten.ID, "kb.", 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "kb1", recs[0].Target)
}
