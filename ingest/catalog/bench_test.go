package catalog_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/zhiku/zhiku/ingest/catalog"
)

const benchRows = 10_000

var benchHeader = []any{"商品编码", "商品名称", "品牌", "类目", "价格", "库存", "规格", "商品描述", "上架日期", "是否包邮"}

func benchRow(i int) []any {
	return []any{
		fmt.Sprintf("SKU-%06d", i), fmt.Sprintf("XX 智能电饭煲 %dL 家用多功能", i%6+1), "美的", "厨房电器",
		fmt.Sprintf("%d.00", 99+i%900), i % 500, fmt.Sprintf("%dL", i%6+1),
		"一键预约，24 小时保温，不粘内胆，适合 2-6 人家庭使用", fmt.Sprintf("2024-%02d-%02d", i%12+1, i%28+1), []string{"是", "否"}[i%2],
	}
}

func benchCSV() []byte {
	var b strings.Builder
	for i, h := range benchHeader {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, h)
	}
	b.WriteByte('\n')
	for i := range benchRows {
		for j, v := range benchRow(i) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func benchXLSX(b *testing.B) []byte {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	require.NoError(b, err)
	require.NoError(b, sw.SetRow("A1", benchHeader))
	for i := range benchRows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		row := benchRow(i)
		row[4] = float64(99 + i%900) // numbers as numbers, as Excel stores them
		require.NoError(b, sw.SetRow(cell, row))
	}
	require.NoError(b, sw.Flush())
	var buf bytes.Buffer
	require.NoError(b, f.Write(&buf))
	return buf.Bytes()
}

func benchParse(b *testing.B, data []byte, name string) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := catalog.ParseBytes(data, name, catalog.Options{})
		if err != nil || len(c.Products) != benchRows {
			b.Fatalf("parse: %v (%d products)", err, len(c.Products))
		}
		for _, p := range c.Products {
			_ = p.ContentHash() // cards and hashes are part of every import
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParseCSVCatalog parses a 10k-row, 10-column Chinese catalog and builds every
// product's card and hash.
func BenchmarkParseCSVCatalog(b *testing.B) { benchParse(b, benchCSV(), "bench.csv") }

// BenchmarkParseXLSXCatalog does the same from an XLSX workbook.
func BenchmarkParseXLSXCatalog(b *testing.B) { benchParse(b, benchXLSX(b), "bench.xlsx") }
