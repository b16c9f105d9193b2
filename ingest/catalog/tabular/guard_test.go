package tabular_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// A CSV cell far over the limit is refused while it is read, with its exact size, row and
// column, in both languages, at a cost that does not grow with the cell: csv.Reader never
// buffers more than twice the limit of it.
func TestHugeCSVCellStopsTheReading(t *testing.T) {
	big := strings.Repeat("很长的描述", 1<<20) // 15 MiB
	data := []byte("sku,name,description\nA1,cup,short\nA2,pot," + big + "\nA3,pan,x\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := tabular.Read(data, "dir/huge.csv", tabular.Options{})
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, kb.ErrTooLarge)
	en, zh := kb.Texts(err)
	require.Equal(t, fmt.Sprintf(`huge.csv: row 3, column "description" holds %d bytes, the limit is 65536 per cell`, len(big)), en)
	require.Equal(t, fmt.Sprintf("huge.csv：第 3 行“description”列的内容有 %d 字节，超过单元格上限 65536 字节", len(big)), zh)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB reading a %d MiB cell", allocated>>10, len(big)>>20)
	require.Less(t, allocated, uint64(8<<20), "reading must not copy the cell (it allocated %d MiB)", allocated>>20)
}

// The guard follows csv.Reader's quoting: a quoted cell with escaped quotes, separators,
// CRLF and newlines is measured as csv.Reader reads it, and rows after cells spanning lines,
// blank lines and a malformed record are numbered as the rest of the table numbers them.
func TestCSVCellGuardFollowsQuoting(t *testing.T) {
	t.Parallel()
	cell := strings.Repeat(`a "quoted", part`+"\r\nline;二\n", 20) + "end"
	quoted := `"` + strings.ReplaceAll(cell, `"`, `""`) + `"`
	size := len(strings.ReplaceAll(cell, "\r\n", "\n")) // csv.Reader reads CRLF as LF
	table := "sku,note,desc\r\n\r\nA1,\"x\ny\",ok\r\nA2,n,\"bad\"quote\r\n\nA3,n," + quoted + "\r\nA4,n,x\r\n"

	// Read whole, the table says where the cell is and how large.
	tb, err := tabular.Read([]byte(table), "q.csv", tabular.Options{MaxCellBytes: 1 << 20})
	require.NoError(t, err)
	require.Len(t, tb.Errors, 1, "the bare quote")
	sh := tb.Sheets[0]
	require.Equal(t, 6, sh.Rows[1].Num)
	require.Equal(t, strings.ReplaceAll(cell, "\r\n", "\n"), sh.Rows[1].Cells[2])

	for name, c := range map[string]struct {
		data, where string
	}{
		"after a quoted multi-line cell": {table, `row 6, column "desc"`},
		"in the header":                  {"sku,\"note\"," + quoted + "\nA1,b,c\n", `row 1, column "column 3"`},
		"unterminated":                   {"sku,note\nA1," + strings.TrimSuffix(quoted, `"`), `row 2, column "note"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tabular.Read([]byte(c.data), "q.csv", tabular.Options{MaxCellBytes: 100})
			require.ErrorIs(t, err, kb.ErrTooLarge)
			en, _ := kb.Texts(err)
			require.Equal(t, fmt.Sprintf("q.csv: %s holds %d bytes, the limit is 100 per cell", c.where, size), en)
		})
	}
}

// A UTF-16 file is decoded as it is read: a NUL character is binary content, and a huge
// cell is refused as in UTF-8.
func TestCSVStreamUTF16(t *testing.T) {
	t.Parallel()
	enc := func(s string) []byte {
		b, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte(s))
		require.NoError(t, err)
		return b
	}
	tb, err := tabular.Read(enc("货号;名称\nA1;杯子\n"), "u.csv", tabular.Options{})
	require.NoError(t, err)
	require.Equal(t, "utf-16le", tb.Encoding)
	require.Equal(t, []string{"A1", "杯子"}, tb.Sheets[0].Rows[0].Cells)

	_, err = tabular.Read(enc("sku,name\n"+strings.Repeat("A1,杯子\n", 100_000)+"A2,\x00\n"), "nul.csv", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrUnsupported)
	require.ErrorContains(t, err, "binary content")

	_, err = tabular.Read(enc("sku,name\nA1,"+strings.Repeat("杯", 50_000)+"\n"), "big.csv", tabular.Options{})
	require.ErrorContains(t, err, `big.csv: row 2, column "name" holds 150000 bytes, the limit is 65536 per cell`)
}
