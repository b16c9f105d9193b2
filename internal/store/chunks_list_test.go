package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestListChunksAndVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k := newKB(t, b.st, b.tenant.ID, "manuals", 3)
	other := newKB(t, b.st, b.tenant.ID, "other", 3)
	write := func(kbID int64, hash string, n int) kb.Document {
		chunks := make([]kb.Chunk, n)
		for i := range chunks {
			chunks[i] = kb.Chunk{Ord: n - 1 - i, Content: fmt.Sprintf("第 %d 段 %s", n-1-i, hash), Page: n - i,
				SectionPath: []string{"第二章 故障", fmt.Sprintf("E10%d", i)}, Metadata: map[string]any{"lang": "zh"},
				ContentHash: fmt.Sprintf("%s-%d", hash, i), Embedding: []float32{1, 0, 0}, Tokens: []string{"故障"}}
		}
		res, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: kbID, ExternalID: "xr500.pdf", Title: "XR-500 说明书", Kind: kb.KindManual,
			Status: kb.StatusReady, ContentHash: hash, SizeBytes: int64(100 * n), Metadata: map[string]any{"product": "XR-500"}}, chunks, "zhiku-hash-v1", 5)
		require.NoError(t, err)
		return res.Document
	}
	write(k.ID, "v1", 2)
	d2 := write(k.ID, "v2", 3)
	write(other.ID, "o1", 4)

	chunks, total, err := b.st.ListChunks(ctx, k.ID, d2.ID, 2, 0)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Len(t, chunks, 2)
	require.Equal(t, 0, chunks[0].Ord, "reading order")
	require.Equal(t, "第 0 段 v2", chunks[0].Content)
	require.Equal(t, 1, chunks[0].Page)
	require.Equal(t, []string{"第二章 故障", "E102"}, chunks[0].SectionPath)
	require.Equal(t, "XR-500", chunks[0].Metadata["product"], "the document's metadata rides along")
	require.Equal(t, kb.KindManual, chunks[0].Metadata["kind"])
	chunks, _, err = b.st.ListChunks(ctx, k.ID, d2.ID, 2, 2)
	require.NoError(t, err)
	require.Len(t, chunks, 1)
	require.Equal(t, 2, chunks[0].Ord)

	chunks, total, err = b.st.ListChunks(ctx, other.ID, d2.ID, 50, 0)
	require.NoError(t, err)
	require.Zero(t, total, "another knowledge base never shows this document's chunks")
	require.Empty(t, chunks)

	vs, err := b.st.DocumentVersions(ctx, k.ID, "xr500.pdf")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, 2, vs[0].Version)
	require.True(t, vs[0].IsCurrent)
	require.Equal(t, 3, vs[0].Chunks)
	require.Equal(t, "v2", vs[0].ContentHash)
	require.Equal(t, 1, vs[1].Version)
	require.False(t, vs[1].IsCurrent)
	require.Equal(t, kb.StatusSuperseded, vs[1].Status)
	require.Zero(t, vs[1].Chunks, "a superseded version's chunks are gone")
	vs, err = b.st.DocumentVersions(ctx, other.ID, "xr500.pdf")
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestListProducts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k := newKB(t, b.st, b.tenant.ID, "shop", 3)
	other := newKB(t, b.st, b.tenant.ID, "elsewhere", 3)
	product := func(kbID int64, sku, name string, price float64, stock int, extra map[string]any) {
		meta := map[string]any{"sku": sku, "name": name, "price": price, "stock": float64(stock), "brand": "智净",
			"货号": sku, "商品名称": name, "售价": price, "库存": float64(stock), "品牌": "智净"}
		for key, v := range extra {
			meta[key] = v
		}
		_, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: kbID, ExternalID: "sku:" + sku, Title: name, Kind: kb.KindCatalog,
			Status: kb.StatusReady, ContentHash: sku + name, SourceName: "catalog.csv", Metadata: meta},
			[]kb.Chunk{{Content: name, ContentHash: sku, Embedding: []float32{1, 0, 0}}}, "zhiku-hash-v1", 3)
		require.NoError(t, err)
	}
	product(k.ID, "XR-500", "智净 XR-500 扫地机器人", 1299, 35, map[string]any{"规格": "激光导航, 2700Pa 吸力"})
	product(k.ID, "XR-300", "智净 XR-300 扫地机器人", 899, 58, map[string]any{"规格": "陀螺仪导航"})
	product(k.ID, "A_1%", "百分之百滤网", 49, 0, nil)
	product(other.ID, "ZZ-1", "别家商品", 1, 1, nil)
	_, err := b.st.ReplaceDocument(ctx, kb.Document{KBID: k.ID, ExternalID: "manual.pdf", Title: "XR-500 说明书", Kind: kb.KindManual, Status: kb.StatusReady, ContentHash: "m"},
		[]kb.Chunk{{Content: "XR-500", ContentHash: "m1", Embedding: []float32{1, 0, 0}}}, "zhiku-hash-v1", 3)
	require.NoError(t, err)

	ps, total, err := b.st.ListProducts(ctx, k.ID, "", 50, 0)
	require.NoError(t, err)
	require.Equal(t, 3, total, "catalog documents only, of this knowledge base")
	require.Equal(t, []string{"A_1%", "XR-300", "XR-500"}, []string{ps[0].SKU, ps[1].SKU, ps[2].SKU}, "by SKU")
	p := ps[2]
	require.Equal(t, "智净 XR-500 扫地机器人", p.Name)
	require.Equal(t, 1299.0, *p.Price)
	require.Equal(t, int64(35), *p.Stock)
	require.Equal(t, "智净", p.Brand)
	require.Equal(t, "sku:XR-500", p.ExternalID)
	require.Equal(t, map[string]any{"规格": "激光导航, 2700Pa 吸力"}, p.Attributes, "columns that repeat a lifted field are not attributes")

	for q, want := range map[string][]string{"xr-5": {"XR-500"}, "激光": {"XR-500"}, "扫地": {"XR-300", "XR-500"}, "%": {"A_1%"}, "_": {"A_1%"}, "price": nil, "1299": {"XR-500"}} {
		ps, total, err = b.st.ListProducts(ctx, k.ID, q, 50, 0)
		require.NoError(t, err, q)
		var got []string
		for _, p := range ps {
			got = append(got, p.SKU)
		}
		require.Equal(t, want, got, q)
		require.Equal(t, len(want), total, q)
	}
	ps, total, err = b.st.ListProducts(ctx, k.ID, "", 1, 1)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Equal(t, "XR-300", ps[0].SKU)
}
