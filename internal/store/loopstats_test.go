package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestTopQuestionsCountNormalisedPhrasingsPerKnowledgeBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	shop := newKB(t, b.st, b.tenant.ID, "shop", 4)
	faq := newKB(t, b.st, b.tenant.ID, "faq", 4)
	globex, err := b.st.EnsureTenant(ctx, "globex")
	require.NoError(t, err)
	theirs := newKB(t, b.st, globex.ID, "shop", 4)

	now := time.Now()
	n := 0
	ask := func(k kb.KnowledgeBase, q string, answered bool, at time.Time) {
		n++
		e := exchange(fmt.Sprintf("tq_%d", n), k.TenantID, k.ID, "s", at)
		e.Question, e.Answered = q, answered
		require.NoError(t, b.st.LogExchanges(ctx, []kb.Exchange{e}))
	}
	// Three phrasings of one question (width, case, spaces, punctuation), answered twice.
	ask(shop, "E104 是什么故障？", true, now)
	ask(shop, "e104是什么故障", true, now.Add(-time.Hour))
	ask(shop, "Ｅ１０４ 是什么故障!", false, now.Add(-2*time.Hour))
	// Asked less often but never answered.
	ask(shop, "能用花呗分期吗", false, now)
	ask(shop, "能用花呗分期吗？", false, now)
	ask(shop, "保修多久", true, now)
	ask(shop, "？！", false, now)                        // nothing left to count
	ask(shop, "保修多久", true, now.Add(-10*24*time.Hour)) // outside a 7-day window
	ask(faq, "E104 是什么故障", true, now)                  // another knowledge base: its own row
	ask(theirs, "能用花呗分期吗", false, now)                 // another tenant: never seen
	ask(theirs, "能用花呗分期吗", false, now)

	top, err := b.st.TopQuestions(ctx, b.tenant.ID, nil, 7, 10, false)
	require.NoError(t, err)
	require.Len(t, top, 4)
	require.Equal(t, kb.TopQuestion{KBID: shop.ID, KnowledgeBase: "shop", Question: top[0].Question, Count: 3, Answered: 2, Unanswered: 1}, top[0])
	require.Contains(t, []string{"E104 是什么故障？", "e104是什么故障", "Ｅ１０４ 是什么故障!"}, top[0].Question, "shown in a phrasing customers used")
	require.Equal(t, 2, top[1].Count)
	require.Equal(t, 0, top[1].Answered)
	require.Equal(t, "faq", top[2].KnowledgeBase, "ties: by question")
	require.Equal(t, "保修多久", top[3].Question)

	top, err = b.st.TopQuestions(ctx, b.tenant.ID, []int64{shop.ID}, 30, 10, false)
	require.NoError(t, err)
	require.Len(t, top, 3)
	require.Equal(t, "保修多久", top[1].Question, "ties: by question")
	require.Equal(t, 2, top[1].Count, "30 days reach the older question")

	un, err := b.st.TopQuestions(ctx, b.tenant.ID, []int64{shop.ID}, 7, 10, true)
	require.NoError(t, err)
	require.Len(t, un, 2, "questions always answered are not in the unanswered list")
	require.Equal(t, 2, un[0].Unanswered)
	require.Contains(t, un[0].Question, "花呗")
	require.Equal(t, 1, un[1].Unanswered)
	require.Equal(t, 3, un[1].Count)

	one, err := b.st.TopQuestions(ctx, b.tenant.ID, nil, 7, 1, false)
	require.NoError(t, err)
	require.Len(t, one, 1)
	none, err := b.st.TopQuestions(ctx, globex.ID, []int64{shop.ID}, 7, 10, false)
	require.NoError(t, err)
	require.Empty(t, none, "another tenant's knowledge base id reaches nothing")
}
