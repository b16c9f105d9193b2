package tabular

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
)

// wrapperKeys are the keys under which exporters put the object list of a JSON document.
var wrapperKeys = []string{"products", "items", "data", "records", "rows", "faqs"}

// readJSON reads a JSON array of objects, a wrapper object holding one, a single object, or
// JSONL. Nested objects flatten to "a.b" keys; arrays stay as compact JSON text; the header
// is the union of keys in order of first appearance.
func readJSON(data []byte, opts Options) (*Table, error) {
	text, enc, err := DecodeText(data)
	if err != nil {
		return nil, err
	}
	b := []byte(text)
	if !json.Valid(b) {
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			return nil, jsonSyntaxError(b, 0, json.Unmarshal(b, new(any)))
		}
		t, err := readJSONL(b, opts)
		if t != nil {
			t.Encoding = enc
		}
		return t, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntaxError(b, 0, err)
	}
	acc := newAccumulator()
	switch tok {
	case json.Delim('['):
		if err := readArray(dec, b, 0, acc, opts); err != nil {
			return nil, err
		}
	case json.Delim('{'):
		list, start, obj, err := readTopObject(dec)
		if err != nil {
			return nil, jsonSyntaxError(b, 0, err)
		}
		if list != nil {
			sub := json.NewDecoder(bytes.NewReader(list))
			sub.UseNumber()
			if _, err := sub.Token(); err != nil {
				return nil, jsonSyntaxError(b, 0, err)
			}
			if err := readArray(sub, b, start, acc, opts); err != nil {
				return nil, err
			}
			break
		}
		acc.add(1, obj)
	default:
		return nil, kb.Invalid("JSON must be an array of objects, an object or JSONL", "JSON 须为对象数组、对象或 JSONL")
	}
	t := acc.table(JSON)
	t.Encoding = enc
	return t, nil
}

// readTopObject reads a top-level object whose '{' has been consumed. When one of its keys
// is a wrapper key ("products", "items"...) holding an array, that array is returned with
// its offset in the input; otherwise the object itself is one row.
func readTopObject(dec *json.Decoder) (json.RawMessage, int, []field, error) {
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, 0, nil, err
		}
		if len(raw) > 0 && raw[0] == '[' && isWrapperKey(key) {
			return raw, int(dec.InputOffset()) - len(raw), nil, nil
		}
		if len(raw) > 0 && raw[0] == '{' {
			sub := json.NewDecoder(bytes.NewReader(raw))
			sub.UseNumber()
			if _, err := sub.Token(); err != nil {
				return nil, 0, nil, err
			}
			if err := readMembers(sub, key+".", &fields); err != nil {
				return nil, 0, nil, err
			}
			continue
		}
		fields = append(fields, field{key: key, value: scalarText(raw)})
	}
	return nil, 0, fields, nil
}

func isWrapperKey(k string) bool {
	for _, w := range wrapperKeys {
		if strings.EqualFold(k, w) {
			return true
		}
	}
	return false
}

// readArray reads objects from an array whose '[' has been consumed; base is the offset of
// dec's input within src, for line numbers. It stops when opts' context is done.
func readArray(dec *json.Decoder, src []byte, base int, acc *accumulator, opts Options) error {
	maxRows := opts.maxRows()
	for n := 1; dec.More(); n++ {
		if err := opts.cancelled(n); err != nil {
			return err
		}
		line := lineAt(src, nextValue(src, base+int(dec.InputOffset())))
		tok, err := dec.Token()
		if err != nil {
			return jsonSyntaxError(src, base, err)
		}
		if tok != json.Delim('{') {
			return kb.Invalid(fmt.Sprintf("line %d: element %d is not an object", line, len(acc.rows)+1), fmt.Sprintf("第 %d 行：数组元素不是对象", line))
		}
		obj, err := readObject(dec)
		if err != nil {
			return jsonSyntaxError(src, base, err)
		}
		if len(acc.rows) >= maxRows {
			return tooMany(maxRows)
		}
		acc.add(line, obj)
	}
	return nil
}

func readJSONL(b []byte, opts Options) (*Table, error) {
	acc := newAccumulator()
	var errs []RowError
	for lineNum, line := range bytes.Split(b, []byte("\n")) {
		if err := opts.cancelled(lineNum + 1); err != nil {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n := lineNum + 1
		obj, err := parseLineObject(line)
		if err != nil {
			errs = append(errs, RowError{Row: n, Err: err})
			if len(errs) >= maxCSVErrors {
				return nil, kb.Invalid(fmt.Sprintf("too many malformed lines, first: %v", errs[0]), "格式错误的行过多")
			}
			continue
		}
		if len(acc.rows) >= opts.maxRows() {
			return nil, tooMany(opts.maxRows())
		}
		acc.add(n, obj)
	}
	if len(acc.rows) == 0 && len(errs) > 0 {
		return nil, kb.Invalid(fmt.Sprintf("no valid JSON line, first problem: %v", errs[0]), "没有有效的 JSON 行")
	}
	t := acc.table(JSONL)
	t.Errors = errs
	return t, nil
}

// parseLineObject decodes one JSONL line, which must hold exactly one object.
func parseLineObject(line []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, kb.Invalid("not a JSON object", "不是 JSON 对象")
	}
	obj, err := readObject(dec)
	if err != nil {
		return nil, kb.Invalid(fmt.Sprintf("invalid JSON (%v)", err), "JSON 格式错误")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, kb.Invalid("trailing data after the object", "对象后有多余内容")
	}
	return obj, nil
}

// field is one flattened key with its value as cell text.
type field struct {
	key, value string
}

// readObject reads the members of an object whose '{' has been consumed, flattening nested
// objects into dotted keys in document order.
func readObject(dec *json.Decoder) ([]field, error) {
	var out []field
	if err := readMembers(dec, "", &out); err != nil {
		return nil, err
	}
	return out, nil
}

func readMembers(dec *json.Decoder, prefix string, out *[]field) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is not a string")
		}
		key = prefix + key
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) > 0 && raw[0] == '{':
			sub := json.NewDecoder(bytes.NewReader(raw))
			sub.UseNumber()
			if _, err := sub.Token(); err != nil {
				return err
			}
			if err := readMembers(sub, key+".", out); err != nil {
				return err
			}
		default:
			*out = append(*out, field{key: key, value: scalarText(raw)})
		}
	}
	_, err := dec.Token() // the closing '}'
	return err
}

// scalarText renders a JSON value as a cell: strings unquoted, null empty, numbers and
// booleans as written, arrays as compact JSON.
func scalarText(raw json.RawMessage) string {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case raw[0] == '[':
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String()
		}
	}
	return string(raw)
}

// accumulator builds one sheet from objects with possibly different keys.
type accumulator struct {
	index  map[string]int
	header []string
	rows   []Row
}

func newAccumulator() *accumulator { return &accumulator{index: map[string]int{}} }

func (a *accumulator) add(line int, obj []field) {
	cells := make([]string, len(a.header), len(a.header)+len(obj))
	for _, f := range obj {
		// Keys become column names: storable, and never blank (FuzzReadJSON found both).
		key := strings.TrimSpace(storableText(f.key))
		if key == "" {
			key = "column"
		}
		i, ok := a.index[key]
		if !ok {
			i = len(a.header)
			a.index[key] = i
			a.header = append(a.header, key)
			cells = append(cells, "")
		}
		for len(cells) <= i {
			cells = append(cells, "")
		}
		cells[i] = strings.TrimSpace(storableText(f.value))
	}
	a.rows = append(a.rows, Row{Num: line, Cells: cells})
}

func (a *accumulator) table(format Format) *Table {
	sh := Sheet{Header: a.header}
	for _, r := range a.rows {
		if blank(r.Cells) {
			continue
		}
		r.Cells = pad(r.Cells, len(a.header))
		sh.Rows = append(sh.Rows, r)
	}
	t := &Table{Format: format}
	if len(sh.Rows) > 0 {
		t.Sheets = []Sheet{sh}
	}
	return t
}

// jsonSyntaxError names the line of a JSON syntax error, which encoding/json reports as a
// byte offset.
func jsonSyntaxError(src []byte, base int, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := lineAt(src, base+int(se.Offset))
		return kb.Invalid(fmt.Sprintf("line %d: invalid JSON (%v)", line, se), fmt.Sprintf("第 %d 行 JSON 格式错误", line))
	}
	return kb.Invalid(fmt.Sprintf("invalid JSON (%v)", err), "JSON 格式错误")
}

// nextValue skips the separators after a decoder's offset to where the next value starts.
func nextValue(src []byte, off int) int {
	for off < len(src) && (src[off] == ',' || src[off] == ' ' || src[off] == '\t' || src[off] == '\n' || src[off] == '\r') {
		off++
	}
	return off
}

// lineAt converts a byte offset into a 1-based line number.
func lineAt(src []byte, off int) int {
	off = min(max(off, 0), len(src))
	return bytes.Count(src[:off], []byte("\n")) + 1
}
