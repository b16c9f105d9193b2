package tabular_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// One huge cell is refused, naming its row and column, before the rest of the reading
// multiplies its size; a cell at the limit is read.
func TestHugeCellIsRefused(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("描", 200) // 600 bytes
	csv := "sku,description\nA1,short\nA2," + big + "\n"
	_, err := tabular.Read([]byte(csv), "big.csv", tabular.Options{MaxCellBytes: 599})
	require.ErrorIs(t, err, kb.ErrTooLarge)
	require.ErrorContains(t, err, `big.csv: row 3, column "description" holds 600 bytes, the limit is 599 per cell`)
	require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "超过单元格上限")

	tb, err := tabular.Read([]byte(csv), "big.csv", tabular.Options{MaxCellBytes: 600})
	require.NoError(t, err)
	require.Equal(t, big, tb.Sheets[0].Rows[1].Cells[1])

	_, err = tabular.Read([]byte("sku,"+big+"\nA1,x\n"), "head.csv", tabular.Options{MaxCellBytes: 100})
	require.ErrorContains(t, err, `row 1, column "column 2" holds 600 bytes`, "a header cell too")

	// The default: 64 KiB.
	require.Equal(t, 64<<10, tabular.DefaultMaxCellBytes)
	_, err = tabular.Read([]byte("sku,d\nA1,"+strings.Repeat("x", tabular.DefaultMaxCellBytes+1)+"\n"), "d.csv", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrTooLarge)
	_, err = tabular.Read([]byte("sku,d\nA1,"+strings.Repeat("x", tabular.DefaultMaxCellBytes)+"\n"), "d.csv", tabular.Options{})
	require.NoError(t, err)
}

// A workbook's cell over the limit is named by sheet, row and column in both languages.
func TestHugeXLSXCellNamesSheetRowColumn(t *testing.T) {
	t.Parallel()
	x := excelize.NewFile()
	_ = x.SetSheetRow("Sheet1", "A1", &[]any{"sku", "name"})
	_ = x.SetSheetRow("Sheet1", "A2", &[]any{"A1", "cup"})
	_, _ = x.NewSheet("商品")
	_ = x.SetSheetRow("商品", "A1", &[]any{"货号", "描述"})
	_ = x.SetSheetRow("商品", "A2", &[]any{"B1", "ok"})
	_ = x.SetSheetRow("商品", "A3", &[]any{"B2", strings.Repeat("长", 22000)}) // 66,000 bytes
	var buf bytes.Buffer
	require.NoError(t, x.Write(&buf))
	_, err := tabular.Read(buf.Bytes(), "cat.xlsx", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrTooLarge)
	en, zh := kb.Texts(err)
	require.Equal(t, `cat.xlsx: sheet "商品" row 3, column "描述" holds 66000 bytes, the limit is 65536 per cell`, en)
	require.Equal(t, "cat.xlsx：工作表“商品”第 3 行“描述”列的内容有 66000 字节，超过单元格上限 65536 字节", zh)
}
