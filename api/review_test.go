package api_test

import (
	"context"
	"fmt"
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
	require.Equal(t, 200, r.Code, r.Raw)
	require.Equal(t, kb.StatusFailed, r.Body["status"])
	require.Contains(t, r.Body["status_detail"], "答案过时")
	require.False(t, live())

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
	require.Equal(t, []string{"document.approve", "document.reject"}, actions)
}
