package parse

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/kb"
)

// Format is a file format decided from content.
type Format string

// Formats Sniff can report. XLSX, CSV and JSONL are catalog/record formats that other ingest
// packages read; Parse accepts CSV and JSONL as plain text and rejects XLSX.
const (
	FormatPDF      Format = "pdf"
	FormatDOCX     Format = "docx"
	FormatXLSX     Format = "xlsx"
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
	FormatText     Format = "text"
	FormatCSV      Format = "csv"
	FormatJSONL    Format = "jsonl"
)

// Sentinel errors. Their messages are shown to operators as the reason a file failed, so
// they are complete sentences in English and Chinese; wrapped errors add the detail.
var (
	ErrEncrypted     = kb.Invalid("PDF is encrypted and needs a password", "PDF 已加密，需要密码")
	ErrWrongPassword = kb.Invalid("wrong password for encrypted PDF", "PDF 密码错误")
	ErrNoText        = kb.Invalid("no extractable text (scanned image?)", "未提取到文本（可能是扫描件）")
	ErrGarbled       = kb.Unsupported("text is garbled: unsupported font encoding", "文本乱码：字体编码不受支持")
	ErrCorrupt       = kb.Invalid("file is corrupt", "文件已损坏")
	ErrTooManyPages  = kb.TooLarge("document has too many pages", "文档页数过多")
	ErrTooLarge      = kb.TooLarge("file is too large", "文件过大")
	ErrUnsupported   = kb.Unsupported("file format is not supported", "不支持的文件格式")
	ErrTimeout       = kb.NewError(context.DeadlineExceeded, "parsing timed out", "解析超时")
)

// Defaults for Options.
const (
	DefaultMaxPages = 2000
	DefaultMaxBytes = 100 << 20
	DefaultTimeout  = 60 * time.Second
)

// maxUnpackedBytes caps what a parser may decompress from one file (DOCX parts, PDF content
// streams of one page), so a small zip or flate bomb fails fast with ErrCorrupt.
const maxUnpackedBytes = 256 << 20

// Options tunes Parse. The zero value is ready to use.
type Options struct {
	// Password opens an encrypted PDF. Empty user passwords are tried automatically.
	Password string
	// MaxPages rejects longer PDFs with ErrTooManyPages. Defaults to 2000.
	MaxPages int
	// MaxBytes rejects larger input with ErrTooLarge. Defaults to 100 MB.
	MaxBytes int64
	// Timeout bounds one Parse call. Defaults to 60 s.
	Timeout time.Duration
	// MaxTextBytes caps the text one file may yield (see textBudget). Defaults to MaxTextBytes.
	MaxTextBytes int
	// NoExternalTools disables the pdftotext fallback even when poppler-utils is installed,
	// so the result does not depend on the machine (tests, sandboxes).
	NoExternalTools bool
}

func (o Options) withDefaults() Options {
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Sniff decides a file's format from its first bytes (512 or more are best; the whole file
// is fine). The name is only a tie-breaker between text formats and for ZIP files whose
// head does not show their parts. Unknown binary content gives ErrUnsupported.
func Sniff(name string, head []byte) (Format, error) {
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return FormatPDF, nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return sniffZip(ext, head)
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return "", kb.NewError(ErrUnsupported, "legacy Office file (.doc/.xls); save it as .docx or .xlsx", "旧版 Office 文件，请另存为 .docx 或 .xlsx")
	}
	if i := bytes.Index(head[:min(len(head), 1024)], []byte("%PDF-")); i >= 0 {
		return FormatPDF, nil // junk before the header is tolerated by PDF readers
	}
	text, _, err := decodeText(head[:min(len(head), sniffLen)], true)
	if err != nil {
		return "", err
	}
	switch ext {
	case ".csv", ".tsv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	if looksLikeHTML(text) {
		return FormatHTML, nil
	}
	if ext == ".md" || ext == ".markdown" || looksLikeMarkdown(text) {
		return FormatMarkdown, nil
	}
	return FormatText, nil
}

// sniffLen is how much of a text file Sniff decodes to guess its format.
const sniffLen = 8192

func sniffZip(ext string, head []byte) (Format, error) {
	if r, err := zip.NewReader(bytes.NewReader(head), int64(len(head))); err == nil {
		for _, f := range r.File {
			switch {
			case f.Name == "word/document.xml":
				return FormatDOCX, nil
			case strings.HasPrefix(f.Name, "xl/"):
				return FormatXLSX, nil
			}
		}
		return "", kb.NewError(ErrUnsupported, "ZIP archive that is neither DOCX nor XLSX", "不是 DOCX 或 XLSX 的压缩包")
	}
	// Only the head is available: look at the local file names it shows.
	switch {
	case bytes.Contains(head, []byte("word/")):
		return FormatDOCX, nil
	case bytes.Contains(head, []byte("xl/")):
		return FormatXLSX, nil
	case ext == ".docx":
		return FormatDOCX, nil
	case ext == ".xlsx":
		return FormatXLSX, nil
	}
	return "", kb.NewError(ErrUnsupported, "ZIP archive that is neither DOCX nor XLSX", "不是 DOCX 或 XLSX 的压缩包")
}

func looksLikeHTML(s string) bool {
	head := strings.ToLower(strings.TrimSpace(s[:min(len(s), 2048)]))
	if strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") {
		return true
	}
	n := 0
	for _, tag := range []string{"<head", "<body", "<div", "<p>", "<p ", "<h1", "<h2", "<table", "<meta ", "<title", "<ul", "<br"} {
		if strings.Contains(head, tag) {
			n++
		}
	}
	return n >= 2 && strings.HasPrefix(head, "<")
}

var mdPatterns = []string{"\n# ", "\n## ", "\n### ", "\n- ", "\n* ", "\n1. ", "\n```", "\n|---", "\n| ---", "\n|:--", "\n> "}

func looksLikeMarkdown(s string) bool {
	s = "\n" + s[:min(len(s), 4096)]
	n := 0
	for _, p := range mdPatterns {
		if strings.Contains(s, p) {
			n++
		}
	}
	hasHeading := strings.Contains(s, "\n# ") || strings.Contains(s, "\n## ") || strings.Contains(s, "\n### ")
	hasTable := strings.Contains(s, "\n|") && strings.Contains(s, "---")
	return hasHeading && n >= 2 || hasTable || strings.Contains(s, "\n```") || n >= 3
}

// Parse sniffs data and runs the matching parser under opts.Timeout, converting panics from
// parsing libraries into ErrCorrupt. name is used as a format tie-breaker and as the title
// when the document names none. Errors wrap the package's sentinel errors.
//
// Every string of the document, and the error's message, is storable text: valid UTF-8
// without NUL bytes, which PostgreSQL refuses in text and jsonb. A parser may pass through
// whatever a file holds (a UTF-16 NUL, an XML name in Latin-1 quoted in an error); this is
// the one place that guarantees it, found by FuzzParseText and FuzzParseDOCX.
func Parse(ctx context.Context, data []byte, name string, opts Options) (*document.Document, error) {
	doc, err := parse(ctx, data, name, opts)
	if err != nil {
		return nil, storableError{err}
	}
	return doc, nil
}

// storableError shows its error's message as storable text; errors.Is sees through it.
type storableError struct{ err error }

func (e storableError) Error() string { return storable(e.err.Error()) }
func (e storableError) Unwrap() error { return e.err }

// storable returns s as valid UTF-8 (invalid bytes become U+FFFD) without NUL bytes.
func storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// makeStorable applies storable to every string of doc.
func makeStorable(doc *document.Document) {
	doc.Title = storable(doc.Title)
	for i := range doc.Blocks {
		b := &doc.Blocks[i]
		b.Text = storable(b.Text)
		for _, row := range b.Rows {
			for j := range row {
				row[j] = storable(row[j])
			}
		}
	}
	for i := range doc.Warnings {
		doc.Warnings[i] = kb.T(storable(doc.Warnings[i].En), storable(doc.Warnings[i].Zh))
	}
	if doc.Metadata != nil {
		doc.Metadata = storableValue(doc.Metadata).(map[string]any)
	}
}

// storableValue applies storable to the strings of a metadata value, keys included.
func storableValue(v any) any {
	switch v := v.(type) {
	case string:
		return storable(v)
	case []string:
		for i := range v {
			v[i] = storable(v[i])
		}
	case []any:
		for i := range v {
			v[i] = storableValue(v[i])
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[storable(k)] = storableValue(x)
		}
		return out
	}
	return v
}

func parse(ctx context.Context, data []byte, name string, opts Options) (*document.Document, error) {
	opts = opts.withDefaults()
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("parse %s: %d bytes, limit %d: %w", name, len(data), opts.MaxBytes, ErrTooLarge)
	}
	if len(data) == 0 {
		return nil, kb.NewError(ErrNoText, fmt.Sprintf("parse %s: empty file", name), "空文件")
	}
	format, err := Sniff(name, data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	type result struct {
		doc *document.Document
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res = result{err: kb.Detailf(ErrCorrupt, "parser crashed: %v", p)}
				if debugPanics {
					res.err = fmt.Errorf("%w\n%s", res.err, debug.Stack())
				}
			}
			done <- res
		}()
		res.doc, res.err = parseFormat(ctx, format, data, name, opts)
	}()
	// The library calls cannot be interrupted; on timeout the goroutine finishes in the
	// background (its page loop checks ctx), bounded by the size and decompression caps.
	select {
	case res := <-done:
		if res.err != nil {
			if ctx.Err() != nil && !errors.Is(res.err, ErrCorrupt) {
				return nil, fmt.Errorf("parse %s: after %s: %w", name, opts.Timeout, ErrTimeout)
			}
			return nil, fmt.Errorf("parse %s: %w", name, res.err)
		}
		makeStorable(res.doc)
		if n, budget := docTextBytes(res.doc), textBudget(len(data), opts); n > budget {
			return nil, fmt.Errorf("parse %s: %w", name, textTooLarge(n, budget, len(data)))
		}
		if !hasText(res.doc.Blocks) {
			return nil, fmt.Errorf("parse %s: %w", name, ErrNoText)
		}
		finish(res.doc, name)
		return res.doc, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("parse %s: after %s: %w", name, opts.Timeout, ErrTimeout)
		}
		return nil, fmt.Errorf("parse %s: %w", name, ctx.Err())
	}
}

// MaxTextBytes bounds the text read from one file, whatever its size: everything after
// reading (chunking, tokenizing, embedding) costs a multiple of it. TextPerFileByte bounds
// it relative to the file (at least MinTextBudget): real documents hold less text than
// bytes, or a few times more when compressed; a file that unpacks into far more text is a
// bomb, not a manual.
const (
	MaxTextBytes    = 64 << 20
	MinTextBudget   = 4 << 20
	TextPerFileByte = 20
)

// textBudget is how much text a file of n bytes may yield.
func textBudget(n int, opts Options) int {
	limit := MaxTextBytes
	if opts.MaxTextBytes > 0 {
		limit = opts.MaxTextBytes
	}
	return min(limit, max(MinTextBudget, TextPerFileByte*n))
}

func textTooLarge(n, budget, size int) error {
	return kb.NewError(ErrTooLarge, fmt.Sprintf("the file yields more than %d bytes of text (read %d so far from a %d-byte file; the limit is %d× the file size, at least %d MiB, at most %d MiB)",
		budget, n, size, TextPerFileByte, MinTextBudget>>20, MaxTextBytes>>20),
		fmt.Sprintf("文件提取出的文本超过 %d 字节（%d 字节的文件已读出 %d 字节；上限为文件大小的 %d 倍，至少 %d MiB，至多 %d MiB）",
			budget, size, n, TextPerFileByte, MinTextBudget>>20, MaxTextBytes>>20))
}

// docTextBytes is the size of a document's text: blocks and table cells.
func docTextBytes(doc *document.Document) int {
	n := 0
	for _, b := range doc.Blocks {
		n += len(b.Text)
		for _, row := range b.Rows {
			for _, c := range row {
				n += len(c)
			}
		}
	}
	return n
}

// debugPanics adds stack traces to recovered panics; flipped in tests when debugging.
var debugPanics = false

func parseFormat(ctx context.Context, f Format, data []byte, name string, opts Options) (*document.Document, error) {
	switch f {
	case FormatPDF:
		return parsePDF(ctx, data, opts)
	case FormatDOCX:
		return parseDOCX(ctx, data)
	case FormatHTML:
		return parseHTML(data)
	case FormatMarkdown:
		return parseMarkdown(data)
	case FormatText, FormatCSV, FormatJSONL:
		return parseText(data)
	case FormatXLSX:
		return nil, kb.NewError(ErrUnsupported, "XLSX is read as a catalog (use --kind catalog)", "XLSX 请作为商品目录导入")
	}
	return nil, kb.Detailf(ErrUnsupported, "%s", f)
}

// finish fills the title and rejects documents without any text.
func finish(doc *document.Document, name string) {
	if doc.Metadata == nil {
		doc.Metadata = map[string]any{}
	}
	if strings.TrimSpace(doc.Title) == "" {
		doc.Title = titleHeading(doc.Blocks)
	}
	if strings.TrimSpace(doc.Title) == "" {
		base := filepath.Base(name)
		doc.Title = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if !utf8.ValidString(doc.Title) {
		doc.Title = strings.ToValidUTF8(doc.Title, "")
	}
}

// titleHeading returns the document's first heading when it heads the whole document: no
// later heading is of its level or above. The first of several sibling sections ("第一章",
// "第二章", …; "1 Coverage", "2 Returns", …) is not the document's title: taking it made
// every chunk's heading path start with it. "" when there is no such heading.
func titleHeading(blocks []document.Block) string {
	first := -1
	for i, b := range blocks {
		if b.Kind != document.Heading || strings.TrimSpace(b.Text) == "" {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if b.Level <= blocks[first].Level {
			return ""
		}
	}
	if first < 0 {
		return ""
	}
	return blocks[first].Text
}

// hasText reports whether blocks carry any non-space text.
func hasText(blocks []document.Block) bool {
	for _, b := range blocks {
		if strings.TrimSpace(b.Text) != "" {
			return true
		}
	}
	return false
}
