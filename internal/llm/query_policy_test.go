package llm

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Queries have their own policy: fewer retries than documents, and after a failure a
// cooldown in which they fail at once, until one query finds the provider back.
func TestEmbedQueryPolicy(t *testing.T) {
	t.Parallel()

	t.Run("FewerRetriesThanDocuments", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "slow down")
				return true
			}
		})
		e, err := NewEmbedder(EmbedderConfig{BaseURL: srv.URL, Model: "m", RetryConfig: tinyRetry, QueryCooldown: -1})
		require.NoError(t, err)

		_, err = e.EmbedQuery(context.Background(), "q 1")
		require.True(t, IsTransient(err))
		require.ErrorContains(t, err, "HTTP 429")
		require.EqualValues(t, 1+DefaultQueryRetries, srv.requests.Load())

		srv.requests.Store(0)
		_, err = e.EmbedDocuments(context.Background(), docs(1))
		require.ErrorContains(t, err, "after 4 attempts")
		require.EqualValues(t, 1+DefaultMaxRetries, srv.requests.Load())
	})

	t.Run("ShorterAttempts", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, _ http.ResponseWriter, r *http.Request) bool {
				waitForHangUp(r)
				return true
			}
		})
		// Documents may take an hour an attempt; a query gives up after its own timeout.
		e, err := NewEmbedder(EmbedderConfig{BaseURL: srv.URL, Model: "m", RetryConfig: tinyRetry,
			Timeout: time.Hour, QueryTimeout: 30 * time.Millisecond, QueryRetries: -1, QueryCooldown: -1})
		require.NoError(t, err)
		_, err = e.EmbedQuery(context.Background(), "q 1")
		require.ErrorIs(t, err, errTimeout)
		require.True(t, IsTransient(err))
	})

	t.Run("CooldownThenProbe", func(t *testing.T) {
		t.Parallel()
		var down atomic.Bool
		down.Store(true)
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				if down.Load() {
					w.WriteHeader(http.StatusInternalServerError)
					return true
				}
				return false
			}
		})
		e, err := NewEmbedder(EmbedderConfig{BaseURL: srv.URL, Model: "m", RetryConfig: tinyRetry, QueryRetries: -1, QueryCooldown: time.Hour})
		require.NoError(t, err)
		ctx := context.Background()

		_, err = e.EmbedQuery(ctx, "q 1")
		require.ErrorContains(t, err, "HTTP 500")
		require.EqualValues(t, 1, srv.requests.Load())
		// In the cooldown: no request, a transient error that says why.
		_, err = e.EmbedQuery(ctx, "q 2")
		require.True(t, IsTransient(err))
		require.ErrorIs(t, err, errCoolingDown)
		require.ErrorContains(t, err, "HTTP 500")
		require.EqualValues(t, 1, srv.requests.Load(), "a query in the cooldown sends nothing")
		// Documents are not held back: ingestion has its own retries.
		_, err = e.EmbedDocuments(ctx, docs(1))
		require.Error(t, err)
		require.Greater(t, srv.requests.Load(), int64(1))

		// The cooldown ends (moved to the past here): one probe finds the provider back,
		// and queries flow again.
		down.Store(false)
		e.queryCooldown.mu.Lock()
		e.queryCooldown.until = time.Now().Add(-time.Millisecond)
		e.queryCooldown.mu.Unlock()
		v, err := e.EmbedQuery(ctx, "q 3")
		require.NoError(t, err)
		require.Equal(t, vectorFor("q 3", 4), v)
		_, err = e.EmbedQuery(ctx, "q 4")
		require.NoError(t, err)
	})

	t.Run("OneProbeAtATime", func(t *testing.T) {
		t.Parallel()
		c := &cooldown{d: time.Minute}
		now := time.Now()
		c.done(false, &Error{Op: "embeddings", StatusCode: 503, Transient: true, Message: "busy"}, now)
		_, skip := c.enter(now.Add(time.Second))
		require.ErrorContains(t, skip, "HTTP 503 busy")
		probe, skip := c.enter(now.Add(2 * time.Minute))
		require.True(t, probe)
		require.NoError(t, skip)
		_, skip = c.enter(now.Add(2 * time.Minute))
		require.ErrorContains(t, skip, "another query is checking", "a second query waits for the probe's verdict")
		// A probe cancelled by its caller says nothing about the provider: the next query probes.
		c.done(true, context.Canceled, now.Add(2*time.Minute))
		probe, skip = c.enter(now.Add(2 * time.Minute))
		require.True(t, probe)
		require.NoError(t, skip)
	})
}
