package parse

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/zhiku/zhiku/ingest/parse/internal/pdfgen"
	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// fuzzOpts bound one fuzzed parse: the parsers must fail cleanly, not slowly.
var fuzzOpts = Options{NoExternalTools: true, MaxPages: 50, Timeout: 5 * time.Second}

// checkParse runs Parse on data and asserts what must hold for any input: no panic, an error
// that says something and is one of the package's sentinels (or a context error), and on
// success text that PostgreSQL can store (valid UTF-8 without NUL bytes) and is rendered
// without panicking.
func checkParse(t *testing.T, data []byte, name string) {
	began := time.Now()
	doc, err := Parse(context.Background(), data, name, fuzzOpts)
	if slow := os.Getenv("ZHIKU_FUZZ_SLOW"); slow != "" {
		if d, _ := time.ParseDuration(slow); d > 0 && time.Since(began) > d {
			t.Fatalf("parse took %s (ZHIKU_FUZZ_SLOW=%s)", time.Since(began), slow)
		}
	}
	if err != nil {
		msg := err.Error()
		if msg == "" || !utf8.ValidString(msg) {
			t.Fatalf("error message %q is empty or not UTF-8", msg)
		}
		known := false
		for _, s := range []error{ErrEncrypted, ErrWrongPassword, ErrNoText, ErrGarbled, ErrCorrupt, ErrTooManyPages, ErrTooLarge, ErrUnsupported, ErrTimeout} {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("error %q wraps none of the package's sentinel errors", msg)
		}
		return
	}
	if doc == nil {
		t.Fatal("nil document without an error")
	}
	storable := func(what, s string) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s %q is not storable text (invalid UTF-8 or NUL)", what, s)
		}
	}
	storable("title", doc.Title)
	for i, b := range doc.Blocks {
		storable("block text", b.Text)
		for _, row := range b.Rows {
			for _, cell := range row {
				storable("table cell", cell)
			}
		}
		if b.Page < 0 || (doc.Pages > 0 && b.Page > doc.Pages) {
			t.Fatalf("block %d on page %d of %d", i, b.Page, doc.Pages)
		}
	}
	for _, w := range doc.Warnings {
		storable("warning", w.En)
		storable("warning", w.Zh)
	}
	storable("rendered", Render(doc))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			storable("metadata", v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for k, x := range v {
				storable("metadata key", k)
				walk(x)
			}
		}
	}
	walk(doc.Metadata)
}

func FuzzParsePDF(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, "fuzz.pdf") })
}

func FuzzParseDOCX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, "fuzz.docx") })
}

func FuzzParseHTML(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, "fuzz.html") })
}

func FuzzParseMarkdown(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, "fuzz.md") })
}

// FuzzParseText covers the text decoders (UTF-8, UTF-16 with and without BOM, GB18030) and
// the mixed, invalid and binary bytes they must refuse or repair.
func FuzzParseText(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, "fuzz.txt") })
}

// TestWriteFuzzSeeds (re)writes the committed seed corpora; see internal/fuzzseed.
func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	pdf := pdfgen.Document(manualPages(), pdfgen.Options{})
	flate := pdfgen.Document(manualPages(), pdfgen.Options{Compress: true, Info: map[string]string{"Title": "XR-500 手册"}, Fields: map[string]string{"model": "XR-500"}})
	fuzzseed.Write(t, "FuzzParsePDF", "manual", pdf)
	fuzzseed.Write(t, "FuzzParsePDF", "manual-flate-form", flate)
	fuzzseed.Write(t, "FuzzParsePDF", "truncated", flate[:len(flate)/2])
	fuzzseed.Write(t, "FuzzParsePDF", "gbk", pdfgen.Document(manualPages()[:1], pdfgen.Options{CJKEncoding: "GBK-EUC-H"}))
	fuzzseed.Write(t, "FuzzParsePDF", "cyclic-kids", cyclicPDF("kids"))
	fuzzseed.Write(t, "FuzzParsePDF", "cyclic-parent", cyclicPDF("parent"))
	fuzzseed.Write(t, "FuzzParsePDF", "identity", identityPDF())
	fuzzseed.Write(t, "FuzzParsePDF", "header-only", []byte("%PDF-1.7\n%%EOF\n"))

	docx := func(body string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("word/document.xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><w:document ` + wNS + `><w:body>` + body + `</w:body></w:document>`))
		_ = zw.Close()
		return buf.Bytes()
	}
	fuzzseed.Write(t, "FuzzParseDOCX", "paragraphs", docx(`<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>第3章 故障排除</w:t></w:r></w:p><w:p><w:r><w:t>E104 电机过热</w:t></w:r></w:p>`))
	fuzzseed.Write(t, "FuzzParseDOCX", "table", docx(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>代码</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>含义</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>E104</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>过热</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`))
	fuzzseed.Write(t, "FuzzParseDOCX", "nested", docx(strings.Repeat("<w:tbl><w:tr><w:tc>", 50)+"<w:p><w:r><w:t>deep</w:t></w:r></w:p>"+strings.Repeat("</w:tc></w:tr></w:tbl>", 50)))
	fuzzseed.Write(t, "FuzzParseDOCX", "empty-zip", []byte("PK\x05\x06"+strings.Repeat("\x00", 18)))

	fuzzseed.Write(t, "FuzzParseHTML", "page", []byte(`<!doctype html><html><head><title>售后政策</title><style>p{color:red}</style></head><body><nav>首页</nav><h1>退换货</h1><p>七天无理由退货。</p><table><tr><th>型号</th><th>保修</th></tr><tr><td>XR-500</td><td>1 年</td></tr></table><script>x()</script></body></html>`))
	fuzzseed.Write(t, "FuzzParseHTML", "fragment", []byte(`<div><p>Hello <b>world</b><br>line &amp; &#x4e2d;&#25991; &bogus;</p><ul><li>a<li>b</ul>`))
	fuzzseed.Write(t, "FuzzParseHTML", "unclosed", []byte(`<html><body><h2>`+strings.Repeat("<div>", 200)+"深层"))

	fuzzseed.Write(t, "FuzzParseMarkdown", "manual", []byte("# XR-500 手册\n\n## 故障\n\n| 代码 | 含义 |\n|---|---|\n| E104 | 过热 |\n\n- 清理滚刷\n- 重启\n\n```\nreset --all\n```\n\n> 注意安全\n"))
	fuzzseed.Write(t, "FuzzParseMarkdown", "setext-links", []byte("Title\n=====\n\nSee [the guide](http://x/y) and ![img](a.png).\n\n1. one\n2. two\n"))

	gbk, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("扫地机器人显示E104，请清理滚刷。\n电机过热时自动停机。\n"))
	u16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte("保修一年。Warranty: one year.\n"))
	u16be, _ := unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte("无 BOM 的 UTF-16 文本\n"))
	fuzzseed.Write(t, "FuzzParseText", "utf8", []byte("保修政策\n\n整机保修一年，电池半年。\nBattery: 6 months.\n"))
	fuzzseed.Write(t, "FuzzParseText", "utf8-bom", []byte("\xef\xbb\xbf带 BOM 的文本\n"))
	fuzzseed.Write(t, "FuzzParseText", "gb18030", gbk)
	fuzzseed.Write(t, "FuzzParseText", "utf16le-bom", u16)
	fuzzseed.Write(t, "FuzzParseText", "utf16be-nobom", u16be)
	fuzzseed.Write(t, "FuzzParseText", "mixed", append(append([]byte("UTF-8 行：你好\n"), gbk...), "\xff\xfe\x00bad\x00\n"...))
	fuzzseed.Write(t, "FuzzParseText", "nul", []byte("a\x00b\x00c text with NUL\n"))
	fuzzseed.Write(t, "FuzzParseText", "binary", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
}
