package api_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// A document's status line reaches the API in both languages: Q&A mined from tickets (held
// for review, then rejected with a reason) and products imported from a CSV catalog, and
// the review queue's reason with them.
func TestStatusDetailInBothLanguages(t *testing.T) {
	t.Parallel()
	b := setupUpload(t, 0)
	b.startWorkers(t)
	tickets, err := os.ReadFile("../testdata/demo/tickets.jsonl")
	require.NoError(t, err)
	catalog, err := os.ReadFile("../testdata/demo/catalog.csv")
	require.NoError(t, err)
	for _, up := range []struct{ name, kind string }{{"tickets.jsonl", "tickets"}, {"catalog.csv", "catalog"}} {
		data := tickets
		if up.kind == "catalog" {
			data = catalog
		}
		r := b.upload(t, adminKey, "kb1", up.name, data, map[string]string{"kind": up.kind})
		require.Equal(t, 202, r.Code, r.Raw)
		j := b.waitJob(t, jobOf(t, r).ID, final)
		require.Equal(t, "succeeded", string(j.State), j.Error)
	}

	docs := func(query string) []map[string]any {
		r := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents?"+query, "")
		require.Equal(t, 200, r.Code, r.Raw)
		var out []map[string]any
		for _, d := range r.Body["documents"].([]any) {
			out = append(out, d.(map[string]any))
		}
		require.NotEmpty(t, out, query)
		return out
	}
	mined := docs("kind=tickets&status=review")[0]
	require.Regexp(t, `^mined from \d+ ticket\(s\); awaiting review$`, mined["status_detail"])
	require.Regexp(t, `^从 \d+ 条工单中提取，等待审核$`, mined["status_detail_zh"])
	product := docs("kind=catalog")[0]
	require.Equal(t, "imported from csv", product["status_detail"])
	require.Equal(t, "从 csv 导入", product["status_detail_zh"])

	// The review queue (GET /v1/gaps?type=review, served by the closed loop) reads the same line.
	items, err := b.db.Store.ReviewItems(context.Background(), b.tenant.ID, nil, 500)
	require.NoError(t, err)
	require.NotEmpty(t, items)
	require.Equal(t, mined["status_detail_zh"], items[0].ReasonZh)

	op := b.key(t, "default", kb.RoleOperator)
	id := fmt.Sprint(int64(mined["id"].(float64)))
	r := b.do(t, op, "POST", "/v1/knowledge-bases/kb1/documents/"+id+"/reject", `{"reason":"答案过时"}`)
	require.Equal(t, 200, r.Code, r.Raw)
	require.Regexp(t, `^rejected by .+: 答案过时$`, r.Body["status_detail"])
	require.Regexp(t, `^由 .+ 驳回：答案过时$`, r.Body["status_detail_zh"])
	got := b.do(t, adminKey, "GET", "/v1/knowledge-bases/kb1/documents/"+id, "")
	require.Equal(t, 200, got.Code, got.Raw)
	require.Equal(t, r.Body["status_detail_zh"], got.Body["status_detail_zh"])
}
