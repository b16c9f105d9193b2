package bm25_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/retrieval/bm25"
)

func newIndex(t *testing.T, d *segment.Dict) *bm25.Index {
	t.Helper()
	idx, err := bm25.New(bm25.Params{Dict: d})
	require.NoError(t, err)
	idx.Add("return", "七天无理由退货：签收后7天内可申请退货，运费由买家承担。")
	idx.Add("invoice", "发票将在确认收货后三个工作日内开具，电子发票发送到邮箱。")
	idx.Add("fault", "扫地机器人 XR-500 出现故障码 E104 时，请清理滚刷后重启。")
	idx.Add("shipping", "Orders over 299 yuan ship free; remote areas excluded.")
	return idx
}

func TestSearchRanksTheMatchingDocumentFirst(t *testing.T) {
	t.Parallel()
	idx := newIndex(t, nil)
	require.Equal(t, 4, idx.Len())

	for q, want := range map[string]string{
		"怎么退货":              "return",
		"电子发票什么时候开":         "invoice",
		"E104":              "fault",
		"xr500 报错":          "fault",
		"is shipping free?": "shipping",
	} {
		hits := idx.Search(q, 3)
		require.NotEmpty(t, hits, q)
		require.Equal(t, want, hits[0].ID, q)
		for i := 1; i < len(hits); i++ {
			require.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score)
		}
	}
}

func TestSearchEdgeCases(t *testing.T) {
	t.Parallel()
	idx := newIndex(t, nil)
	require.Empty(t, idx.Search(`-&!"(`, 10))
	require.Empty(t, idx.Search("退货", 0))
	require.Empty(t, idx.Search("量子计算机", 10))
	require.Len(t, idx.Search("的 退货 发票 E104 free", 2), 2)

	empty, err := bm25.New(bm25.Params{})
	require.NoError(t, err)
	require.Empty(t, empty.Search("退货", 10))

	_, err = bm25.New(bm25.Params{B: 2})
	require.Error(t, err)
}

func TestSearchExpandsSynonyms(t *testing.T) {
	t.Parallel()
	plain := newIndex(t, nil)
	require.Empty(t, plain.Search("包邮", 5))

	withSyn := newIndex(t, segment.NewDict(nil, [][]string{{"包邮", "free shipping", "ship free"}, {"包邮", "free"}}))
	hits := withSyn.Search("包邮", 5)
	require.NotEmpty(t, hits)
	require.Equal(t, "shipping", hits[0].ID)
}
