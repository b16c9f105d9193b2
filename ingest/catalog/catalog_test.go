package catalog_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/ingest/catalog"
	"github.com/zhiku/zhiku/internal/kb"
)

func parse(t *testing.T, data []byte, name string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.ParseBytes(data, name, catalog.Options{})
	require.NoError(t, err)
	return c
}

func bySKU(t *testing.T, c *catalog.Catalog, sku string) catalog.Product {
	t.Helper()
	for _, p := range c.Products {
		if p.SKU == sku {
			return p
		}
	}
	t.Fatalf("no product %q among %d", sku, len(c.Products))
	return catalog.Product{}
}

func TestCSVQuotedCommasNewlinesBOM(t *testing.T) {
	t.Parallel()
	csv := "\xEF\xBB\xBF商品编码,商品名称,价格,库存,品牌,商品描述,上架日期,是否包邮\r\n" +
		"SKU-2231,\"XX 智能电饭煲 3L, 白色\",\"¥1,299.00\",120,美的,\"第一行\n第二行\",2024/11/11,是\r\n" +
		"SKU-2232,电水壶,￥89元,0,美的,快煮,2024年11月12日,否\r\n" +
		",没有编码的商品,10,1,,,,\r\n" +
		"SKU-2231,重复,1,1,,,,\r\n"
	c := parse(t, []byte(csv), "products.csv")
	require.Equal(t, "utf-8-bom", c.Encoding)
	require.Len(t, c.Products, 2)

	p := bySKU(t, c, "SKU-2231")
	require.Equal(t, "XX 智能电饭煲 3L, 白色", p.Name)
	require.NotNil(t, p.Price)
	require.Equal(t, 1299.0, *p.Price)
	require.Equal(t, int64(120), *p.Stock)
	require.Equal(t, "美的", p.Brand)
	require.Equal(t, "第一行\n第二行", p.Description)
	require.Equal(t, "2024-11-11", p.Fields["上架日期"])
	require.Equal(t, true, p.Fields["是否包邮"])
	require.Equal(t, 1299.0, p.Fields["价格"])
	require.Equal(t, 2, p.Row)

	q := bySKU(t, c, "SKU-2232")
	require.Equal(t, 89.0, *q.Price)
	require.Equal(t, "2024-11-12", q.Fields["上架日期"])
	require.Equal(t, false, q.Fields["是否包邮"])

	// The row without a SKU and the duplicate are reported with their rows.
	require.Len(t, c.Errors, 2)
	require.Equal(t, 4, c.Errors[0].Row)
	require.ErrorIs(t, c.Errors[0], kb.ErrInvalid)
	require.Contains(t, c.Errors[0].Error(), "row 4")
	require.Equal(t, 5, c.Errors[1].Row)
	require.Contains(t, c.Errors[1].Error(), "duplicate SKU")
	require.Contains(t, c.Errors[1].Error(), "row 2")

	cols := map[string]catalog.Column{}
	for _, col := range c.Columns {
		cols[col.Header] = col
	}
	require.Equal(t, catalog.FieldSKU, cols["商品编码"].Field)
	require.Equal(t, catalog.TypeNumber, cols["价格"].Type)
	require.Equal(t, catalog.TypeDate, cols["上架日期"].Type)
	require.Equal(t, catalog.TypeBool, cols["是否包邮"].Type)
	require.Equal(t, catalog.TypeText, cols["商品编码"].Type)
}

func TestCSVCard(t *testing.T) {
	t.Parallel()
	csv := "货号,品名,售价,库存数量,品牌,类目,规格,卖点,产地,链接\n" +
		"SKU-2231,XX 智能电饭煲 3L,299,120,美的,厨房电器,3L,一键煮饭,广东,https://shop/x\n" +
		"SKU-9,面议商品,面议,有货,,,,,,\n"
	c := parse(t, []byte(csv), "cards.csv")
	require.Equal(t, kb.LanguageZh, c.Language)
	p := bySKU(t, c, "SKU-2231")
	require.Equal(t, "商品：XX 智能电饭煲 3L\nSKU：SKU-2231\n品牌：美的\n价格：299元\n库存：有货(120)\n类目：厨房电器\n规格：3L\n描述：一键煮饭\n产地：广东", p.Card())
	require.Equal(t, "https://shop/x", p.URL)

	q := bySKU(t, c, "SKU-9")
	require.Nil(t, q.Price)
	require.Nil(t, q.Stock)
	require.Equal(t, "商品：面议商品\nSKU：SKU-9\n价格：面议\n库存：有货", q.Card())
}

func TestEnglishCatalogSemicolons(t *testing.T) {
	t.Parallel()
	csv := "Item Code;Product Name;Price;Stock;Brand;Category\n" +
		"A-1;Rice Cooker;\"1,299.50\";0;Acme;Kitchen\n"
	c := parse(t, []byte(csv), "en.csv")
	require.Equal(t, kb.LanguageEn, c.Language)
	p := bySKU(t, c, "A-1")
	require.Equal(t, "Product: Rice Cooker\nSKU: A-1\nBrand: Acme\nPrice: 1299.5\nStock: Out of stock\nCategory: Kitchen", p.Card())
}

func TestTabSeparatedGBK(t *testing.T) {
	t.Parallel()
	text := "商品编号\t名称\t单价\t分类\n1001\t保温杯 500ml\t59\t水杯\n0012\t玻璃杯\t19.9\t水杯\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	c := parse(t, gbk, "gbk.csv")
	require.Equal(t, "gb18030", c.Encoding)
	require.Len(t, c.Products, 2)
	p := bySKU(t, c, "1001")
	require.Equal(t, "保温杯 500ml", p.Name)
	require.Equal(t, 59.0, *p.Price)
	require.Equal(t, "水杯", p.Category)
	require.Equal(t, "0012", bySKU(t, c, "0012").SKU) // SKU columns stay text
}

func TestNoSKUColumn(t *testing.T) {
	t.Parallel()
	_, err := catalog.ParseBytes([]byte("名称,价格\n杯子,10\n"), "nosku.csv", catalog.Options{})
	require.ErrorIs(t, err, catalog.ErrNoSKUColumn)
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), "名称, 价格")

	// The override names the SKU column.
	c, err := catalog.ParseBytes([]byte("条码,名称,价格\n690123,杯子,10\n"), "map.csv",
		catalog.Options{ColumnMap: map[string]string{"条码": catalog.FieldSKU}})
	require.NoError(t, err)
	require.Equal(t, "690123", c.Products[0].SKU)
}

func TestSKUHeaderDetection(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"SKU", "货号", "商品编码", "商品编号", "编码", "Item Code", "item_code", "Product ID", " sku "} {
		c, err := catalog.ParseBytes([]byte(h+",名称\nX-1,杯子\n"), "h.csv", catalog.Options{})
		require.NoError(t, err, h)
		require.Equal(t, "X-1", c.Products[0].SKU, h)
	}
	// A plain "sku" beats a generic "id" column wherever it stands.
	c := parse(t, []byte("id,name,sku\n1,Cup,C-1\n"), "id.csv")
	require.Equal(t, "C-1", c.Products[0].SKU)
}

func TestTooManyRows(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("sku,name\n")
	for i := range 11 {
		fmt.Fprintf(&b, "S%d,n\n", i)
	}
	_, err := catalog.ParseBytes([]byte(b.String()), "big.csv", catalog.Options{MaxRows: 10})
	require.ErrorIs(t, err, catalog.ErrTooManyRows)
	require.ErrorIs(t, err, kb.ErrTooLarge)

	_, err = catalog.ParseBytes([]byte(b.String()), "ok.csv", catalog.Options{MaxRows: 11})
	require.NoError(t, err)
}

func TestJSONCatalogs(t *testing.T) {
	t.Parallel()
	t.Run("Array", func(t *testing.T) {
		t.Parallel()
		c := parse(t, []byte(`[
  {"sku": "J-1", "name": "Cup", "price": 12.5, "stock": 3, "attrs": {"color": "red", "size": {"h": 10}}, "tags": ["a","b"]},
  {"sku": "J-2", "name": "Mug", "price": "¥1,000", "in_stock": true}
]`), "c.json")
		require.Len(t, c.Products, 2)
		p := bySKU(t, c, "J-1")
		require.Equal(t, 12.5, *p.Price)
		require.Equal(t, "red", p.Fields["attrs.color"])
		require.Equal(t, 10.0, p.Fields["attrs.size.h"])
		require.Equal(t, []any{"a", "b"}, p.Fields["tags"])
		require.Equal(t, 2, p.Row)
		q := bySKU(t, c, "J-2")
		require.Equal(t, 1000.0, *q.Price)
		require.Equal(t, true, q.Fields["in_stock"])
		require.Equal(t, 3, q.Row)
	})
	t.Run("Wrapper", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"products", "items"} {
			c := parse(t, []byte(`{"total": 1, "`+key+`": [{"货号": "W-1", "名称": "碗"}]}`), "w.json")
			require.Len(t, c.Products, 1, key)
			require.Equal(t, "碗", c.Products[0].Name)
		}
	})
	t.Run("JSONL", func(t *testing.T) {
		t.Parallel()
		c := parse(t, []byte("{\"sku\":\"L-1\",\"name\":\"A\",\"meta\":{\"x\":1}}\n\n{\"sku\":\"L-2\",\"name\":\n{\"sku\":\"L-3\",\"name\":\"C\"}\n"), "c.jsonl")
		require.Len(t, c.Products, 2)
		require.Equal(t, 1.0, bySKU(t, c, "L-1").Fields["meta.x"])
		require.Equal(t, 4, bySKU(t, c, "L-3").Row)
		require.Len(t, c.Errors, 1)
		require.Equal(t, 3, c.Errors[0].Row)
		require.Contains(t, c.Errors[0].Error(), "row 3")
	})
	t.Run("BrokenArray", func(t *testing.T) {
		t.Parallel()
		_, err := catalog.ParseBytes([]byte("[\n{\"sku\":\"a\"},\n{\"sku\": }\n]"), "bad.json", catalog.Options{})
		require.ErrorIs(t, err, kb.ErrInvalid)
		require.Contains(t, err.Error(), "line 3")
	})
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	a := parse(t, []byte("sku,name,price\nA,Cup,10\nB,Mug,20\n"), "a.csv")
	b := parse(t, []byte("sku,name,price\nB,Mug,20\nA,Cup,11\n"), "b.csv")
	require.Equal(t, bySKU(t, a, "B").ContentHash(), bySKU(t, b, "B").ContentHash(), "moving a row changes nothing")
	require.NotEqual(t, bySKU(t, a, "A").ContentHash(), bySKU(t, b, "A").ContentHash())
	require.Len(t, bySKU(t, a, "A").ContentHash(), 64)
}

func TestTitleRowAboveHeader(t *testing.T) {
	t.Parallel()
	c := parse(t, []byte("2024 双十一商品清单,,,\nSKU,名称,价格,备注\nT-1,杯子,9.9,\n"), "title.csv")
	require.Len(t, c.Products, 1)
	require.Equal(t, 3, c.Products[0].Row)
}

// buildWorkbook writes a workbook with two category sheets: 厨房电器 has a title-free
// two-row header (价格 merged over 售价/原价, other headers merged down), a blank row, a
// currency-formatted price, a date-formatted serial and a formula whose cached value only
// the file knows; 个护 has a plain header and a category merged down two rows.
func buildWorkbook(t testing.TB) []byte {
	f := excelize.NewFile()
	defer f.Close()
	s1 := "厨房电器"
	require.NoError(t, f.SetSheetName("Sheet1", s1))
	set := func(sheet, cell string, v any) { require.NoError(t, f.SetCellValue(sheet, cell, v)) }
	for cell, v := range map[string]string{"A1": "商品编码", "B1": "商品名称", "C1": "价格", "E1": "库存", "F1": "上架日期", "G1": "是否包邮", "C2": "售价", "D2": "原价"} {
		set(s1, cell, v)
	}
	for _, r := range [][2]string{{"C1", "D1"}, {"A1", "A2"}, {"B1", "B2"}, {"E1", "E2"}, {"F1", "F2"}, {"G1", "G2"}} {
		require.NoError(t, f.MergeCell(s1, r[0], r[1]))
	}
	money := "¥#,##0.00"
	moneyStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &money})
	require.NoError(t, err)
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	require.NoError(t, err)
	set(s1, "A3", "SKU-2231")
	set(s1, "B3", "XX 智能电饭煲 3L")
	set(s1, "C3", 1299)
	set(s1, "D3", 1599)
	set(s1, "E3", 120)
	set(s1, "F3", 45607) // 2024-11-11
	set(s1, "G3", "是")
	require.NoError(t, f.SetCellStyle(s1, "C3", "D5", moneyStyle))
	require.NoError(t, f.SetCellStyle(s1, "F3", "F5", dateStyle))
	// row 4 left blank
	set(s1, "A5", "SKU-2232")
	set(s1, "B5", "电水壶")
	set(s1, "C5", 89)
	require.NoError(t, f.SetCellFormula(s1, "D5", "C5*2"))
	set(s1, "E5", 0)
	set(s1, "G5", "否")

	s2 := "个护"
	_, err = f.NewSheet(s2)
	require.NoError(t, err)
	require.NoError(t, f.SetSheetRow(s2, "A1", &[]any{"SKU", "名称", "类目", "成分", "价格"}))
	require.NoError(t, f.SetSheetRow(s2, "A2", &[]any{"P-1", "洗发水", "洗护", "水、椰油", 39}))
	require.NoError(t, f.SetSheetRow(s2, "A3", &[]any{"P-2", "护发素", nil, "水", 45}))
	require.NoError(t, f.MergeCell(s2, "C2", "C3"))

	hidden := "lists"
	_, err = f.NewSheet(hidden)
	require.NoError(t, err)
	require.NoError(t, f.SetSheetRow(hidden, "A1", &[]any{"SKU", "x"}))
	require.NoError(t, f.SetSheetRow(hidden, "A2", &[]any{"H-1", "x"}))
	require.NoError(t, f.SetSheetVisible(hidden, false))

	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))
	return withCachedValue(t, buf.Bytes(), `<f>C5*2</f>`, `<f>C5*2</f><v>178</v>`)
}

// withCachedValue rewrites worksheet XML inside an XLSX, standing in for Excel saving a
// formula's computed value (excelize writes formulas without one).
func withCachedValue(t testing.TB, xlsx []byte, old, repl string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(xlsx), int64(len(xlsx)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	replaced := false
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		if strings.HasPrefix(f.Name, "xl/worksheets/") && bytes.Contains(body, []byte(old)) {
			body = bytes.Replace(body, []byte(old), []byte(repl), 1)
			replaced = true
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.True(t, replaced, "formula not found in the worksheet XML")
	return out.Bytes()
}

func TestXLSXTwoSheetsMergedHeaders(t *testing.T) {
	t.Parallel()
	c, err := catalog.Parse(bytes.NewReader(buildWorkbook(t)), "catalog.xlsx", catalog.Options{})
	require.NoError(t, err)
	require.Empty(t, c.Errors)
	require.Len(t, c.Products, 4, "the hidden sheet is skipped")

	p := bySKU(t, c, "SKU-2231")
	require.Equal(t, "厨房电器", p.Sheet)
	require.Equal(t, "厨房电器", p.Category, "the sheet names the category")
	require.Equal(t, 3, p.Row)
	require.Equal(t, 1299.0, *p.Price, "价格/售价 is the price")
	require.Equal(t, 1599.0, p.Fields["价格/原价"])
	require.Equal(t, "2024-11-11", p.Fields["上架日期"])
	require.Equal(t, true, p.Fields["是否包邮"])
	require.Equal(t, int64(120), *p.Stock)

	q := bySKU(t, c, "SKU-2232")
	require.Equal(t, 5, q.Row)
	require.Equal(t, 178.0, q.Fields["价格/原价"], "formula cached value")
	require.Equal(t, int64(0), *q.Stock)

	r := bySKU(t, c, "P-2")
	require.Equal(t, "个护", r.Sheet)
	require.Equal(t, "洗护", r.Category, "the merged category applies to each row")
	require.Equal(t, "水", r.Ingredients)
	require.Contains(t, r.Card(), "成分：水")

	headers := []string{}
	for _, col := range c.Columns {
		headers = append(headers, col.Header)
	}
	require.Contains(t, headers, "价格/售价")
	require.Contains(t, headers, "价格/原价")
}

func TestXLSXZipBombGuard(t *testing.T) {
	t.Parallel()
	_, err := catalog.ParseBytes(buildWorkbook(t), "catalog.xlsx", catalog.Options{MaxUnzipBytes: 2000})
	require.ErrorIs(t, err, kb.ErrTooLarge)
}

func TestXLSXTooManyRows(t *testing.T) {
	t.Parallel()
	_, err := catalog.ParseBytes(buildWorkbook(t), "catalog.xlsx", catalog.Options{MaxRows: 3})
	require.True(t, errors.Is(err, catalog.ErrTooManyRows), "got %v", err)
}

func TestLegacyXLSRejected(t *testing.T) {
	t.Parallel()
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...)
	_, err := catalog.ParseBytes(ole, "old.xls", catalog.Options{})
	require.ErrorIs(t, err, kb.ErrUnsupported)
	require.Contains(t, err.Error(), ".xls")
}
