package records_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// FuzzParse: no panic; an error that is storable text; on success every record has a
// unique, non-blank id and non-blank text, all storable (valid UTF-8 without NUL).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		name := "fuzz.jsonl"
		if csv {
			name = "fuzz.csv"
		}
		recs, err := records.Parse(bytes.NewReader(data), name)
		storable := func(what, s string) {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("%s %q is not storable text", what, s)
			}
		}
		if err != nil {
			storable("error", err.Error())
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			storable("id", r.ID)
			storable("title", r.Title)
			storable("text", r.Text)
			if strings.TrimSpace(r.ID) == "" || strings.TrimSpace(r.Text) == "" || seen[r.ID] {
				t.Fatalf("record %+v: blank id or text, or id repeated", r)
			}
			seen[r.ID] = true
			for k, v := range r.Metadata {
				storable("metadata key", k)
				if s, ok := v.(string); ok {
					storable("metadata value", s)
				}
			}
		}
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzParse", "jsonl", []byte("{\"id\":\"r1\",\"title\":\"保修\",\"text\":\"整机保修一年\",\"metadata\":{\"lang\":\"zh\"}}\n{\"id\":\"r2\",\"text\":\"Battery: 6 months\"}\n"), false)
	fuzzseed.Write(t, "FuzzParse", "jsonl-errors", []byte("{\"id\":\"r1\",\"text\":\"a\"}\n{\"id\":\"r1\",\"text\":\"dup\"}\n{bad\n{\"id\":2,\"text\":\"x\"}\n{\"id\":\"r3\",\"text\":\"\\u0000\"}\n"), false)
	fuzzseed.Write(t, "FuzzParse", "csv", []byte("id,title,text,lang\nr1,保修,整机保修一年,zh\nr2,,\"Battery, 6 months\",en\n"), true)
	fuzzseed.Write(t, "FuzzParse", "csv-binary", []byte("id,text\n\x00\x01,\x02\n"), true)
}
