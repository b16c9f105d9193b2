package store_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

func TestKeyExpiryAndRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	rate := 2.5
	mk := func(key string, p store.CreateKeyParams) []byte {
		sum := sha256.Sum256([]byte(key))
		p.TenantID, p.Prefix, p.KeyHash, p.Role = b.tenant.ID, key[:6], sum[:], kb.RoleBot
		_, err := b.st.CreateKey(ctx, p)
		require.NoError(t, err)
		return sum[:]
	}
	expired := mk("zk_expired", store.CreateKeyParams{ExpiresAt: &past})
	live := mk("zk_live", store.CreateKeyParams{ExpiresAt: &future, RateLimit: &rate})
	plain := mk("zk_plain", store.CreateKeyParams{})

	// An expired key still resolves, with its expiry, so the API can say it expired; its
	// last use is not moved by the refused attempt.
	p, err := b.st.PrincipalByKeyHash(ctx, expired)
	require.NoError(t, err)
	require.NotNil(t, p.ExpiresAt)
	require.True(t, p.ExpiresAt.Before(time.Now()))
	keys, err := b.st.ListKeys(ctx, b.tenant.ID)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	byPrefix := map[string]kb.APIKey{}
	for _, k := range keys {
		byPrefix[k.Prefix] = k
	}
	require.Nil(t, byPrefix["zk_exp"].LastUsedAt, "an expired key's use is not recorded as a use")
	require.WithinDuration(t, past, *byPrefix["zk_exp"].ExpiresAt, time.Millisecond)

	p, err = b.st.PrincipalByKeyHash(ctx, live)
	require.NoError(t, err)
	require.WithinDuration(t, future, *p.ExpiresAt, time.Millisecond)
	require.Equal(t, 2.5, *p.RateLimit)
	require.Equal(t, 2.5, *byPrefix["zk_liv"].RateLimit, "listed with its rate")

	p, err = b.st.PrincipalByKeyHash(ctx, plain)
	require.NoError(t, err)
	require.Nil(t, p.ExpiresAt, "no expiry: never")
	require.Nil(t, p.RateLimit, "no rate: the server's default")

	// A negative rate is refused by the table.
	neg := -1.0
	sum := sha256.Sum256([]byte("zk_negative"))
	_, err = b.st.CreateKey(ctx, store.CreateKeyParams{TenantID: b.tenant.ID, Prefix: "zk_neg", KeyHash: sum[:], Role: kb.RoleBot, RateLimit: &neg})
	require.Error(t, err)

	// A session signed in with a key ends when the key expires.
	k, err := b.st.CreateAPIKey(ctx, kb.APIKey{TenantID: b.tenant.ID, Prefix: "zk_sess", Role: kb.RoleOperator, ExpiresAt: &past}, []byte("session-key-hash"))
	require.NoError(t, err)
	sid := sha256.Sum256([]byte("session-of-expired-key"))
	require.NoError(t, b.st.CreateSession(ctx, kb.Session{IDHash: sid[:], TenantID: b.tenant.ID, KeyID: k.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	_, _, err = b.st.SessionPrincipal(ctx, sid[:], time.Hour, 24*time.Hour)
	require.ErrorIs(t, err, kb.ErrNotFound)
}
