package kb_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestNormalizeFAQ(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	until := from.Add(time.Hour)
	f, err := kb.NormalizeFAQ(kb.FAQ{
		Question: "\t保修多久？ ", Answer: " 两年。 ",
		SimilarQuestions: []string{"保修多久？", " 质保期 ", "质保期", "", "Warranty?", "WARRANTY?"},
		Tags:             nil, ValidFrom: &from, ValidUntil: &until,
	})
	require.NoError(t, err)
	require.Equal(t, "保修多久？", f.Question)
	require.Equal(t, "两年。", f.Answer)
	require.Equal(t, []string{"质保期", "Warranty?"}, f.SimilarQuestions)
	require.Equal(t, []string{}, f.Tags)
	require.Equal(t, kb.FAQSourceAPI, f.Source)

	_, err = kb.NormalizeFAQ(kb.FAQ{Question: "q", Answer: "a", SimilarQuestions: []string{strings.Repeat("x", kb.MaxFAQQuestion+1)}})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), "similar question")
	exactly := make([]string, kb.MaxFAQSimilar)
	for i := range exactly {
		exactly[i] = strings.Repeat("问", i+1)
	}
	_, err = kb.NormalizeFAQ(kb.FAQ{Question: "q", Answer: "a", SimilarQuestions: exactly})
	require.NoError(t, err, "the limit itself is allowed")
	_, err = kb.NormalizeFAQ(kb.FAQ{Question: "q", Answer: "a", Tags: []string{strings.Repeat("t", kb.MaxFAQTagLength+1)}})
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, err = kb.NormalizeFAQ(kb.FAQ{Question: "q", Answer: "a", CreatedBy: "x\x00"})
	require.ErrorIs(t, err, kb.ErrInvalid)
	g, err := kb.NormalizeFAQ(kb.FAQ{Question: "q", Answer: "a", Source: kb.FAQSourceGap})
	require.NoError(t, err)
	require.Equal(t, kb.FAQSourceGap, g.Source)
}

func TestNormalizeFeedback(t *testing.T) {
	t.Parallel()
	f, err := kb.NormalizeFeedback(kb.Feedback{AnswerID: " ans_1 ", Comment: " 有用 "})
	require.NoError(t, err)
	require.Equal(t, "ans_1", f.AnswerID)
	require.Equal(t, "有用", f.Comment)
	for _, bad := range []kb.Feedback{
		{AnswerID: ""},
		{AnswerID: strings.Repeat("a", 201)},
		{AnswerID: "a", Comment: strings.Repeat("评", kb.MaxFeedbackComment+1)},
		{AnswerID: "a\x00"},
	} {
		_, err := kb.NormalizeFeedback(bad)
		require.ErrorIs(t, err, kb.ErrInvalid)
		_, zh := kb.Texts(err)
		require.NotEmpty(t, zh, "both languages")
	}
}
