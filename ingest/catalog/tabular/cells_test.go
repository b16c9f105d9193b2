package tabular_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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

	// The default: a megabyte.
	_, err = tabular.Read([]byte("sku,d\nA1,"+strings.Repeat("x", tabular.DefaultMaxCellBytes+1)+"\n"), "d.csv", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrTooLarge)
}
