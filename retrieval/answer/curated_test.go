package answer

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	ix, err := buildCuratedIndex(context.Background(), entries, indexSpec{emb: emb, gen: 1})
	require.NoError(t, err)
	score := func(q string) (string, float64) {
		m, ok, err := ix.match(context.Background(), Normalize(q), DefaultCuratedThreshold)
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

// BenchmarkCuratedMatch matches reworded questions against 500 curated entries of three
// phrasings each, with the local embedder: the per-request cost of the curated path.
func BenchmarkCuratedMatch(b *testing.B) {
	emb, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(b, err)
	topics := []string{"退货", "换货", "发票", "物流", "保修", "安装", "滤网", "电池", "充电", "配网", "尺寸", "颜色", "优惠券", "积分", "会员"}
	var entries []kb.Curated
	for i := 0; i < 500; i++ {
		t := topics[i%len(topics)]
		entries = append(entries, kb.Curated{Ref: "faq:" + t, Question: fmt.Sprintf("XR-%d 的%s怎么处理", i, t),
			Similar: []string{fmt.Sprintf("%s问题 XR-%d", t, i), fmt.Sprintf("请问XR-%d%s要多久", i, t)}, Answer: "a"})
	}
	ix, err := buildCuratedIndex(context.Background(), entries, indexSpec{emb: emb, gen: 1})
	require.NoError(b, err)
	qs := []string{"XR-17的退货要怎么处理呀", "发票问题 XR-200 呢", "请问XR-3 保修多久"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := ix.match(context.Background(), Normalize(qs[i%len(qs)]), DefaultCuratedThreshold); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCuratedRebuild rebuilds the index of 500 curated entries after one of them
// changed, reusing the other phrasings' features: what an operator's edit costs the next
// request. The first build (nothing to reuse) is timed once and reported as first_build_ms.
func BenchmarkCuratedRebuild(b *testing.B) {
	emb, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(b, err)
	var entries []kb.Curated
	for i := 0; i < 500; i++ {
		entries = append(entries, kb.Curated{Ref: fmt.Sprintf("faq:%d", i), Question: fmt.Sprintf("XR-%d 的滤网多久更换一次", i),
			Similar: []string{fmt.Sprintf("XR-%d 滤网什么时候换", i), fmt.Sprintf("XR-%d filter replacement", i)}, Answer: "a"})
	}
	cache := &featureCache{}
	sp := indexSpec{kbID: 1, model: "local", emb: emb, gen: 1, cache: cache}
	start := time.Now()
	_, err = buildCuratedIndex(context.Background(), entries, sp)
	require.NoError(b, err)
	first := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		entries[i%len(entries)].Similar = append(entries[i%len(entries)].Similar, fmt.Sprintf("edit %d", i))
		if _, err := buildCuratedIndex(context.Background(), entries, sp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Milliseconds()), "first_build_ms")
}
