package catalog

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// Defaults for Options.
const (
	DefaultMaxRows       = tabular.DefaultMaxRows
	DefaultMaxUnzipBytes = tabular.DefaultMaxUnzipBytes
	DefaultMaxBytes      = 128 << 20
)

// ErrTooManyRows is returned when a catalog has more rows than Options.MaxRows; it wraps
// kb.ErrTooLarge.
var ErrTooManyRows = tabular.ErrTooManyRows

// ErrNoSKUColumn is returned when no column maps to the SKU; the message lists the columns
// seen. It wraps kb.ErrInvalid.
var ErrNoSKUColumn = kb.Invalid("no SKU column", "未找到 SKU 列")

// Options tune Parse. The zero value is ready to use.
type Options struct {
	// MaxRows caps the products read over all sheets. Defaults to 200 000.
	MaxRows int
	// MaxBytes caps the input size read from the io.Reader. Defaults to 128 MiB.
	MaxBytes int64
	// Context, when set, stops reading once it is done.
	Context context.Context
	// MaxUnzipBytes caps an XLSX's uncompressed size (zip-bomb guard). Defaults to 256 MiB.
	MaxUnzipBytes int64
	// ColumnMap maps headers (matched ignoring case, spaces and punctuation) to fields
	// (FieldSKU, FieldName...), overriding the built-in synonyms; mapping a header to ""
	// keeps it from being mapped at all.
	ColumnMap map[string]string
	// Language forces the card labels: kb.LanguageZh or kb.LanguageEn. Empty means detect:
	// Chinese when any header or most product names contain Chinese characters.
	Language string
}

// Column describes one catalog column.
type Column struct {
	Header string // the original header; two-row headers read "价格/售价"
	Field  string // the well-known field it maps to (FieldSKU...), or "" when none
	Type   string // TypeText, TypeNumber, TypeDate, TypeBool or TypeList, by the column's cells
}

// RowError is one row that did not become a product; the other rows still did.
type RowError = tabular.RowError

// Catalog is a parsed catalog file.
type Catalog struct {
	Products []Product
	Columns  []Column // the union over sheets, in order of first appearance
	Errors   []RowError
	Format   tabular.Format
	Encoding string // for CSV: "utf-8", "utf-8-bom", "gb18030", "utf-16le"...
	Language string // kb.LanguageZh or kb.LanguageEn, the card labels used
}

// Parse reads a catalog from r; see ParseBytes.
func Parse(r io.Reader, name string, opts Options) (*Catalog, error) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: read %s: %w", filepath.Base(name), err)
	}
	if int64(len(data)) > limit {
		return nil, kb.TooLarge(fmt.Sprintf("catalog: %s is larger than %d bytes", filepath.Base(name), limit), fmt.Sprintf("文件超过 %d 字节", limit))
	}
	return ParseBytes(data, name, opts)
}

// ParseBytes reads a product catalog — CSV/TSV (UTF-8, UTF-8 BOM, GBK/GB18030, UTF-16),
// XLSX (every visible sheet) or JSON/JSONL — into one Product per row. The format comes
// from the content: ZIP magic → XLSX, '[' or '{' → JSON/JSONL, else CSV.
//
// A row without a SKU is not imported: it is reported in Catalog.Errors, as is a repeated
// SKU (the first row wins), because the SKU is the product's identity across re-imports and
// a generated one would not survive them. A file with no SKU column at all fails with
// ErrNoSKUColumn naming the columns it saw.
func ParseBytes(data []byte, name string, opts Options) (*Catalog, error) {
	t, err := tabular.Read(data, name, tabular.Options{MaxRows: opts.MaxRows, MaxUnzipBytes: opts.MaxUnzipBytes, Context: opts.Context})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{Format: t.Format, Encoding: t.Encoding, Errors: t.Errors}
	multiSheet := len(t.Sheets) > 1
	seenCols := map[string]bool{}
	firstRow := map[string]RowError{} // SKU → where it was first seen
	var skipped []string
	var allHeaders []string
	for _, sh := range t.Sheets {
		fieldOf := mapColumns(sh.Header, opts.ColumnMap)
		allHeaders = append(allHeaders, sh.Header...)
		skuCol := -1
		for i, h := range sh.Header {
			if fieldOf[h] == FieldSKU {
				skuCol = i
			}
		}
		if skuCol < 0 {
			skipped = append(skipped, sheetLabel(sh.Name)+" ("+strings.Join(sh.Header, ", ")+")")
			continue
		}
		types := sheetTypes(sh, fieldOf)
		for i, h := range sh.Header {
			if !seenCols[h] {
				seenCols[h] = true
				c.Columns = append(c.Columns, Column{Header: h, Field: fieldOf[h], Type: types[i]})
			}
		}
		category := ""
		if multiSheet || !defaultSheetName.MatchString(sh.Name) {
			category = sh.Name
		}
		for _, row := range sh.Rows {
			p, err := buildProduct(sh, row, fieldOf, types)
			if err != nil {
				c.Errors = append(c.Errors, RowError{Sheet: sh.Name, Row: row.Num, Err: err})
				continue
			}
			if first, dup := firstRow[p.SKU]; dup {
				c.Errors = append(c.Errors, RowError{Sheet: sh.Name, Row: row.Num,
					Err: kb.Conflict(fmt.Sprintf("duplicate SKU %q, first seen at %s", p.SKU, where(first)), "SKU 重复")})
				continue
			}
			firstRow[p.SKU] = RowError{Sheet: sh.Name, Row: row.Num}
			if p.Category == "" && category != "" {
				p.Category = category
			}
			c.Products = append(c.Products, p)
		}
	}
	if len(c.Columns) == 0 {
		return nil, kb.NewError(ErrNoSKUColumn, fmt.Sprintf("catalog: %s: columns seen: %s; name one with a SKU/货号/商品编码 header or Options.ColumnMap", filepath.Base(name), strings.Join(uniq(allHeaders), ", ")), fmt.Sprintf("现有列：%s", strings.Join(uniq(allHeaders), "、")))
	}
	for _, s := range skipped {
		c.Errors = append(c.Errors, RowError{Err: kb.Invalid(fmt.Sprintf("%s skipped: no SKU column", s), "无 SKU 列，已跳过")})
	}
	c.Language = opts.Language
	if c.Language == "" {
		c.Language = detectLanguage(allHeaders, c.Products)
	}
	for i := range c.Products {
		c.Products[i].Language = c.Language
	}
	return c, nil
}

// defaultSheetName matches names spreadsheet programs give new sheets; those say nothing
// about the category.
var defaultSheetName = regexp.MustCompile(`^(?i:sheet\s*\d*|工作表\s*\d*|)$`)

func sheetLabel(name string) string {
	if name == "" {
		return "file"
	}
	return fmt.Sprintf("sheet %q", name)
}

func where(e RowError) string {
	if e.Sheet != "" {
		return fmt.Sprintf("sheet %q row %d", e.Sheet, e.Row)
	}
	return fmt.Sprintf("row %d", e.Row)
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// textFields are never typed: an all-digit SKU or model is still an identifier.
var textFields = map[string]bool{
	FieldSKU: true, FieldName: true, FieldCategory: true, FieldBrand: true, FieldIngredients: true,
	FieldDescription: true, FieldSpec: true, FieldModel: true, FieldURL: true,
}

// sheetTypes decides each column's type from its cells.
func sheetTypes(sh tabular.Sheet, fieldOf map[string]string) []string {
	types := make([]string, len(sh.Header))
	cells := make([]string, len(sh.Rows))
	for i, h := range sh.Header {
		if textFields[fieldOf[h]] {
			types[i] = TypeText
			continue
		}
		for j, r := range sh.Rows {
			cells[j] = r.Cells[i]
		}
		types[i] = columnType(cells, isDateHeader(h))
	}
	return types
}

func buildProduct(sh tabular.Sheet, row tabular.Row, fieldOf map[string]string, types []string) (Product, error) {
	p := Product{Sheet: sh.Name, Row: row.Num, Fields: make(map[string]any, len(sh.Header)),
		headers: sh.Header, fieldOf: fieldOf}
	for i, h := range sh.Header {
		cell := row.Cells[i]
		if cell == "" {
			continue
		}
		v := typed(cell, types[i], isDateHeader(h))
		p.Fields[h] = v
		switch fieldOf[h] {
		case FieldSKU:
			p.SKU = cell
		case FieldName:
			p.Name = cell
		case FieldPrice:
			if x, ok := ParseNumber(cell); ok {
				p.Price = &x
			}
		case FieldStock:
			if x, ok := ParseNumber(cell); ok && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				n := int64(x)
				p.Stock = &n
			}
		case FieldCategory:
			p.Category = cell
		case FieldBrand:
			p.Brand = cell
		case FieldIngredients:
			p.Ingredients = cell
		case FieldDescription:
			p.Description = cell
		case FieldSpec:
			p.Spec = cell
		case FieldModel:
			p.Model = cell
		case FieldURL:
			p.URL = cell
		}
	}
	if p.SKU == "" {
		return Product{}, kb.Invalid("missing SKU", "缺少 SKU")
	}
	return p, nil
}

// detectLanguage: Chinese labels when any header or most product names contain Han
// characters, English otherwise.
func detectLanguage(headers []string, products []Product) string {
	for _, h := range headers {
		if hasHan(h) {
			return kb.LanguageZh
		}
	}
	han := 0
	for _, p := range products {
		if hasHan(p.Name) {
			han++
		}
	}
	if han*2 > len(products) {
		return kb.LanguageZh
	}
	return kb.LanguageEn
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
