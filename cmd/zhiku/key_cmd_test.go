package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

func TestKeyExpiresRateListRevoke(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_RATE_LIMIT": "20"}
	ctx := context.Background()

	out, _, err := run(ctx, env, "key", "create", "--role", "bot", "--name", "shop-bot", "--expires", "30d", "--rate-limit", "2.5")
	require.NoError(t, err)
	require.Contains(t, out, "expires ")
	require.Contains(t, out, "2.5 requests/s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	p, err := principalFor(ctx, db, lines[len(lines)-1])
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(30*24*time.Hour), *p.ExpiresAt, time.Minute)
	require.Equal(t, 2.5, *p.RateLimit)

	out, _, err = run(ctx, env, "key", "create", "--role", "bot")
	require.NoError(t, err)
	require.Contains(t, out, "never expires")
	require.Contains(t, out, "20 requests/s (ZHIKU_RATE_LIMIT)")

	for _, bad := range []string{"yesterday", "0d", "-1h", "2001-01-01"} {
		_, _, err = run(ctx, env, "key", "create", "--role", "bot", "--expires", bad)
		require.ErrorContains(t, err, "--expires", bad)
	}
	_, _, err = run(ctx, env, "key", "create", "--role", "bot", "--rate-limit", "-1")
	require.ErrorContains(t, err, "--rate-limit")

	out, _, err = run(ctx, env, "key", "list")
	require.NoError(t, err)
	require.Contains(t, out, "shop-bot")
	require.Contains(t, out, "2.5/s")
	require.Contains(t, out, "default")
	require.NotContains(t, out, lines[len(lines)-1], "keys are never listed, only prefixes")

	id := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[2])[0] // the older key, listed last
	out, _, err = run(ctx, env, "key", "revoke", id)
	require.NoError(t, err)
	require.Contains(t, out, "revoked key "+id)
	_, err = principalFor(ctx, db, lines[len(lines)-1])
	require.Error(t, err, "the revoked key no longer resolves")
	_, _, err = run(ctx, env, "key", "revoke", id)
	require.ErrorContains(t, err, "no live key")
	out, _, err = run(ctx, env, "key", "list")
	require.NoError(t, err)
	require.Contains(t, out, "revoked")
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90d":                  now.Add(90 * 24 * time.Hour),
		"36h":                  now.Add(36 * time.Hour),
		"2030-02-01":           time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
		"2030-01-01T13:00:00Z": now.Add(time.Hour),
	} {
		got, err := parseExpiry(in, now)
		require.NoError(t, err, in)
		require.True(t, want.Equal(got), "%s: %s", in, got)
	}
	for _, bad := range []string{"", "soon", "d", "1.5d", "2029-12-31", "-5m"} {
		_, err := parseExpiry(bad, now)
		require.ErrorContains(t, err, "--expires", bad)
	}
}
