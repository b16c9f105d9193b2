package tabular

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
)

// Format is the container a table was read from.
type Format string

// Formats Read recognises.
const (
	CSV   Format = "csv"   // comma, semicolon or tab separated text
	XLSX  Format = "xlsx"  // Office Open XML workbook
	JSON  Format = "json"  // one JSON array of objects, or {"products"|"items"|"data"|"records": [...]}
	JSONL Format = "jsonl" // one JSON object a line
)

// Defaults for Options.
const (
	DefaultMaxRows = 200_000
	// DefaultMaxColumns bounds a sheet's columns: a product card joins every column, and a
	// card of 100 000 columns is over PostgreSQL's 1 MB full-text limit (found by
	// TestHostileFiles); real catalogs have dozens.
	DefaultMaxColumns    = 1000
	DefaultMaxUnzipBytes = 256 << 20
	// DefaultMaxCellBytes bounds one cell: reading a file costs about twelve times its
	// largest text, so one 94 MB cell (under the upload limit) took 1.1 GB (zhiku bench
	// hostile); real descriptions and answers are kilobytes, and a product card or an
	// answer of 64 KiB is already more than a passage can use.
	DefaultMaxCellBytes = 64 << 10
)

func (o Options) ctx() context.Context {
	if o.Context == nil {
		return context.Background()
	}
	return o.Context
}

// cancelled reports every 1024th call whether opts.Context is done, with its error.
func (o Options) cancelled(n int) error { return kb.Stopped(o.Context, n) }

// ErrTooManyRows is returned when a file holds more data rows than Options.MaxRows. It wraps
// kb.ErrTooLarge so the API maps it to 413 without knowing this package.
var ErrTooManyRows = kb.TooLarge("too many rows", "行数超过上限")

// Options bound and steer Read. The zero value is ready to use.
type Options struct {
	// MaxRows caps the data rows over all sheets. Defaults to DefaultMaxRows (200 000).
	MaxRows int
	// MaxUnzipBytes caps the uncompressed size of an XLSX package, guarding against zip
	// bombs. Defaults to DefaultMaxUnzipBytes (256 MiB).
	MaxUnzipBytes int64
	// Format forces a format instead of detecting it from the content. Empty means detect.
	Format Format
	// MaxColumns caps the columns of any sheet (kb.ErrTooLarge beyond). Defaults to
	// DefaultMaxColumns.
	MaxColumns int
	// MaxCellBytes caps one cell (kb.ErrTooLarge beyond). Defaults to DefaultMaxCellBytes.
	MaxCellBytes int
	// Context, when set, stops the row loops once it is done (a reader that timed out
	// stops instead of running on in the background).
	Context context.Context
}

func (o Options) maxRows() int {
	if o.MaxRows <= 0 {
		return DefaultMaxRows
	}
	return o.MaxRows
}

func (o Options) maxCell() int {
	if o.MaxCellBytes <= 0 {
		return DefaultMaxCellBytes
	}
	return o.MaxCellBytes
}

func (o Options) maxUnzip() int64 {
	if o.MaxUnzipBytes <= 0 {
		return DefaultMaxUnzipBytes
	}
	return o.MaxUnzipBytes
}

// Row is one data row. Cells line up with the sheet's Header; missing trailing cells are
// empty strings.
type Row struct {
	// Num is where the row is in the file, 1-based: the spreadsheet row for CSV and XLSX
	// (the header is usually row 1), the line where the object starts for JSON and JSONL.
	Num   int
	Cells []string
}

// Sheet is one header plus its rows. CSV and JSON files have a single sheet with an empty
// Name; a workbook has one per visible worksheet that holds data.
type Sheet struct {
	Name   string
	Header []string // unique, non-empty; blank header cells become "column N"
	Rows   []Row    // empty rows are dropped
	// HeaderRow is the row (or line) the header came from, 0 for JSON whose keys are the header.
	HeaderRow int
}

// Table is a whole file.
type Table struct {
	Format   Format
	Encoding string // the text encoding a CSV was decoded from ("utf-8", "utf-8-bom", "gb18030", "utf-16le"...)
	Sheets   []Sheet
	// Errors are rows that could not be read (a malformed JSONL line, a CSV quoting error);
	// the rest of the file still counts.
	Errors []RowError
}

// RowError is a problem confined to one row; importers collect them instead of failing
// the whole file.
type RowError struct {
	Sheet string // empty for single-sheet formats
	Row   int    // same numbering as Row.Num; 0 when the problem concerns the whole sheet
	Err   error
}

func (e RowError) Error() string {
	var b strings.Builder
	if e.Sheet != "" {
		fmt.Fprintf(&b, "sheet %q ", e.Sheet)
	}
	if e.Row > 0 {
		fmt.Fprintf(&b, "row %d", e.Row)
	}
	if b.Len() == 0 {
		return e.Err.Error()
	}
	return strings.TrimSpace(b.String()) + ": " + e.Err.Error()
}

func (e RowError) Unwrap() error { return e.Err }

// Texts names the sheet and row in both languages, with the row's error.
func (e RowError) Texts() (en, zh string) {
	en, zh = kb.Texts(e.Err)
	if zh == "" {
		zh = en
	}
	var pe, pz string
	if e.Sheet != "" {
		pe, pz = fmt.Sprintf("sheet %q ", e.Sheet), fmt.Sprintf("工作表“%s”", e.Sheet)
	}
	if e.Row > 0 {
		pe, pz = pe+fmt.Sprintf("row %d", e.Row), pz+fmt.Sprintf("第 %d 行", e.Row)
	}
	if pe == "" {
		return en, zh
	}
	return strings.TrimSpace(pe) + ": " + en, pz + "：" + zh
}

// Read parses data, whose format is detected from its content (ZIP magic → XLSX, a leading
// '[' or '{' → JSON or JSONL, otherwise delimited text); name is only used in messages and
// as a hint when content is ambiguous.
func Read(data []byte, name string, opts Options) (*Table, error) {
	format := opts.Format
	if format == "" {
		var err error
		if format, err = Detect(data, name); err != nil {
			return nil, err
		}
	}
	var (
		t   *Table
		err error
	)
	switch format {
	case XLSX:
		t, err = readXLSX(data, opts)
	case JSON, JSONL:
		t, err = readJSON(data, opts)
	case CSV:
		t, err = readCSV(data, opts)
	default:
		return nil, fmt.Errorf("tabular: format %q: %w", format, kb.ErrUnsupported)
	}
	var cell *cellError
	if errors.As(err, &cell) {
		return nil, cell.texts(filepath.Base(name), opts.maxCell())
	}
	if err != nil {
		return nil, fmt.Errorf("tabular: %s: %w", filepath.Base(name), err)
	}
	maxCols := opts.MaxColumns
	if maxCols <= 0 {
		maxCols = DefaultMaxColumns
	}
	for _, sh := range t.Sheets {
		if len(sh.Header) > maxCols {
			return nil, kb.TooLarge(fmt.Sprintf("tabular: %s: %d columns, the limit is %d", filepath.Base(name), len(sh.Header), maxCols), fmt.Sprintf("列数 %d 超过上限 %d", len(sh.Header), maxCols))
		}
	}
	if err := checkCells(t, filepath.Base(name), opts.maxCell()); err != nil {
		return nil, err
	}
	makeStorable(t)
	return t, nil
}

// checkCells refuses a table with a header or cell larger than max bytes (0: the default),
// naming the first.
func checkCells(t *Table, name string, max int) error {
	if max <= 0 {
		max = DefaultMaxCellBytes
	}
	for _, sh := range t.Sheets {
		for j, h := range sh.Header {
			if len(h) > max {
				return (&cellError{sheet: sh.Name, row: sh.HeaderRow, col: fmt.Sprintf("column %d", j+1), n: len(h)}).texts(name, max)
			}
		}
		for _, r := range sh.Rows {
			for j, c := range r.Cells {
				if len(c) <= max {
					continue
				}
				col := fmt.Sprintf("column %d", j+1)
				if j < len(sh.Header) {
					col = sh.Header[j]
				}
				return (&cellError{sheet: sh.Name, row: r.Num, col: col, n: len(c)}).texts(name, max)
			}
		}
	}
	return nil
}

// makeStorable removes NUL bytes (a JSON "\u0000", found by FuzzReadJSON) and invalid UTF-8
// from every sheet name and cell: PostgreSQL refuses them in text and jsonb. Headers are
// cleaned where they are read, before they are made unique.
func makeStorable(t *Table) {
	for i := range t.Sheets {
		sh := &t.Sheets[i]
		sh.Name = storableText(sh.Name)
		for _, r := range sh.Rows {
			for j := range r.Cells {
				r.Cells[j] = storableText(r.Cells[j])
			}
		}
	}
}

// storableText returns s as valid UTF-8 without NUL bytes.
func storableText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

// Detect guesses a file's format from its first bytes.
func Detect(data []byte, name string) (Format, error) {
	switch {
	case bytes.HasPrefix(data, zipMagic):
		return XLSX, nil
	case bytes.HasPrefix(data, oleMagic):
		// Legacy .xls and password-protected .xlsx both live in an OLE container.
		return "", kb.Unsupported(fmt.Sprintf("tabular: %s: legacy .xls or password-protected workbook; save it as .xlsx without a password or as CSV", filepath.Base(name)), "旧版 .xls 或受密码保护的工作簿，请另存为无密码的 .xlsx 或 CSV")
	}
	trimmed := bytes.TrimLeftFunc(bytes.TrimPrefix(data, utf8BOM), unicode.IsSpace)
	if len(trimmed) == 0 {
		return "", kb.Invalid(fmt.Sprintf("tabular: %s: file is empty", filepath.Base(name)), "文件为空")
	}
	switch trimmed[0] {
	case '[':
		return JSON, nil
	case '{':
		if strings.EqualFold(filepath.Ext(name), ".jsonl") || strings.EqualFold(filepath.Ext(name), ".ndjson") {
			return JSONL, nil
		}
		return JSON, nil // readJSON falls back to JSONL when the text is not one JSON value
	}
	return CSV, nil
}

// finishSheet turns raw grid rows (header first) into a Sheet: blank header cells get a
// positional name and repeated headers get a suffix, so every header is a unique map key.
func uniqueHeader(cells []string) []string {
	out := make([]string, len(cells))
	seen := make(map[string]int, len(cells))
	for i, c := range cells {
		h := strings.TrimSpace(strings.ReplaceAll(c, "\n", " "))
		if h == "" {
			h = fmt.Sprintf("column %d", i+1)
		}
		if n := seen[h]; n > 0 {
			seen[h] = n + 1
			h = fmt.Sprintf("%s_%d", h, n+1)
		} else {
			seen[h] = 1
		}
		out[i] = h
	}
	return out
}

// blank reports whether every cell is empty or whitespace.
func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func nonEmpty(cells []string) int {
	n := 0
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			n++
		}
	}
	return n
}

// headerIndex picks the header among the first rows of a grid: the first row at least half
// as full as the fullest of them. This skips a title row ("2024 双十一商品清单") that sits
// above the real header in many hand-made sheets.
func headerIndex(grid [][]string) int {
	const look = 20
	most := 0
	for i := 0; i < len(grid) && i < look; i++ {
		most = max(most, nonEmpty(grid[i]))
	}
	for i := 0; i < len(grid) && i < look; i++ {
		if n := nonEmpty(grid[i]); n > 0 && n*2 >= most {
			return i
		}
	}
	return 0
}

// pad returns cells resized to width n.
func pad(cells []string, n int) []string {
	if len(cells) == n {
		return cells
	}
	if len(cells) > n {
		return cells[:n]
	}
	out := make([]string, n)
	copy(out, cells)
	return out
}

// tooMany builds the ErrTooManyRows error with the limit.
func tooMany(limit int) error {
	return kb.NewError(ErrTooManyRows, fmt.Sprintf("more than %d data rows", limit), fmt.Sprintf("数据行超过 %d 行", limit))
}

// gridSheet turns a grid of cells into a Sheet. nums[i] is grid[i]'s row number. Rows wider
// than the header extend it with positional names rather than losing cells.
func gridSheet(name string, grid [][]string, nums []int) Sheet {
	if len(grid) == 0 {
		return Sheet{Name: name}
	}
	h := headerIndex(grid)
	width := 0
	for _, r := range grid[h:] {
		width = max(width, len(r))
	}
	sh := Sheet{Name: name, Header: uniqueHeader(pad(grid[h], width)), HeaderRow: nums[h]}
	sh.Rows = make([]Row, 0, len(grid)-h-1)
	for i := h + 1; i < len(grid); i++ {
		if blank(grid[i]) {
			continue
		}
		sh.Rows = append(sh.Rows, Row{Num: nums[i], Cells: trimCells(pad(grid[i], width))})
	}
	return sh
}

// trimCells trims surrounding whitespace, which spreadsheets add freely and nobody means.
func trimCells(cells []string) []string {
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	return cells
}

// countRows sums the data rows of all sheets.
