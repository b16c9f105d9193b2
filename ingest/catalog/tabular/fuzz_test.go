package tabular_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// checkRead reads data as format and asserts what holds for any input: no panic; an error
// message that is storable text; on success a header of unique, non-empty names, rows that
// are not empty, and cells that PostgreSQL can store (valid UTF-8 without NUL).
func checkRead(t *testing.T, data []byte, name string, format tabular.Format) {
	tb, err := tabular.Read(data, name, tabular.Options{Format: format, MaxRows: 5000, MaxUnzipBytes: 32 << 20})
	storable := func(what, s string) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s %q is not storable text", what, s)
		}
	}
	if err != nil {
		storable("error", err.Error())
		return
	}
	for _, e := range tb.Errors {
		storable("row error", e.Error())
	}
	for _, sh := range tb.Sheets {
		storable("sheet name", sh.Name)
		seen := map[string]bool{}
		for _, h := range sh.Header {
			storable("header", h)
			if h == "" || seen[h] {
				t.Fatalf("header %q is empty or repeated in %q", h, sh.Header)
			}
			seen[h] = true
		}
		for _, r := range sh.Rows {
			empty := true
			for _, c := range r.Cells {
				storable("cell", c)
				empty = empty && strings.TrimSpace(c) == ""
			}
			if empty {
				t.Fatalf("row %d is empty: %q", r.Num, r.Cells)
			}
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data, "fuzz.csv", tabular.CSV) })
}

func FuzzReadXLSX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data, "fuzz.xlsx", tabular.XLSX) })
}

func FuzzReadJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data, "fuzz.json", "") })
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzReadCSV", "catalog", []byte("货号,名称,价格,库存\nXR-500,扫地机器人,1999,12\nPF-XR-F2,滤网,39.9,300\n"))
	fuzzseed.Write(t, "FuzzReadCSV", "semicolon-quoted", []byte("sku;name;note\nA1;\"Cup; large\";\"say \"\"hi\"\"\"\n;;\nB2;Pot;\n"))
	fuzzseed.Write(t, "FuzzReadCSV", "tsv-blank-header", []byte("a\t\tc\tc\n1\t2\t3\t4\n"))
	fuzzseed.Write(t, "FuzzReadCSV", "bad-quote", []byte("a,b\n\"x,1\n2,3\n"))
	gbk, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("货号,名称\nA1,杯子\n"))
	fuzzseed.Write(t, "FuzzReadCSV", "gb18030", gbk)
	fuzzseed.Write(t, "FuzzReadCSV", "binary", []byte("\x00\x01\x02PK\xff\xfe\x00,\x00\n"))

	x := excelize.NewFile()
	_ = x.SetSheetRow("Sheet1", "A1", &[]any{"货号", "名称", "价格"})
	_ = x.SetSheetRow("Sheet1", "A2", &[]any{"XR-500", "扫地机器人", 1999})
	_ = x.SetSheetRow("Sheet1", "A4", &[]any{"PF-XR-F2", "滤网", 39.9})
	_, _ = x.NewSheet("第二页")
	_ = x.SetSheetRow("第二页", "B2", &[]any{"sku", "note"})
	_ = x.SetSheetRow("第二页", "B3", &[]any{"A1", "=1+1"})
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	fuzzseed.Write(t, "FuzzReadXLSX", "workbook", buf.Bytes())
	fuzzseed.Write(t, "FuzzReadXLSX", "empty-zip", []byte("PK\x05\x06"+strings.Repeat("\x00", 18)))

	fuzzseed.Write(t, "FuzzReadJSON", "array", []byte(`[{"sku":"XR-500","name":"扫地机器人","price":1999,"tags":["a","b"],"spec":{"w":3}},{"sku":"A1","name":null}]`))
	fuzzseed.Write(t, "FuzzReadJSON", "wrapped", []byte(`{"products":[{"货号":"A1","名称":"杯子"}]}`))
	fuzzseed.Write(t, "FuzzReadJSON", "jsonl", []byte("{\"sku\":\"A1\"}\n{bad\n{\"sku\":\"B2\",\"x\":\"\\u0000\"}\n"))
	fuzzseed.Write(t, "FuzzReadJSON", "nested", []byte(strings.Repeat("[", 500)+strings.Repeat("]", 500)))
}
