package answer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// card is a catalog hit as the store returns it: metadata decoded from JSON, so numbers are
// float64 (testdata/demo/catalog.csv rows).
func card(sku, name string, price, stock float64, extra map[string]any) kb.Hit {
	m := map[string]any{"sku": sku, "name": name, "price": price, "stock": stock, "brand": "智净", "category": "扫地机器人",
		"货号": sku, "商品名称": name, "售价": price, "库存": stock}
	for k, v := range extra {
		m[k] = v
	}
	return kb.Hit{Kind: kb.KindCatalog, Title: name, Content: "商品：" + name + "\nSKU：" + sku, Metadata: m, Score: 0.6}
}

func TestCatalogAnswer(t *testing.T) {
	t.Parallel()
	xr500 := card("XR-500", "智净 XR-500 扫地机器人", 1299, 35, map[string]any{"规格": "激光导航, 2700Pa 吸力, 5200mAh"})
	xr300 := card("XR-300", "智净 XR-300 扫地机器人", 899, 0, nil)
	xr500w := card("XR-500-W", "智净 XR-500 白色款", 1299, 20, nil)
	manual := kb.Hit{Kind: kb.KindManual, Content: "XR-500 售价以页面为准。", Score: 0.9}
	en := card("XR-500", "CleanBot XR-500 Robot Vacuum", 1299, 35, map[string]any{"Weight": "3.2 kg"})
	cases := []struct {
		name string
		q    string
		hits []kb.Hit
		lang string
		want string
		hit  int
		ok   bool
	}{
		{"price and stock by sku", "XR-500 多少钱，有货吗", []kb.Hit{manual, xr300, xr500}, kb.LanguageZh,
			"智净 XR-500 扫地机器人（XR-500）售价 ¥1299，库存 35 件。", 2, true},
		{"price only", "XR-500 价格", []kb.Hit{xr500}, kb.LanguageZh, "智净 XR-500 扫地机器人（XR-500）售价 ¥1299。", 0, true},
		{"out of stock", "XR-300 还有货吗", []kb.Hit{xr500, xr300}, kb.LanguageZh, "智净 XR-300 扫地机器人（XR-300）暂时缺货。", 1, true},
		{"longer sku is another product", "XR-500-W 库存", []kb.Hit{xr500, xr500w}, kb.LanguageZh, "智净 XR-500 白色款（XR-500-W）库存 20 件。", 1, true},
		{"by full name", "智净 XR-300 扫地机器人售价多少", []kb.Hit{xr300}, kb.LanguageZh, "智净 XR-300 扫地机器人（XR-300）售价 ¥899。", 0, true},
		{"attribute column", "XR-500 的规格参数", []kb.Hit{xr500}, kb.LanguageZh, "智净 XR-500 扫地机器人（XR-500）规格：激光导航, 2700Pa 吸力, 5200mAh。", 0, true},
		{"english", "How much is the XR-500 and is it in stock?", []kb.Hit{en}, kb.LanguageEn, "CleanBot XR-500 Robot Vacuum (XR-500) costs ¥1299; 35 in stock.", 0, true},
		{"english attribute", "What is the weight of the XR-500?", []kb.Hit{en}, kb.LanguageEn, "CleanBot XR-500 Robot Vacuum (XR-500) weight: 3.2 kg.", 0, true},
		{"english out of stock", "is the XR-300 available", []kb.Hit{card("XR-300", "CleanBot XR-300", 899, 0, nil)}, kb.LanguageEn, "CleanBot XR-300 (XR-300) is out of stock.", 0, true},
		{"not a catalog question", "XR-500 怎么连 Wi-Fi", []kb.Hit{xr500}, kb.LanguageZh, "", 0, false},
		{"no hit is the product", "XR-700P 多少钱", []kb.Hit{xr500, xr300}, kb.LanguageZh, "", 0, false},
		{"vague product", "扫地机器人多少钱", []kb.Hit{xr500, xr300}, kb.LanguageZh, "", 0, false},
		{"no catalog hit", "XR-500 多少钱", []kb.Hit{manual}, kb.LanguageZh, "", 0, false},
		{"asked field missing", "XR-300 的颜色", []kb.Hit{xr300}, kb.LanguageZh, "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text, hit, ok := CatalogAnswer(c.q, c.hits, c.lang)
			require.Equal(t, c.ok, ok, text)
			require.Equal(t, c.want, text)
			require.Equal(t, c.hit, hit)
		})
	}
}

func TestCatalogAnswerReadsIntegerMetadata(t *testing.T) {
	t.Parallel()
	h := kb.Hit{Kind: kb.KindCatalog, Title: "智净 XR-500 扫地机器人", Metadata: map[string]any{"sku": "XR-500", "price": 1299.5, "stock": int64(3)}}
	text, _, ok := CatalogAnswer("XR-500 多少钱 有货吗", []kb.Hit{h}, kb.LanguageZh)
	require.True(t, ok)
	require.Equal(t, "智净 XR-500 扫地机器人（XR-500）售价 ¥1299.5，库存 3 件。", text)
}
