package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffDoublesWithJitterAndCaps(t *testing.T) {
	t.Parallel()
	c := &Client{opts: Options{RetryBase: time.Second, RetryMax: 10 * time.Second}}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for id := range int64(20) {
			d := c.backoff(id, attempt)
			require.GreaterOrEqual(t, d, want*8/10, "attempt %d", attempt)
			require.LessOrEqual(t, d, want*12/10, "attempt %d", attempt)
			require.Equal(t, d, c.backoff(id, attempt), "the record and River agree on the time")
			seen[d] = true
		}
		require.Greater(t, len(seen), 10, "jobs that failed together spread out")
	}
}

func TestMergeAttemptsKeepsEarlierWrites(t *testing.T) {
	t.Parallel()
	prev := Result{DocumentsNew: 2, DocumentsUpdated: 1, DocumentsFailed: 3}
	cur := Result{DocumentsNew: 1, DocumentsUnchanged: 4, Chunks: 9}
	got := mergeAttempts(prev, cur)
	require.Equal(t, 3, got.DocumentsNew)
	require.Equal(t, 1, got.DocumentsUpdated)
	require.Equal(t, 1, got.DocumentsUnchanged, "the three written before come back unchanged")
	require.Equal(t, 0, got.DocumentsFailed, "failures are this attempt's")
	require.Equal(t, 9, got.Chunks)
	require.Equal(t, cur, mergeAttempts(Result{}, cur))
}

func TestStateFinal(t *testing.T) {
	t.Parallel()
	for s, final := range map[State]bool{StateQueued: false, StateRunning: false, StateSucceeded: true, StateFailed: true, StateCancelled: true} {
		require.Equal(t, final, s.Final(), s)
	}
	require.True(t, ValidKind("auto"))
	require.False(t, ValidKind("video"))
}
