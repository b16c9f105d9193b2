package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

func TestFAQCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "faq", 4)
	other := newKB(t, b.st, b.tenant.ID, "faq-other", 4)

	f, err := b.st.CreateFAQ(ctx, kb.FAQ{
		KBID: k.ID, Question: "  退货运费谁出？ ", Answer: "质量问题由我们承担运费。\n",
		SimilarQuestions: []string{"退货要自己付运费吗", " ", "退货运费谁出？", "退货要自己付运费吗 ", "RETURN shipping?", "return shipping?"},
		Tags:             []string{"售后", "售后", ""}, CreatedBy: "ops@example.com",
	})
	require.NoError(t, err)
	require.NotZero(t, f.ID)
	require.Equal(t, "退货运费谁出？", f.Question)
	require.Equal(t, "质量问题由我们承担运费。", f.Answer)
	require.Equal(t, []string{"退货要自己付运费吗", "RETURN shipping?"}, f.SimilarQuestions, "trimmed, deduplicated, without the question")
	require.Equal(t, []string{"售后"}, f.Tags)
	require.Equal(t, kb.FAQSourceAPI, f.Source)
	require.Equal(t, "ops@example.com", f.CreatedBy)
	require.Nil(t, f.ValidFrom)

	got, err := b.st.GetFAQ(ctx, k.ID, f.ID)
	require.NoError(t, err)
	require.Equal(t, f.Question, got.Question)
	_, err = b.st.GetFAQ(ctx, other.ID, f.ID)
	require.ErrorIs(t, err, kb.ErrNotFound, "a FAQ is reached only through its knowledge base")

	from := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	until := from.Add(48 * time.Hour)
	up, err := b.st.UpdateFAQ(ctx, k.ID, f.ID, kb.FAQ{Question: "退货运费由谁承担？", Answer: "新答案", SimilarQuestions: nil, ValidFrom: &from, ValidUntil: &until})
	require.NoError(t, err)
	require.Equal(t, "退货运费由谁承担？", up.Question)
	require.Equal(t, []string{}, up.SimilarQuestions)
	require.Equal(t, []string{}, up.Tags)
	require.True(t, from.Equal(*up.ValidFrom))
	require.True(t, until.Equal(*up.ValidUntil))
	require.Equal(t, "ops@example.com", up.CreatedBy, "the author stays")
	require.True(t, up.UpdatedAt.After(f.UpdatedAt) || up.UpdatedAt.Equal(f.UpdatedAt))
	_, err = b.st.UpdateFAQ(ctx, other.ID, f.ID, kb.FAQ{Question: "q", Answer: "a"})
	require.ErrorIs(t, err, kb.ErrNotFound)

	require.ErrorIs(t, b.st.DeleteFAQ(ctx, other.ID, f.ID), kb.ErrNotFound)
	require.NoError(t, b.st.DeleteFAQ(ctx, k.ID, f.ID))
	require.ErrorIs(t, b.st.DeleteFAQ(ctx, k.ID, f.ID), kb.ErrNotFound)
	_, err = b.st.GetFAQ(ctx, k.ID, f.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)

	// Deleting the knowledge base takes its FAQs along.
	g, err := b.st.CreateFAQ(ctx, kb.FAQ{KBID: other.ID, Question: "q", Answer: "a"})
	require.NoError(t, err)
	require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, other.ID))
	_, err = b.st.GetFAQ(ctx, other.ID, g.ID)
	require.ErrorIs(t, err, kb.ErrNotFound)
}

func TestFAQValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "faq", 4)
	now := time.Now()
	earlier := now.Add(-time.Hour)
	many := make([]string, kb.MaxFAQSimilar+1)
	for i := range many {
		many[i] = fmt.Sprint("问法 ", i)
	}
	for name, c := range map[string]struct {
		f     kb.FAQ
		field string
	}{
		"no question":      {kb.FAQ{Question: "  ", Answer: "a"}, "question"},
		"no answer":        {kb.FAQ{Question: "q", Answer: "\n"}, "answer"},
		"long question":    {kb.FAQ{Question: strings.Repeat("问", kb.MaxFAQQuestion+1), Answer: "a"}, "question"},
		"long answer":      {kb.FAQ{Question: "q", Answer: strings.Repeat("答", kb.MaxFAQAnswer+1)}, "answer"},
		"NUL in question":  {kb.FAQ{Question: "q\x00", Answer: "a"}, "question"},
		"NUL in answer":    {kb.FAQ{Question: "q", Answer: "a\x00b"}, "answer"},
		"NUL in similar":   {kb.FAQ{Question: "q", Answer: "a", SimilarQuestions: []string{"x\x00"}}, "similar_questions"},
		"NUL in tags":      {kb.FAQ{Question: "q", Answer: "a", Tags: []string{"\x00"}}, "tags"},
		"bad UTF-8":        {kb.FAQ{Question: "q\xff", Answer: "a"}, "question"},
		"too many similar": {kb.FAQ{Question: "q", Answer: "a", SimilarQuestions: many}, "similar_questions"},
		"window backwards": {kb.FAQ{Question: "q", Answer: "a", ValidFrom: &now, ValidUntil: &earlier}, "valid_until"},
		"empty window":     {kb.FAQ{Question: "q", Answer: "a", ValidFrom: &now, ValidUntil: &now}, "valid_until"},
		"unknown source":   {kb.FAQ{Question: "q", Answer: "a", Source: "web"}, "source"},
	} {
		c.f.KBID = k.ID
		_, err := b.st.CreateFAQ(ctx, c.f)
		require.ErrorIs(t, err, kb.ErrInvalid, name)
		require.Contains(t, err.Error(), c.field, name)
		_, zh := kb.Texts(err)
		require.NotEmpty(t, zh, "%s: both languages", name)
	}
	_, err := b.st.UpdateFAQ(ctx, k.ID, 1, kb.FAQ{Question: "", Answer: "a"})
	require.ErrorIs(t, err, kb.ErrInvalid, "updates are validated too")
	_, total, err := b.st.ListFAQs(ctx, k.ID, "", 0, 0)
	require.NoError(t, err)
	require.Zero(t, total, "nothing invalid was stored")

	_, err = b.st.CreateFAQ(ctx, kb.FAQ{KBID: 999999, Question: "q", Answer: "a"})
	require.ErrorIs(t, err, kb.ErrInvalid, "an unknown knowledge base breaks the foreign key")
}

func TestListFAQs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "faq", 4)
	other := newKB(t, b.st, b.tenant.ID, "faq-other", 4)
	for _, f := range []kb.FAQ{
		{Question: "How long is the Warranty?", Answer: "Two years."},
		{Question: "退货运费谁出？", Answer: "我们承担。", SimilarQuestions: []string{"退货邮费"}},
		{Question: "发票怎么开？", Answer: "在订单页申请电子发票，100% 免费。"},
	} {
		f.KBID = k.ID
		_, err := b.st.CreateFAQ(ctx, f)
		require.NoError(t, err)
	}
	_, err := b.st.CreateFAQ(ctx, kb.FAQ{KBID: other.ID, Question: "warranty elsewhere", Answer: "x"})
	require.NoError(t, err)

	all, total, err := b.st.ListFAQs(ctx, k.ID, "", 0, 0)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Equal(t, "发票怎么开？", all[0].Question, "newest first")

	page, total, err := b.st.ListFAQs(ctx, k.ID, "", 2, 2)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Len(t, page, 1)
	require.Equal(t, "How long is the Warranty?", page[0].Question)

	for q, want := range map[string][]string{
		"WARRANTY": {"How long is the Warranty?"}, // question, any case
		"two year": {"How long is the Warranty?"}, // answer
		"邮费":       {"退货运费谁出？"},                   // a similar question
		"100%":     {"发票怎么开？"},                    // '%' is literal
		"_":        nil,
		"  ":       {"发票怎么开？", "退货运费谁出？", "How long is the Warranty?"},
	} {
		got, total, err := b.st.ListFAQs(ctx, k.ID, q, 10, 0)
		require.NoError(t, err, q)
		require.Equal(t, len(want), total, q)
		var qs []string
		for _, f := range got {
			qs = append(qs, f.Question)
		}
		require.Equal(t, want, qs, q)
	}
	_, _, err = b.st.ListFAQs(ctx, k.ID, "a\x00", 10, 0)
	require.ErrorIs(t, err, kb.ErrInvalid)
}

func TestCuratedEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "curated", 4)
	other := newKB(t, b.st, b.tenant.ID, "curated-other", 4)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	farPast := past.Add(-time.Hour)

	create := func(kbID int64, q string, from, until *time.Time) kb.FAQ {
		f, err := b.st.CreateFAQ(ctx, kb.FAQ{KBID: kbID, Question: q, Answer: "答：" + q, SimilarQuestions: []string{q + "吗"}, ValidFrom: from, ValidUntil: until})
		require.NoError(t, err)
		return f
	}
	always := create(k.ID, "always", nil, nil)
	started := create(k.ID, "started", &past, nil)
	create(k.ID, "not yet", &future, nil)
	create(k.ID, "expired", nil, &past)
	window := create(k.ID, "window", &farPast, &future)
	create(k.ID, "closed window", &farPast, &past)
	create(other.ID, "elsewhere", nil, nil)

	// Ingested FAQ entries, written as ingest writes them (ingest/faq.go): one chunk, "问：…\n答：…".
	putFAQDoc := func(ext, status, q, content string, similar []any) kb.Document {
		res, err := b.st.ReplaceDocument(ctx, kb.Document{
			KBID: k.ID, ExternalID: ext, Title: q, Kind: kb.KindFAQ, Status: status, ContentHash: ext + content,
			Metadata: map[string]any{"question": q, "similar_questions": similar, "category": "", "tags": []any{}},
		}, []kb.Chunk{{Content: content, Embedding: []float32{1, 0, 0, 0}, Tokens: []string{"x"}}}, "test-model", 2)
		require.NoError(t, err)
		return res.Document
	}
	zh := putFAQDoc("faq:zh", kb.StatusReady, "保修多久？", "问：保修多久？\n答：整机保修两年。\n电机保修十年。", []any{"保修期", "质保多久"})
	en := putFAQDoc("faq:en", kb.StatusReady, "Can I return it?", "Q: Can I return it?\nA: Yes, within 7 days. A: really.", []any{})
	putFAQDoc("faq:review", kb.StatusReview, "held", "问：held\n答：not live", nil)
	_, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "manual", Kind: kb.KindManual, Status: kb.StatusReady, ContentHash: "m"},
		[]kb.Chunk{{Content: "问：not a faq\n答：x", Embedding: []float32{1, 0, 0, 0}}}, "test-model", 2)
	require.NoError(t, err)
	// A re-ingested entry serves its current version only.
	zh2 := putFAQDoc("faq:zh", kb.StatusReady, "保修多久？", "问：保修多久？\n答：整机保修三年。", []any{"保修期"})
	require.NotEqual(t, zh.ID, zh2.ID)

	got, err := b.st.CuratedEntries(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, []kb.Curated{
		{Ref: fmt.Sprintf("faq:%d", always.ID), FAQID: always.ID, Question: "always", Similar: []string{"always吗"}, Answer: "答：always"},
		{Ref: fmt.Sprintf("faq:%d", started.ID), FAQID: started.ID, Question: "started", Similar: []string{"started吗"}, Answer: "答：started"},
		{Ref: fmt.Sprintf("faq:%d", window.ID), FAQID: window.ID, Question: "window", Similar: []string{"window吗"}, Answer: "答：window"},
		{Ref: fmt.Sprintf("doc:%d", en.ID), DocumentID: en.ID, Question: "Can I return it?", Similar: []string{}, Answer: "Yes, within 7 days. A: really."},
		{Ref: fmt.Sprintf("doc:%d", zh2.ID), DocumentID: zh2.ID, Question: "保修多久？", Similar: []string{"保修期"}, Answer: "整机保修三年。"},
	}, got)

	none, err := b.st.CuratedEntries(ctx, 999999)
	require.NoError(t, err)
	require.Empty(t, none)
}

// The store's FAQ methods satisfy what the answer pipeline and the API declare (checked
// for real in cmd/zhiku); this keeps the store's own signatures from drifting.
var _ interface {
	CuratedEntries(ctx context.Context, kbID int64) ([]kb.Curated, error)
} = (*store.Store)(nil)
