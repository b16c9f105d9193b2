package records

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// DefaultMaxBytes caps what Parse and ParseQueries read: 512 MiB.
const DefaultMaxBytes = 512 << 20

// maxReported bounds how many bad lines one error lists.
const maxReported = 10

// Record is one document of a records file; its ID becomes the document's external id.
type Record struct {
	ID       string
	Title    string         // optional
	Text     string         // never blank
	Metadata map[string]any // optional; for CSV, the columns other than id, title and text
	Line     int            // line (JSONL) or spreadsheet row (CSV) it came from
}

// Query is one evaluation query: Relevant lists the ids of the records that answer it.
type Query struct {
	ID       string
	Text     string
	Relevant []string
	Line     int
}

// Parse reads a records file: JSONL, or CSV with the columns id,title,text (extra CSV
// columns go into Metadata as text). The format comes from the name's extension (.csv,
// .jsonl, .ndjson, .json), else from the content. The first lines that break the format
// — malformed JSON, a missing or non-string id or text, metadata that is not an object,
// an id used twice — are returned together in one error naming their lines.
func Parse(r io.Reader, name string) ([]Record, error) {
	return ParseContext(context.Background(), r, name)
}

// ParseContext is Parse that stops, with ctx's error, once ctx is done (an ingestion job
// past its deadline), checked every 1024 lines.
func ParseContext(ctx context.Context, r io.Reader, name string) ([]Record, error) {
	data, err := readLimited(r, name)
	if err != nil {
		return nil, err
	}
	text, _, err := tabular.DecodeText(data)
	if err != nil {
		return nil, fmt.Errorf("records: %s: %w", filepath.Base(name), err)
	}
	var recs []Record
	if isCSV(text, name) {
		recs, err = parseCSV(ctx, data, name)
	} else {
		recs, err = parseJSONL(ctx, text)
	}
	if err != nil {
		return nil, fmt.Errorf("records: %s: %w", filepath.Base(name), err)
	}
	if len(recs) == 0 {
		return nil, kb.Invalid(fmt.Sprintf("records: %s: no records", filepath.Base(name)), "没有记录")
	}
	return recs, nil
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, DefaultMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("records: read %s: %w", filepath.Base(name), err)
	}
	if len(data) > DefaultMaxBytes {
		return nil, kb.TooLarge(fmt.Sprintf("records: %s is larger than %d bytes", filepath.Base(name), DefaultMaxBytes), fmt.Sprintf("文件超过 %d 字节", DefaultMaxBytes))
	}
	return data, nil
}

func isCSV(text, name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv":
		return true
	case ".jsonl", ".ndjson", ".json":
		return false
	}
	return !strings.HasPrefix(strings.TrimSpace(text), "{")
}

// joinTexts joins the errors' English messages; joinTextsZh their Chinese ones.
func joinTexts(errs []error, sep string) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i], _ = kb.Texts(e)
	}
	return strings.Join(parts, sep)
}

func joinTextsZh(errs []error, sep string) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		en, zh := kb.Texts(e)
		if zh == "" {
			zh = en
		}
		parts[i] = zh
	}
	return strings.Join(parts, sep)
}

// problems collects line errors up to maxReported.
type problems struct {
	errs  []error
	extra int
}

func (p *problems) add(line int, err error) {
	if len(p.errs) == maxReported {
		p.extra++
		return
	}
	en, zh := kb.Texts(err)
	if zh == "" {
		zh = en
	}
	p.errs = append(p.errs, kb.Invalid(fmt.Sprintf("line %d: %s", line, en), fmt.Sprintf("第 %d 行：%s", line, zh)))
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	if p.extra > 0 {
		p.errs = append(p.errs, kb.Invalid(fmt.Sprintf("and %d more bad lines", p.extra), fmt.Sprintf("另有 %d 行有误", p.extra)))
	}
	return kb.Invalid(joinTexts(p.errs, "; "), joinTextsZh(p.errs, "；"))
}

// jsonLines calls fn with each non-blank line's number and bytes.
func jsonLines(ctx context.Context, text string, fn func(n int, line []byte)) error {
	for i, line := range strings.Split(text, "\n") {
		if err := kb.Stopped(ctx, i+1); err != nil {
			return err
		}
		if line = strings.TrimSpace(line); line != "" {
			fn(i+1, []byte(line))
		}
	}
	return nil
}

// decodeLine decodes one JSON object line into fields, rejecting anything else.
func decodeLine(line []byte) (map[string]json.RawMessage, error) {
	if line[0] != '{' {
		return nil, kb.Invalid("not a JSON object", "不是 JSON 对象")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, kb.Invalid(fmt.Sprintf("invalid JSON (%v)", err), "JSON 格式错误")
	}
	if dec.More() {
		return nil, kb.Invalid("more than one JSON value on the line", "一行只能有一个 JSON 对象")
	}
	return obj, nil
}

// stringField reads a string member; required means present, a string and not blank.
func stringField(obj map[string]json.RawMessage, key string, required bool) (string, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		if required {
			return "", kb.Invalid(fmt.Sprintf("missing %q", key), fmt.Sprintf("缺少 %s 字段", key))
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", kb.Invalid(fmt.Sprintf("%q must be a string, got %s", key, raw), fmt.Sprintf("%s 必须是字符串", key))
	}
	if required && strings.TrimSpace(s) == "" {
		return "", kb.Invalid(fmt.Sprintf("%q is blank", key), fmt.Sprintf("%s 为空", key))
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", kb.Invalid(fmt.Sprintf("%q holds a NUL character (\\u0000), which cannot be stored", key), fmt.Sprintf("%s 含有无法保存的 NUL 字符", key))
	}
	return s, nil
}

// hasNUL reports a NUL character in any string or key of a decoded JSON value: PostgreSQL's
// jsonb refuses \u0000 (found by FuzzParse).
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, x := range v {
			if hasNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(x) {
				return true
			}
		}
	}
	return false
}

func parseJSONL(ctx context.Context, text string) ([]Record, error) {
	var (
		recs  []Record
		bad   problems
		first = map[string]int{}
	)
	stop := jsonLines(ctx, text, func(n int, line []byte) {
		obj, err := decodeLine(line)
		if err != nil {
			bad.add(n, err)
			return
		}
		rec := Record{Line: n}
		var errs []error
		for _, f := range []struct {
			key      string
			dst      *string
			required bool
		}{{"id", &rec.ID, true}, {"title", &rec.Title, false}, {"text", &rec.Text, true}} {
			v, err := stringField(obj, f.key, f.required)
			if err != nil {
				errs = append(errs, err)
			}
			*f.dst = v
		}
		if raw, ok := obj["metadata"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &rec.Metadata); err != nil || rec.Metadata == nil {
				errs = append(errs, kb.Invalid(fmt.Sprintf(`"metadata" must be an object, got %s`, abbreviate(raw)), "metadata 必须是对象"))
			} else if hasNUL(rec.Metadata) {
				errs = append(errs, kb.Invalid(`"metadata" holds a NUL character (\u0000), which cannot be stored`, "metadata 含有无法保存的 NUL 字符"))
			}
		}
		if len(errs) > 0 {
			bad.add(n, kb.Invalid(joinTexts(errs, "; "), joinTextsZh(errs, "；")))
			return
		}
		if prev, dup := first[rec.ID]; dup {
			bad.add(n, kb.Invalid(fmt.Sprintf("duplicate id %q, first on line %d", rec.ID, prev), fmt.Sprintf("id %q 重复，首次出现在第 %d 行", rec.ID, prev)))
			return
		}
		first[rec.ID] = n
		recs = append(recs, rec)
	})
	if stop != nil {
		return nil, stop
	}
	return recs, bad.err()
}

func parseCSV(ctx context.Context, data []byte, name string) ([]Record, error) {
	t, err := tabular.Read(data, name, tabular.Options{Format: tabular.CSV, MaxRows: 1 << 30, MaxCellBytes: 1 << 20, Context: ctx})
	if err != nil {
		return nil, err
	}
	var bad problems
	for _, e := range t.Errors {
		bad.add(e.Row, e.Err)
	}
	sh := t.Sheets[0]
	col := map[string]int{}
	for i, h := range sh.Header {
		switch k := tabular.NormalizeHeader(h); k {
		case "id", "title", "text":
			if _, dup := col[k]; !dup {
				col[k] = i
			}
		}
	}
	_, hasID := col["id"]
	_, hasText := col["text"]
	if !hasID || !hasText {
		return nil, kb.Invalid(fmt.Sprintf("CSV needs the columns id,title,text; found %s", strings.Join(sh.Header, ",")), "CSV 需要 id,title,text 列")
	}
	var recs []Record
	first := map[string]int{}
	for _, row := range sh.Rows {
		rec := Record{ID: row.Cells[col["id"]], Text: row.Cells[col["text"]], Line: row.Num}
		if i, ok := col["title"]; ok {
			rec.Title = row.Cells[i]
		}
		switch {
		case rec.ID == "":
			bad.add(row.Num, kb.Invalid("blank id", "id 为空"))
			continue
		case strings.TrimSpace(rec.Text) == "":
			bad.add(row.Num, kb.Invalid(fmt.Sprintf("blank text for id %q", rec.ID), fmt.Sprintf("id %q 的 text 为空", rec.ID)))
			continue
		}
		if prev, dup := first[rec.ID]; dup {
			bad.add(row.Num, kb.Invalid(fmt.Sprintf("duplicate id %q, first on line %d", rec.ID, prev), fmt.Sprintf("id %q 重复，首次出现在第 %d 行", rec.ID, prev)))
			continue
		}
		first[rec.ID] = row.Num
		for i, h := range sh.Header {
			if k := tabular.NormalizeHeader(h); (k == "id" || k == "title" || k == "text") && col[k] == i {
				continue
			}
			if row.Cells[i] != "" {
				if rec.Metadata == nil {
					rec.Metadata = map[string]any{}
				}
				rec.Metadata[h] = row.Cells[i]
			}
		}
		recs = append(recs, rec)
	}
	return recs, bad.err()
}

// ParseQueries reads an evaluation query file: JSONL with a string id, a non-blank text and
// a non-empty "relevant" array of record ids on each line. Bad lines and repeated ids fail
// the file with an error naming the lines.
func ParseQueries(r io.Reader) ([]Query, error) {
	data, err := readLimited(r, "queries")
	if err != nil {
		return nil, err
	}
	text, _, err := tabular.DecodeText(data)
	if err != nil {
		return nil, fmt.Errorf("records: queries: %w", err)
	}
	var (
		qs    []Query
		bad   problems
		first = map[string]int{}
	)
	_ = jsonLines(context.Background(), text, func(n int, line []byte) { // a background context never stops
		obj, err := decodeLine(line)
		if err != nil {
			bad.add(n, err)
			return
		}
		q := Query{Line: n}
		var errs []error
		if q.ID, err = stringField(obj, "id", true); err != nil {
			errs = append(errs, err)
		}
		if q.Text, err = stringField(obj, "text", true); err != nil {
			errs = append(errs, err)
		}
		raw, ok := obj["relevant"]
		switch {
		case !ok:
			errs = append(errs, kb.Invalid(`missing "relevant"`, "缺少 relevant 字段"))
		case json.Unmarshal(raw, &q.Relevant) != nil:
			errs = append(errs, kb.Invalid(fmt.Sprintf(`"relevant" must be an array of record ids, got %s`, abbreviate(raw)), "relevant 必须是 id 数组"))
		case len(q.Relevant) == 0:
			errs = append(errs, kb.Invalid(`"relevant" is empty`, "relevant 为空"))
		}
		for _, id := range q.Relevant {
			if strings.TrimSpace(id) == "" {
				errs = append(errs, kb.Invalid(`"relevant" holds a blank id`, "relevant 含空 id"))
				break
			}
		}
		if len(errs) > 0 {
			bad.add(n, kb.Invalid(joinTexts(errs, "; "), joinTextsZh(errs, "；")))
			return
		}
		if prev, dup := first[q.ID]; dup {
			bad.add(n, kb.Invalid(fmt.Sprintf("duplicate query id %q, first on line %d", q.ID, prev), fmt.Sprintf("查询 id %q 重复，首次出现在第 %d 行", q.ID, prev)))
			return
		}
		first[q.ID] = n
		qs = append(qs, q)
	})
	if err := bad.err(); err != nil {
		return nil, fmt.Errorf("records: queries: %w", err)
	}
	if len(qs) == 0 {
		return nil, kb.Invalid("records: queries: no queries", "没有查询")
	}
	return qs, nil
}

// abbreviate keeps error messages short when a value is large.
func abbreviate(raw []byte) string {
	const n = 40
	if len(raw) > n {
		return string(raw[:n]) + "…"
	}
	return string(raw)
}
