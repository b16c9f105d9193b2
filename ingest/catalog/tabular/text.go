package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
)

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// DecodeText returns data as UTF-8 text and the encoding it was read as. Chinese Excel saves
// "CSV" in GBK unless told otherwise and "Unicode text" as UTF-16LE with a BOM; invalid
// UTF-8 without a BOM is therefore read as GB18030, a superset of GBK and GB2312.
// Binary content (NUL bytes or control characters once decoded: an image, an archive or an
// executable renamed .csv) is a kb.ErrUnsupported naming the problem, never text.
func DecodeText(data []byte) (string, string, error) {
	text, enc, err := decodeText(data)
	if err != nil {
		return "", "", err
	}
	if binaryText(text) {
		return "", "", errBinary
	}
	return text, enc, nil
}

// binaryText reports text holding a NUL, or more than 1% control characters other than
// tab, newline, carriage return and form feed in its first 8 kB.
func binaryText(text string) bool {
	if strings.IndexByte(text, 0) >= 0 {
		return true
	}
	head := text[:min(len(text), 8192)]
	controls, n := 0, 0
	for _, r := range head {
		n++
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f') || r == 0x7f {
			controls++
		}
	}
	return controls > 0 && controls*100 > n
}

// decodeText reads all of textReader's text: one copy of the file, as a string.
func decodeText(data []byte) (string, string, error) {
	r, enc := textReader(data)
	var b strings.Builder
	b.Grow(len(data))
	if _, err := io.Copy(&b, r); err != nil {
		return "", "", err
	}
	return b.String(), enc, nil
}

// SniffDelimiter picks ',', ';' or '\t' for delimited text: the candidate that appears
// (outside quotes) the same non-zero number of times on most of the first lines, preferring
// the one most frequent on the first line. Defaults to ','.
func SniffDelimiter(text string) rune {
	lines := firstLines(text, 10)
	best, bestScore := ',', 0
	for _, d := range []rune{',', '\t', ';'} {
		if len(lines) == 0 {
			break
		}
		first := countOutsideQuotes(lines[0], d)
		if first == 0 {
			continue
		}
		consistent := 0
		for _, l := range lines {
			if countOutsideQuotes(l, d) == first {
				consistent++
			}
		}
		// Consistency dominates; frequency on the header breaks ties.
		score := consistent*1000 + first
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

// firstLines returns up to n non-blank physical lines; a quoted newline may split a record,
// which only makes the consistency count a little noisier.
func firstLines(text string, n int) []string {
	var out []string
	for len(out) < n && text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}

// guardError names the column of a cell the guard refused by the header of the rows read
// before it (a header cell, or one before any header, by its number).
func guardError(err error, grid [][]string, nums []int) error {
	var ce *cellError
	if !errors.As(err, &ce) {
		return err
	}
	j, _ := strconv.Atoi(ce.col)
	ce.col = fmt.Sprintf("column %d", j+1)
	if sh := gridSheet("", grid, nums); len(grid) > 0 && ce.row > sh.HeaderRow && j < len(sh.Header) {
		ce.col = sh.Header[j]
	}
	return ce
}

// maxCSVErrors stops reading a file that is broken throughout rather than listing every line.
const maxCSVErrors = 50

// readCSV reads delimited text as a stream (see cellGuard): a cell is refused as soon as
// its text passes twice Options.MaxCellBytes (trimming the whitespace around it, as rows
// are, cannot bring it back under), before csv.Reader has buffered it; a cell between the
// limit and twice it is measured, trimmed, by checkCells as any format's.
func readCSV(data []byte, opts Options) (*Table, error) {
	src, enc := textReader(data)
	if enc != "utf-16le" && enc != "utf-16be" && bytes.IndexByte(data, 0) >= 0 {
		return nil, errBinary // a NUL byte is a NUL character in UTF-8 and GB18030; UTF-16's the guard finds
	}
	// Decoded text is at most twice the size of the file (GBK's two bytes are UTF-8's three).
	sniff := min(csvSniffBytes, 2*len(data)+16)
	br := bufio.NewReaderSize(src, sniff)
	head, err := csvHead(br, sniff)
	if err != nil {
		return nil, err
	}
	if binaryText(head) {
		return nil, errBinary
	}
	comma := SniffDelimiter(head)
	guard := newCellGuard(br, comma, 2*opts.maxCell())
	r := csv.NewReader(guard)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	t := &Table{Format: CSV, Encoding: enc}
	var (
		grid  [][]string
		nums  []int
		limit = opts.maxRows() + 20 // room for title and header rows
	)
	// Rows are numbered as a spreadsheet shows them: by the line a record starts on, less
	// the newlines inside earlier quoted cells (csv.Reader skips blank lines, Excel does not).
	inCellNewlines, rowNum := 0, 0
	for n := 1; ; n++ {
		if err := opts.cancelled(n); err != nil {
			return nil, err
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && guard.err != nil {
			return nil, guardError(guard.err, grid, nums)
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("read CSV: %w", err)
			}
			t.Errors = append(t.Errors, RowError{Row: pe.StartLine - inCellNewlines, Err: kb.Invalid(fmt.Sprintf("line %d column %d: %v", pe.Line, pe.Column, pe.Err), fmt.Sprintf("第 %d 行格式错误（引号不匹配？）", pe.Line))})
			if len(t.Errors) >= maxCSVErrors {
				return nil, kb.Invalid(fmt.Sprintf("too many malformed lines, first: %v", t.Errors[0]), "格式错误的行过多")
			}
			continue
		}
		if len(grid) >= limit {
			return nil, tooMany(opts.maxRows())
		}
		line, _ := r.FieldPos(0)
		rowNum = line - inCellNewlines
		for _, c := range rec {
			inCellNewlines += strings.Count(c, "\n")
		}
		grid = append(grid, append([]string(nil), rec...))
		nums = append(nums, rowNum)
	}
	sh := gridSheet("", grid, nums)
	if len(sh.Header) == 0 {
		return nil, kb.Invalid("no rows", "文件没有数据行")
	}
	if len(sh.Rows) > opts.maxRows() {
		return nil, tooMany(opts.maxRows())
	}
	t.Sheets = []Sheet{sh}
	return t, nil
}
