package records_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
)

func TestParseJSONL(t *testing.T) {
	t.Parallel()
	in := "\xEF\xBB\xBF" + `{"id": "r1", "title": "退货政策", "text": "7 天无理由退货。", "metadata": {"lang": "zh", "n": 2}}

{"id": "r2", "text": "Ships in 2 days.", "title": null}
`
	recs, err := records.Parse(strings.NewReader(in), "docs.jsonl")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, records.Record{ID: "r1", Title: "退货政策", Text: "7 天无理由退货。", Metadata: map[string]any{"lang": "zh", "n": 2.0}, Line: 1}, recs[0])
	require.Equal(t, "r2", recs[1].ID)
	require.Equal(t, 3, recs[1].Line)
	require.Nil(t, recs[1].Metadata)
}

func TestParseJSONLErrorsNameLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"Malformed", "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\": \"b\", \"text\": \n", "line 2: invalid JSON"},
		{"NotObject", "{\"id\":\"a\",\"text\":\"x\"}\n[1]\n", "line 2: not a JSON object"},
		{"MissingID", "{\"text\":\"x\"}\n", `line 1: missing "id"`},
		{"NumericID", "{\"id\": 7, \"text\":\"x\"}\n", `line 1: "id" must be a string`},
		{"BlankText", "{\"id\":\"a\",\"text\":\"  \"}\n", `line 1: "text" is blank`},
		{"MetadataArray", "{\"id\":\"a\",\"text\":\"x\",\"metadata\":[1]}\n", `line 1: "metadata" must be an object`},
		{"Duplicate", "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n{\"id\":\"a\",\"text\":\"z\"}\n", `line 3: duplicate id "a", first on line 1`},
		{"TwoValues", "{\"id\":\"a\",\"text\":\"x\"} {\"id\":\"b\"}\n", "line 1: more than one JSON value"},
		{"Empty", "\n\n", "no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := records.Parse(strings.NewReader(tc.in), "bad.jsonl")
			require.ErrorIs(t, err, kb.ErrInvalid)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "bad.jsonl")
		})
	}
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	in := "id,title,text,source\nr1,\"退货, 换货\",\"第一段\n第二段\",manual\nr2,,Ships fast,\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(in))
	require.NoError(t, err)
	recs, err := records.Parse(strings.NewReader(string(gbk)), "docs.csv")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, records.Record{ID: "r1", Title: "退货, 换货", Text: "第一段\n第二段", Metadata: map[string]any{"source": "manual"}, Line: 2}, recs[0])
	require.Equal(t, 3, recs[1].Line)

	_, err = records.Parse(strings.NewReader("id,title,text\nr1,a,x\nr1,b,y\n,c,z\n"), "dup.csv")
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), `line 3: duplicate id "r1"`)
	require.Contains(t, err.Error(), "line 4: blank id")

	_, err = records.Parse(strings.NewReader("key,body\n1,x\n"), "cols.csv")
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), "key,body")
}

func TestParseQueries(t *testing.T) {
	t.Parallel()
	qs, err := records.ParseQueries(strings.NewReader(`{"id":"q1","text":"怎么退货","relevant":["r1","r3"]}
{"id":"q2","text":"shipping time","relevant":["r2"]}
`))
	require.NoError(t, err)
	require.Equal(t, []records.Query{
		{ID: "q1", Text: "怎么退货", Relevant: []string{"r1", "r3"}, Line: 1},
		{ID: "q2", Text: "shipping time", Relevant: []string{"r2"}, Line: 2},
	}, qs)

	for _, tc := range []struct{ in, want string }{
		{`{"id":"q1","text":"x"}`, `line 1: missing "relevant"`},
		{`{"id":"q1","text":"x","relevant":"r1"}`, `line 1: "relevant" must be an array`},
		{`{"id":"q1","text":"x","relevant":[]}`, `line 1: "relevant" is empty`},
		{"{\"id\":\"q1\",\"text\":\"x\",\"relevant\":[\"r\"]}\n{\"id\":\"q1\",\"text\":\"y\",\"relevant\":[\"r\"]}", `line 2: duplicate query id "q1"`},
		{"{\"id\":\"q1\",\"text\":\"x\",\"relevant\":[\"r\"]}\n\n{oops", "line 3: invalid JSON"},
	} {
		_, err := records.ParseQueries(strings.NewReader(tc.in))
		require.ErrorIs(t, err, kb.ErrInvalid, tc.in)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestManyBadLinesAreCapped(t *testing.T) {
	t.Parallel()
	_, err := records.Parse(strings.NewReader(strings.Repeat("nope\n", 25)), "x.jsonl")
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Contains(t, err.Error(), "line 10:")
	require.NotContains(t, err.Error(), "line 11:")
	require.Contains(t, err.Error(), "and 15 more")
}

// A job past its deadline stops reading a large records file, JSONL or CSV, with the
// context's error; with time left the same file reads whole.
func TestParseStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	var jsonl, csv strings.Builder
	csv.WriteString("id,title,text\n")
	for i := range 5000 {
		fmt.Fprintf(&jsonl, "{\"id\":\"r%d\",\"text\":\"text %d\"}\n", i, i)
		fmt.Fprintf(&csv, "r%d,t,text %d\n", i, i)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for name, text := range map[string]string{"a.jsonl": jsonl.String(), "a.csv": csv.String()} {
		recs, err := records.ParseContext(context.Background(), strings.NewReader(text), name)
		require.NoError(t, err, name)
		require.Len(t, recs, 5000, name)
		_, err = records.ParseContext(done, strings.NewReader(text), name)
		require.ErrorIs(t, err, context.Canceled, name)
	}
}
