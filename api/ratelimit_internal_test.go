package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// The bucket on a clock the test moves: a burst of one second's worth, then one request
// per 1/rate, and Retry-After the time to the next token.
func TestKeyLimiterBucket(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := newKeyLimiter(0)
	l.now = func() time.Time { return now }
	four := 4.0
	p := kb.Principal{KeyID: 7, RateLimit: &four}
	for i := range 4 {
		ok, _ := l.allow(p)
		require.True(t, ok, "request %d of the burst", i+1)
	}
	ok, retry := l.allow(p)
	require.False(t, ok)
	require.InDelta(t, 250*time.Millisecond, retry, float64(time.Millisecond))
	now = now.Add(250 * time.Millisecond)
	ok, _ = l.allow(p)
	require.True(t, ok, "a token a quarter second later")
	ok, _ = l.allow(p)
	require.False(t, ok)

	other := kb.Principal{KeyID: 8, RateLimit: &four}
	ok, _ = l.allow(other)
	require.True(t, ok, "each key has its own bucket")

	// A changed rate starts a fresh bucket at the new rate.
	half := 0.5
	p.RateLimit = &half
	ok, _ = l.allow(p)
	require.True(t, ok)
	ok, retry = l.allow(p)
	require.False(t, ok)
	require.InDelta(t, 2*time.Second, retry, float64(time.Millisecond))
	ae, after := rateLimited(half, retry)
	require.Equal(t, "2", after)
	require.Equal(t, 429, ae.Status)
	require.Contains(t, ae.MessageZh, "2 秒后重试")

	// No rate of its own and no default: unlimited; the default applies otherwise.
	for range 100 {
		ok, _ = l.allow(kb.Principal{KeyID: 9})
		require.True(t, ok)
	}
	d := newKeyLimiter(1)
	d.now = l.now
	ok, _ = d.allow(kb.Principal{KeyID: 9})
	require.True(t, ok)
	ok, retry = d.allow(kb.Principal{KeyID: 9})
	require.False(t, ok)
	_, after = rateLimited(1, retry)
	require.Equal(t, "1", after, "Retry-After is whole seconds, at least 1")
}

func TestAdmitKeyExpiry(t *testing.T) {
	t.Parallel()
	s := &Server{limits: newKeyLimiter(0)}
	now := time.Unix(1_700_000_000, 0)
	s.limits.now = func() time.Time { return now }
	at := now.Add(time.Second)
	p := kb.Principal{KeyID: 1, ExpiresAt: &at}
	ae, _ := s.admitKey(p)
	require.Nil(t, ae)
	now = at // expiry is exclusive: at expires_at the key no longer works
	ae, _ = s.admitKey(p)
	require.NotNil(t, ae)
	require.Equal(t, 401, ae.Status)
	require.Equal(t, "key_expired", ae.Code)
	require.Contains(t, ae.Message, "2023-11-14T22:13:21Z")
}
