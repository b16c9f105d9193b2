package ingest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
)

// An ingested FAQ file is read back as curated entries (store.CuratedEntries) exactly as
// written: the question and similar questions from the document, the answer from its chunk.
func TestIngestedFAQsAreCuratedEntries(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	b.ingest(t, "faq.csv", []byte(faqCSV+"How do I reset it?,Hold the power button for 10 s.,reset steps,,\n"), ingest.FileOptions{})
	entries, err := b.db.Store.CuratedEntries(context.Background(), b.kb.ID)
	require.NoError(t, err)
	byQuestion := map[string][2]any{}
	for _, e := range entries {
		require.NotZero(t, e.DocumentID)
		require.Zero(t, e.FAQID)
		byQuestion[e.Question] = [2]any{e.Answer, e.Similar}
	}
	require.Equal(t, map[string][2]any{
		"退货运费谁承担？":           {"七天无理由退货的运费由买家承担，质量问题由商家承担。", []string{"退货要自己出运费吗", "退回运费谁付"}},
		"多久发货？":              {"付款后 48 小时内发货。", []string{"什么时候发货"}},
		"How do I reset it?": {"Hold the power button for 10 s.", []string{"reset steps"}},
	}, byQuestion)
}
