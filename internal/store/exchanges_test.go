package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

func exchange(id string, tenantID, kbID int64, session string, at time.Time) kb.Exchange {
	return kb.Exchange{
		AnswerID: id, TenantID: tenantID, KBID: kbID, SessionID: session, Channel: "web", CustomerID: "c1",
		Question: "退货运费谁出？", RewrittenQuery: "退货 运费", Language: "zh", Answer: "我们承担。",
		Source: kb.SourceCurated, Answered: true, Confidence: 0.93, CuratedRef: "faq:1",
		Results: []kb.ExchangeResult{{ChunkID: 7, DocumentID: 3, Score: 0.8, Cited: true}}, LatencyMS: 12.5, CreatedAt: at,
	}
}

func TestExchangeLogAndFeedback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "log", 4)
	globex, err := b.st.EnsureTenant(ctx, "globex")
	require.NoError(t, err)
	gk := newKB(t, b.st, globex.ID, "log", 4)

	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	first := exchange("ans_1", b.tenant.ID, k.ID, "s1", t0)
	second := exchange("ans_2", b.tenant.ID, k.ID, "s1", t0.Add(time.Second))
	second.Source, second.Answered, second.Handoff, second.HandoffReason, second.CuratedRef = kb.SourceNone, false, true, "low_confidence", ""
	second.Results = nil
	second.Question = "bad\x00text \xff" // customers type anything; the batch must still land
	noTime := exchange("ans_3", b.tenant.ID, k.ID, "s2", time.Time{})
	theirs := exchange("ans_g", globex.ID, gk.ID, "s1", t0)
	require.NoError(t, b.st.LogExchanges(ctx, []kb.Exchange{first, second, noTime, theirs}))
	require.NoError(t, b.st.LogExchanges(ctx, []kb.Exchange{first}), "a batch written twice is harmless")
	require.NoError(t, b.st.LogExchanges(ctx, nil))
	gone := exchange("ans_gone", b.tenant.ID, 999999, "s1", t0)
	mixed := exchange("ans_mixed", b.tenant.ID, gk.ID, "s1", t0) // another tenant's knowledge base
	require.NoError(t, b.st.LogExchanges(ctx, []kb.Exchange{gone, mixed, exchange("ans_4", b.tenant.ID, k.ID, "s4", t0)}),
		"an exchange of a deleted knowledge base does not cost the batch")
	_, err = b.st.GetExchange(ctx, b.tenant.ID, "ans_4")
	require.NoError(t, err)
	_, err = b.st.GetExchange(ctx, b.tenant.ID, "ans_gone")
	require.ErrorIs(t, err, kb.ErrNotFound)
	_, err = b.st.GetExchange(ctx, b.tenant.ID, "ans_mixed")
	require.ErrorIs(t, err, kb.ErrNotFound)

	got, err := b.st.GetExchange(ctx, b.tenant.ID, "ans_1")
	require.NoError(t, err)
	require.True(t, got.CreatedAt.Equal(first.CreatedAt))
	got.CreatedAt = first.CreatedAt
	require.Equal(t, first, got)
	got2, err := b.st.GetExchange(ctx, b.tenant.ID, "ans_2")
	require.NoError(t, err)
	require.Equal(t, "badtext \uFFFD", got2.Question)
	require.Equal(t, []kb.ExchangeResult{}, got2.Results)
	require.True(t, got2.Handoff)
	got3, err := b.st.GetExchange(ctx, b.tenant.ID, "ans_3")
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), got3.CreatedAt, time.Minute, "a zero time is now")

	_, err = b.st.GetExchange(ctx, b.tenant.ID, "ans_g")
	require.ErrorIs(t, err, kb.ErrNotFound, "another tenant's answer")
	_, err = b.st.GetExchange(ctx, b.tenant.ID, "ans_none")
	require.ErrorIs(t, err, kb.ErrNotFound)

	session, err := b.st.SessionExchanges(ctx, k.ID, "s1", 10)
	require.NoError(t, err)
	require.Len(t, session, 2)
	require.Equal(t, []string{"ans_2", "ans_1"}, []string{session[0].AnswerID, session[1].AnswerID}, "newest first")
	one, err := b.st.SessionExchanges(ctx, k.ID, "s1", 1)
	require.NoError(t, err)
	require.Len(t, one, 1)

	require.NoError(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: "ans_1", TenantID: b.tenant.ID, Helpful: false, Comment: " 答非所问 "}))
	require.NoError(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: "ans_1", TenantID: b.tenant.ID, Helpful: true}))
	require.ErrorIs(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: "ans_none", TenantID: b.tenant.ID, Helpful: true}), kb.ErrNotFound)
	require.ErrorIs(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: "ans_g", TenantID: b.tenant.ID, Helpful: true}), kb.ErrNotFound,
		"feedback on another tenant's answer")
	require.ErrorIs(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: " ", TenantID: b.tenant.ID}), kb.ErrInvalid)
	require.ErrorIs(t, b.st.AddFeedback(ctx, kb.Feedback{AnswerID: "ans_1", TenantID: b.tenant.ID, Comment: "\x00"}), kb.ErrInvalid)

	var helpful, unhelpful int
	var comment string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE helpful), count(*) FILTER (WHERE NOT helpful),
		max(comment) FROM feedback WHERE answer_id = 'ans_1'`).Scan(&helpful, &unhelpful, &comment))
	require.Equal(t, 1, helpful)
	require.Equal(t, 1, unhelpful)
	require.Equal(t, "答非所问", comment)
}

// syncBuffer is a log sink safe for the writer's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func countExchanges(t *testing.T, b testBundle) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM exchanges`).Scan(&n))
	return n
}

func TestExchangeLogBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FlushesByInterval", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k := newKB(t, b.st, b.tenant.ID, "log", 4)
		l := store.NewExchangeLog(b.st, nil, store.ExchangeLogOptions{FlushInterval: 20 * time.Millisecond})
		defer l.Close(ctx)
		l.Record(exchange("ans_1", b.tenant.ID, k.ID, "s", time.Time{}))
		require.Eventually(t, func() bool { return countExchanges(t, b) == 1 }, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("FlushesByBatchSize", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k := newKB(t, b.st, b.tenant.ID, "log", 4)
		l := store.NewExchangeLog(b.st, nil, store.ExchangeLogOptions{BatchSize: 10, FlushInterval: time.Hour})
		defer l.Close(ctx)
		for i := range 25 {
			l.Record(exchange(fmt.Sprint("ans_", i), b.tenant.ID, k.ID, "s", time.Time{}))
		}
		require.Eventually(t, func() bool { return countExchanges(t, b) == 20 }, 5*time.Second, 10*time.Millisecond,
			"two full batches are written without waiting for the interval")
		require.NoError(t, l.Flush(ctx))
		require.Equal(t, 25, countExchanges(t, b))
	})

	t.Run("CloseWritesWhatIsLeft", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k := newKB(t, b.st, b.tenant.ID, "log", 4)
		logs := &syncBuffer{}
		l := store.NewExchangeLog(b.st, slog.New(slog.NewTextHandler(logs, nil)), store.ExchangeLogOptions{FlushInterval: time.Hour})
		for i := range 1200 {
			l.Record(exchange(fmt.Sprint("ans_", i), b.tenant.ID, k.ID, "s", time.Time{}))
		}
		require.NoError(t, l.Close(ctx))
		require.Equal(t, 1200, countExchanges(t, b))
		require.NoError(t, l.Close(ctx), "closing twice is fine")
		require.Error(t, l.Flush(ctx))

		l.Record(exchange("late", b.tenant.ID, k.ID, "s", time.Time{}))
		require.Equal(t, int64(1), l.Dropped(), "recorded after Close: dropped, not blocked")
		require.Contains(t, logs.String(), "dropped")
	})

	t.Run("DropsWhenFullWithoutBlocking", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k := newKB(t, b.st, b.tenant.ID, "log", 4)
		// Hold the exchanges table so the writer's first batch waits.
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck // released below; this covers a failed assertion
		_, err = tx.Exec(ctx, `LOCK TABLE exchanges IN ACCESS EXCLUSIVE MODE`)
		require.NoError(t, err)
		logs := &syncBuffer{}
		l := store.NewExchangeLog(b.st, slog.New(slog.NewTextHandler(logs, nil)), store.ExchangeLogOptions{BufferSize: 5, BatchSize: 1, FlushInterval: time.Hour})
		start := time.Now()
		for i := range 100 {
			l.Record(exchange(fmt.Sprint("ans_", i), b.tenant.ID, k.ID, "s", time.Time{}))
		}
		require.Less(t, time.Since(start), time.Second, "Record never waits for the database")
		require.GreaterOrEqual(t, l.Dropped(), int64(90))
		require.Equal(t, 1, strings.Count(logs.String(), "buffer full"), "one warning, not one per drop")
		require.NoError(t, tx.Rollback(ctx))
		require.NoError(t, l.Close(ctx))
		require.Equal(t, int(100-l.Dropped()), countExchanges(t, b))
	})
}
