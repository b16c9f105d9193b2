package closedloop_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

type loopBundle struct {
	db      *storetest.DB
	capture *closedloop.Capture
	svc     *closedloop.Service
	kb      kb.KnowledgeBase
	tenant  kb.Tenant
}

func setupLoop(t *testing.T) *loopBundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, "shop-a")
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "shop", Language: "zh", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	emb, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(t, err)
	c := closedloop.NewCapture(closedloop.CaptureDeps{
		Grouper: closedloop.NewGrouper(emb, db.Store, closedloop.GroupOptions{}),
		Writer:  db.Store, Hits: db.Store, Exchanges: db.Store,
	}, closedloop.CaptureOptions{})
	go c.Run(ctx)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return &loopBundle{db: db, capture: c, svc: closedloop.NewService(closedloop.ServiceDeps{Store: db.Store, Curation: db.Store}), kb: k, tenant: tenant}
}

var seq int

// exchange logs an exchange in the exchanges table (as the answer log would) and records it.
func (b *loopBundle) exchange(t *testing.T, q string, answered bool, source, ref string, at time.Time) kb.Exchange {
	t.Helper()
	seq++
	e := kb.Exchange{AnswerID: fmt.Sprintf("ans_%s_%d", t.Name(), seq), TenantID: b.tenant.ID, KBID: b.kb.ID, Channel: "web",
		CustomerID: "13812345678", Question: q, Answered: answered, Source: source, CuratedRef: ref, Confidence: 0.2, CreatedAt: at}
	if answered {
		e.Confidence = 0.9
	}
	_, err := b.db.Pool.Exec(context.Background(), `INSERT INTO exchanges (answer_id, tenant_id, kb_id, channel, customer_id, question,
		answered, source, curated_ref, confidence, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		e.AnswerID, e.TenantID, e.KBID, e.Channel, e.CustomerID, e.Question, e.Answered, e.Source, e.CuratedRef, e.Confidence, e.CreatedAt)
	require.NoError(t, err)
	b.capture.Record(e)
	return e
}

func (b *loopBundle) flush(t *testing.T) {
	t.Helper()
	require.NoError(t, b.capture.Flush(context.Background()))
}

func (b *loopBundle) open(t *testing.T) []kb.Gap {
	t.Helper()
	gaps, _, err := b.svc.List(context.Background(), kb.GapFilter{TenantID: b.tenant.ID, Status: kb.GapOpen})
	require.NoError(t, err)
	return gaps
}

func TestCaptureGroupResolveHits(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	ctx := context.Background()
	now := time.Now()
	b.exchange(t, "怎么退货", false, kb.SourceNone, "", now)
	b.exchange(t, "退货流程是什么", false, kb.SourceNone, "", now)
	b.exchange(t, "我想退货，该怎么操作", false, kb.SourceNone, "", now)
	b.exchange(t, "怎么换货", false, kb.SourceNone, "", now)
	ok := b.exchange(t, "发票怎么开", true, kb.SourceExtractive, "", now) // answered well: no gap
	b.flush(t)

	gaps := b.open(t)
	require.Len(t, gaps, 2, "returns and exchanges are two gaps: %+v", gaps)
	ret := gaps[0]
	require.Equal(t, "怎么退货", ret.Question)
	require.Equal(t, 3, ret.Count)
	require.Equal(t, []string{"web"}, ret.Channels)
	require.Equal(t, 3, ret.Last24h)
	require.Equal(t, "up", ret.Trend)

	// A thumbs-down on the well-answered question files it too, once.
	b.capture.RecordFeedback(kb.Feedback{AnswerID: ok.AnswerID, TenantID: b.tenant.ID, Helpful: false})
	b.capture.RecordFeedback(kb.Feedback{AnswerID: ok.AnswerID, TenantID: b.tenant.ID, Helpful: false})
	b.capture.RecordSearchMiss(b.kb.TenantID, b.kb.ID, "保修多久", "dify", 0.1)
	b.flush(t)
	require.Len(t, b.open(t), 4)

	g, faq, err := b.svc.Resolve(ctx, b.tenant.ID, nil, ret.ID, closedloop.Resolution{Answer: "在订单页点“申请退货”。", By: "ops"})
	require.NoError(t, err)
	require.Equal(t, kb.GapResolved, g.Status)
	require.Equal(t, kb.FAQSourceGap, faq.Source)
	require.Equal(t, "怎么退货", faq.Question)
	require.ElementsMatch(t, []string{"退货流程是什么", "我想退货，该怎么操作"}, faq.SimilarQuestions)
	_, _, err = b.svc.Resolve(ctx, b.tenant.ID, nil, ret.ID, closedloop.Resolution{Answer: "again"})
	require.ErrorIs(t, err, kb.ErrConflict)

	// Later answers from that FAQ count hits on the gap.
	ref := fmt.Sprintf("faq:%d", faq.ID)
	b.exchange(t, "怎么退货", true, kb.SourceCurated, ref, time.Now())
	b.exchange(t, "退货怎么弄", true, kb.SourceCurated, ref, time.Now())
	b.flush(t)
	d, err := b.svc.Get(ctx, b.tenant.ID, nil, ret.ID)
	require.NoError(t, err)
	require.Equal(t, 2, d.Hits)
	require.Len(t, d.Occurrences, 3)

	// A new question like the resolved one starts a new gap rather than joining it.
	b.exchange(t, "退货流程怎么走", false, kb.SourceNone, "", time.Now())
	b.flush(t)
	for _, g := range b.open(t) {
		require.NotEqual(t, ret.ID, g.ID)
	}

	// Stats: today 8 questions, 3 answered (1 extractive, 2 curated), one gap resolved with 2 hits.
	st, err := b.svc.Stats(ctx, b.tenant.ID, nil, 2)
	require.NoError(t, err)
	require.Len(t, st, 2)
	today := st[1]
	require.Equal(t, 8, today.Questions)
	require.Equal(t, 3, today.Answered)
	require.InDelta(t, 0.375, today.AnsweredRate, 1e-9)
	require.InDelta(t, 0.667, today.CuratedShare, 1e-9)
	require.InDelta(t, 0.333, today.ExtractiveShare, 1e-9)
	require.Equal(t, 1, today.GapsResolved)
	require.Equal(t, 2, today.ResolvedGapHits)
	require.NotNil(t, today.MedianResolveHrs)
	require.Equal(t, 4, today.OpenGaps) // exchange, invoice (thumbs-down), warranty (search miss), the new return question
	require.Equal(t, 0, st[0].Questions)

	// Another tenant sees none of it.
	other, err := b.db.Store.EnsureTenant(ctx, "shop-b")
	require.NoError(t, err)
	_, err = b.svc.Get(ctx, other.ID, nil, ret.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)
	_, err = b.svc.Dismiss(ctx, other.ID, nil, gaps[1].ID, "spam")
	require.ErrorIs(t, err, kb.ErrNotFound)
	// Nor a key bound to other knowledge bases.
	_, err = b.svc.Get(ctx, b.tenant.ID, []int64{b.kb.ID + 1000}, ret.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)
}

func TestMergeSplitDismiss(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	ctx := context.Background()
	now := time.Now()
	b.exchange(t, "怎么退货", false, kb.SourceNone, "", now)
	b.exchange(t, "退货流程是什么", false, kb.SourceNone, "", now.Add(time.Second))
	b.exchange(t, "买的东西不想要了怎么办", false, kb.SourceNone, "", now.Add(2*time.Second))
	b.exchange(t, "优惠券用不了", false, kb.SourceNone, "", now.Add(3*time.Second))
	b.flush(t)
	gaps := b.open(t)
	require.Len(t, gaps, 3)
	byQ := map[string]kb.Gap{}
	for _, g := range gaps {
		byQ[g.Question] = g
	}
	ret, unwanted := byQ["怎么退货"], byQ["买的东西不想要了怎么办"]

	merged, err := b.svc.Merge(ctx, b.tenant.ID, nil, []int64{ret.ID, unwanted.ID})
	require.NoError(t, err)
	require.Equal(t, 3, merged.Count)
	require.Equal(t, "怎么退货", merged.Question)
	require.Len(t, b.open(t), 2)
	_, err = b.svc.Get(ctx, b.tenant.ID, nil, unwanted.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)

	d, err := b.svc.Get(ctx, b.tenant.ID, nil, ret.ID)
	require.NoError(t, err)
	var move []int64
	for _, o := range d.Occurrences {
		if o.Question == "买的东西不想要了怎么办" {
			move = append(move, o.ID)
		}
	}
	split, err := b.svc.Split(ctx, b.tenant.ID, nil, ret.ID, move)
	require.NoError(t, err)
	require.Equal(t, 1, split.Count)
	require.Equal(t, "买的东西不想要了怎么办", split.Question)
	d, err = b.svc.Get(ctx, b.tenant.ID, nil, ret.ID)
	require.NoError(t, err)
	require.Equal(t, 2, d.Count)
	// Moving every occurrence is refused: the gap would be empty.
	all := []int64{d.Occurrences[0].ID, d.Occurrences[1].ID}
	_, err = b.svc.Split(ctx, b.tenant.ID, nil, ret.ID, all)
	require.ErrorIs(t, err, kb.ErrInvalid)

	coupon := byQ["优惠券用不了"]
	_, err = b.svc.Dismiss(ctx, b.tenant.ID, nil, coupon.ID, "nonsense")
	require.ErrorIs(t, err, kb.ErrInvalid)
	g, err := b.svc.Dismiss(ctx, b.tenant.ID, nil, coupon.ID, "out_of_scope")
	require.NoError(t, err)
	require.Equal(t, kb.GapDismissed, g.Status)
	_, err = b.svc.Merge(ctx, b.tenant.ID, nil, []int64{ret.ID, coupon.ID})
	require.ErrorIs(t, err, kb.ErrConflict)
}

func TestStaleCuratedAnswersFlagged(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	ctx := context.Background()
	var docID int64
	require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO documents (kb_id, external_id, title, kind, status)
		VALUES ($1, 'returns.pdf', '退货政策', 'manual', 'ready') RETURNING id`, b.kb.ID).Scan(&docID))
	b.exchange(t, "怎么退货", false, kb.SourceNone, "", time.Now())
	b.flush(t)
	g := b.open(t)[0]
	_, faq, err := b.svc.Resolve(ctx, b.tenant.ID, nil, g.ID, closedloop.Resolution{Answer: "见退货政策。", DocumentIDs: []int64{docID}})
	require.NoError(t, err)
	items, err := b.svc.Review(ctx, b.tenant.ID, nil, 0)
	require.NoError(t, err)
	require.Empty(t, items)

	// Re-ingested: the old version stops being current.
	_, err = b.db.Pool.Exec(ctx, `UPDATE documents SET is_current = false, status = 'superseded' WHERE id = $1`, docID)
	require.NoError(t, err)
	items, err = b.svc.Review(ctx, b.tenant.ID, nil, 0)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "faq", items[0].Type)
	require.Equal(t, faq.ID, items[0].ID)
	require.Contains(t, items[0].Reason, "returns.pdf was re-ingested")
	require.Equal(t, "引用的文档 returns.pdf 已重新导入", items[0].ReasonZh)

	// Saving the FAQ with a new answer clears the flag.
	_, err = b.db.Store.UpdateFAQ(ctx, b.kb.ID, faq.ID, kb.FAQ{Question: faq.Question, Answer: "新的退货政策：……"})
	require.NoError(t, err)
	items, err = b.svc.Review(ctx, b.tenant.ID, nil, 0)
	require.NoError(t, err)
	require.Empty(t, items)

	// Ticket Q&A held for review shows up with its approve and reject routes.
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO documents (kb_id, external_id, title, kind, status) VALUES ($1, 'tickets-1', '工单问答', 'tickets', 'review')`, b.kb.ID)
	require.NoError(t, err)
	items, err = b.svc.Review(ctx, b.tenant.ID, nil, 0)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "tickets", items[0].Kind)
	require.Contains(t, items[0].ApprovePath, "/approve")
	require.Equal(t, "held for review", items[0].Reason, "a document without a status line")
	require.Equal(t, "等待审核", items[0].ReasonZh)
}

func TestPurgeExchanges(t *testing.T) {
	t.Parallel()
	b := setupLoop(t)
	ctx := context.Background()
	b.exchange(t, "很久以前的问题", false, kb.SourceNone, "", time.Now().Add(-100*24*time.Hour))
	b.exchange(t, "今天的问题", false, kb.SourceNone, "", time.Now())
	b.flush(t)
	n, err := b.db.Store.PurgeExchanges(ctx, time.Now().Add(-90*24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var left int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM exchanges`).Scan(&left))
	require.Equal(t, 1, left)
	var blanked int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM gap_occurrences WHERE customer_id = ''`).Scan(&blanked))
	require.Equal(t, 1, blanked)
}

func TestMaskCustomerID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "u42": "**2", "13812345678": "*******5678", "ab": "**", "客户张三": "***三"} {
		require.Equal(t, want, closedloop.MaskCustomerID(in), in)
	}
}
