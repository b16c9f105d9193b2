package answer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
)

func TestCuratedMatchingAcceptsRewordingsAndKeepsNearMissesApart(t *testing.T) {
	t.Parallel()
	emb, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	entries := []kb.Curated{
		{Ref: "faq:1", FAQID: 1, Question: "怎么开发票", Similar: []string{"如何开具发票"}, Answer: "发票"},
		{Ref: "faq:2", FAQID: 2, Question: "退货运费谁承担", Answer: "退货运费"},
		{Ref: "faq:3", FAQID: 3, Question: "How do I return an item?", Answer: "returns"},
		{Ref: "faq:4", FAQID: 4, Question: "你们的营业时间是？", Similar: []string{"几点上班", "客服什么时候在"}, Answer: "hours"},
	}
	ix, err := buildCuratedIndex(context.Background(), entries, emb, nil, 1)
	require.NoError(t, err)
	score := func(q string) (string, float64) {
		m, ok, err := ix.match(context.Background(), Normalize(q))
		require.NoError(t, err)
		if !ok {
			return "", 0
		}
		return m.entry.Ref, m.score
	}
	for _, tc := range []struct{ q, ref string }{
		{"发票要怎么开具", "faq:1"},
		{"怎么开发票？", "faq:1"},
		{"退货运费由谁承担？", "faq:2"},
		{"how can I return an item", "faq:3"},
		{"客服几点上班", "faq:4"},
		{"你們的營業時間是", "faq:4"}, // traditional characters
	} {
		ref, s := score(tc.q)
		require.Equal(t, tc.ref, ref, tc.q)
		require.GreaterOrEqual(t, s, DefaultCuratedThreshold, "%s scored %.3f", tc.q, s)
	}
	for _, q := range []string{"换货运费谁承担", "How do I exchange an item?", "怎么开收据", "火星上有快递吗"} {
		_, s := score(q)
		require.Less(t, s, DefaultCuratedThreshold, "%s must not match (%.3f)", q, s)
	}
}
