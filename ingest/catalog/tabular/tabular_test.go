package tabular_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/unicode"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

func TestSniffDelimiter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want rune
	}{
		{"a,b,c\n1,2,3\n", ','},
		{"a;b;c\n1;2,5;3\n", ';'},
		{"a\tb\tc\n\"x,y\"\t2\t3\n", '\t'},
		{"名称,\"说明;含分号\"\n杯子,\"a;b\"\n", ','},
		{"single\nvalue\n", ','},
	} {
		require.Equal(t, tc.want, tabular.SniffDelimiter(tc.text), "%q", tc.text)
	}
}

func TestDecodeUTF16(t *testing.T) {
	t.Parallel()
	enc := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	data, err := enc.Bytes([]byte("货号\t名称\nA1\t杯子\n"))
	require.NoError(t, err)
	tb, err := tabular.Read(data, "unicode.txt", tabular.Options{})
	require.NoError(t, err)
	require.Equal(t, "utf-16le", tb.Encoding)
	require.Equal(t, []string{"货号", "名称"}, tb.Sheets[0].Header)
	require.Equal(t, []string{"A1", "杯子"}, tb.Sheets[0].Rows[0].Cells)
}

func TestHeaderCleanup(t *testing.T) {
	t.Parallel()
	tb, err := tabular.Read([]byte("名称,,名称\n杯子,x,y,extra\n\n,,\n碗,1,2\n"), "h.csv", tabular.Options{})
	require.NoError(t, err)
	sh := tb.Sheets[0]
	require.Equal(t, []string{"名称", "column 2", "名称_2", "column 4"}, sh.Header)
	require.Len(t, sh.Rows, 2, "blank rows are dropped")
	require.Equal(t, 5, sh.Rows[1].Num)
	require.Equal(t, "", sh.Rows[1].Cells[3], "short rows are padded")
}

func TestCSVQuoteErrorNamesLine(t *testing.T) {
	t.Parallel()
	tb, err := tabular.Read([]byte("a,b\n1,2\n3,x\"y\n4,5\n"), "q.csv", tabular.Options{})
	require.NoError(t, err)
	require.Len(t, tb.Errors, 1)
	require.Contains(t, tb.Errors[0].Error(), "line 3")
	require.Len(t, tb.Sheets[0].Rows, 2)
}

func TestEmptyAndJSONScalars(t *testing.T) {
	t.Parallel()
	_, err := tabular.Read([]byte("  \n"), "e.csv", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrInvalid)

	_, err = tabular.Read([]byte(`[1, 2]`), "n.json", tabular.Options{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), "not an object")
}

func TestNormalizeHeader(t *testing.T) {
	t.Parallel()
	require.Equal(t, "itemcode", tabular.NormalizeHeader(" Item-Code "))
	require.Equal(t, "商品名称", tabular.NormalizeHeader("商品名称："))
	require.Equal(t, []string{"价格", "售价"}, tabular.HeaderParts("价格/售价"))
}

// A reader whose job has run out of time stops in its row loop, whatever the format, and
// says why; with time left, the same file reads whole.
func TestRowLoopsStopWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	const rows = 5000
	var csvText, array, lines strings.Builder
	csvText.WriteString("sku,name\n")
	array.WriteString("[")
	for i := range rows {
		fmt.Fprintf(&csvText, "S-%d,item %d\n", i, i)
		if i > 0 {
			array.WriteString(",")
		}
		fmt.Fprintf(&array, `{"sku":"S-%d","name":"item %d"}`, i, i)
		fmt.Fprintf(&lines, "{\"sku\":\"S-%d\",\"name\":\"item %d\"}\n", i, i)
	}
	array.WriteString("]")
	wrapped := `{"products":` + array.String() + `}`
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for name, text := range map[string]string{"a.csv": csvText.String(), "a.json": array.String(), "w.json": wrapped, "a.jsonl": lines.String()} {
		tab, err := tabular.Read([]byte(text), name, tabular.Options{Context: context.Background()})
		require.NoError(t, err, name)
		require.Len(t, tab.Sheets[0].Rows, rows, name)
		_, err = tabular.Read([]byte(text), name, tabular.Options{Context: done})
		require.ErrorIs(t, err, context.Canceled, name)
	}
}
