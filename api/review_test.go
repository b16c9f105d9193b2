package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestApproveAndRejectReviewedDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "tickets", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	res, err := b.db.Store.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "ticket:abc", Title: "E104?", Kind: kb.KindTickets, Status: kb.StatusReview},
		[]kb.Chunk{{Content: "问：E104？\n答：电机过热", ContentHash: "h1", Embedding: []float32{1, 0, 0}, Tokens: []string{"e104"}}}, "zhiku-hash-v1", 3)
	require.NoError(t, err)
	doc := res.Document
	live := func() bool {
		var v bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT live FROM chunks WHERE document_id = $1`, doc.ID).Scan(&v))
		return v
	}
	require.False(t, live(), "held for review")
	base := "/v1/knowledge-bases/tickets/documents/"

	bot := b.key(t, "default", kb.RoleBot)
	require.Equal(t, 403, b.do(t, bot, "POST", base+"ticket:abc/approve", "").Code)
	require.Equal(t, 404, b.do(t, adminKey, "POST", base+"ticket:nope/approve", "").Code)
	other := b.key(t, "other", kb.RoleAdmin)
	require.Equal(t, 404, b.do(t, other, "POST", base+"ticket:abc/approve", "").Code, "another tenant's KB is invisible")

	op := b.key(t, "default", kb.RoleOperator)
	r := b.do(t, op, "POST", base+"ticket:abc/approve", "")
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, kb.StatusReady, r.Body["status"])
	require.True(t, live())

	r = b.do(t, op, "POST", base+fmt.Sprint(doc.ID)+"/reject", `{"reason":"答案过时"}`)
	require.Equal(t, 409, r.Code, "a decided document is no longer in review: %s", r.Raw)
	require.Contains(t, r.Body["error"].(map[string]any)["message"], "is ready; only a document in review")
	require.True(t, live())

	res, err = b.db.Store.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "ticket:def", Title: "E105?", Kind: kb.KindTickets, Status: kb.StatusReview},
		[]kb.Chunk{{Content: "问：E105？\n答：滚刷缠绕", ContentHash: "h2", Embedding: []float32{0, 1, 0}, Tokens: []string{"e105"}}}, "zhiku-hash-v1", 3)
	require.NoError(t, err)
	r = b.do(t, op, "POST", base+fmt.Sprint(res.Document.ID)+"/reject", `{"reason":"答案过时"}`)
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, kb.StatusRejected, r.Body["status"])
	require.Contains(t, r.Body["status_detail"], "答案过时")
	list := b.do(t, op, "GET", "/v1/knowledge-bases/tickets/documents?status=rejected", "")
	require.Equal(t, 200, list.Code, list.Raw)
	require.Contains(t, list.Raw, `"external_id":"ticket:def"`)

	require.Equal(t, 400, b.do(t, op, "POST", base+"ticket:abc/reject", `{"reason":1}`).Code)

	var actions []string
	rows, err := b.db.Pool.Query(ctx, `SELECT action FROM audit_log WHERE target = 'ticket:abc' ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"document.approve"}, actions)
}

// Two operators deciding the same document at once: the UPDATE is conditioned on the status
// still being review, so exactly one wins and the other gets a 409, for every document.
func TestConcurrentReviewDecisionsOneWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, err := b.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "race", Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: 3})
	require.NoError(t, err)
	alice, bob := b.key(t, "default", kb.RoleOperator), b.key(t, "default", kb.RoleAdmin)
	const docs = 12
	for i := range docs {
		ext := fmt.Sprintf("ticket:race-%d", i)
		_, err := b.db.Store.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: ext, Title: ext, Kind: kb.KindTickets, Status: kb.StatusReview},
			[]kb.Chunk{{Content: "问答 " + ext, ContentHash: ext, Embedding: []float32{1, 0, 0}, Tokens: []string{"race"}}}, "zhiku-hash-v1", 3)
		require.NoError(t, err)
		path := "/v1/knowledge-bases/race/documents/" + ext
		start := make(chan struct{})
		var wg sync.WaitGroup
		var approve, reject response
		wg.Go(func() { <-start; approve = b.do(t, alice, "POST", path+"/approve", "") })
		wg.Go(func() { <-start; reject = b.do(t, bob, "POST", path+"/reject", `{"reason":"race"}`) })
		close(start)
		wg.Wait()
		codes := []int{approve.Code, reject.Code}
		require.ElementsMatch(t, []int{200, 409}, codes, "approve: %s\nreject: %s", approve.Raw, reject.Raw)
		want := kb.StatusReady
		if reject.Code == 200 {
			want = kb.StatusRejected
		}
		d, err := b.db.Store.GetDocument(ctx, k.ID, ext)
		require.NoError(t, err)
		require.Equal(t, want, d.Status, "the winner's decision stands")
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE target = $1`, ext).Scan(&n))
		require.Equal(t, 1, n, "only the winner is audited")
	}
}
