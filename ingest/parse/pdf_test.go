package parse

import (
	"bytes"
	"compress/lzw"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/ingest/parse/internal/pdfgen"
	"github.com/zhiku/zhiku/internal/kb"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// native forbids the pdftotext fallback so results do not depend on the machine.
var native = Options{NoExternalTools: true}

func parseBytes(t *testing.T, data []byte, name string, opts Options) (*document.Document, error) {
	t.Helper()
	return Parse(context.Background(), data, name, opts)
}

func manualPages() []pdfgen.Page {
	return []pdfgen.Page{
		{Lines: []pdfgen.Line{
			{Text: "第3章 故障排除", Size: 18},
			{Text: ""},
			{Text: "电机过热时设备会自动停机，", Size: 11},
			{Text: "请等待十分钟后重新启动。", Size: 11},
			{Text: ""},
			{Text: "E104 电机过热", Size: 11},
			{Text: "E105 电压过低", Size: 11},
		}},
		{Lines: []pdfgen.Line{
			{Text: "3.2 清洁滤网", Size: 14},
			{Text: "每月清洁一次滤网。", Size: 11},
		}},
	}
}

func TestParsePDFLatinHeading(t *testing.T) {
	t.Parallel()
	data := pdfgen.Document([]pdfgen.Page{{Lines: []pdfgen.Line{
		{Text: "Installation Guide", Size: 20},
		{Text: ""},
		{Text: "Unpack the robot vacuum and charge it", Size: 11},
		{Text: "for four hours before first use.", Size: 11},
	}}}, pdfgen.Options{Compress: true, Info: map[string]string{"Title": "RV-100 Manual", "Author": "Zhiku QA"}})
	doc, err := parseBytes(t, data, "manual.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "pdf", doc.Method)
	require.Equal(t, 1, doc.Pages)
	require.Equal(t, "RV-100 Manual", doc.Title)
	require.Equal(t, "Zhiku QA", doc.Metadata["author"])
	require.Len(t, doc.Blocks, 2)
	require.Equal(t, document.Block{Kind: document.Heading, Level: 1, Text: "Installation Guide", Page: 1}, doc.Blocks[0])
	require.Equal(t, document.Paragraph, doc.Blocks[1].Kind)
	require.Equal(t, "Unpack the robot vacuum and charge it for four hours before first use.", doc.Blocks[1].Text)
}

func TestParsePDFChinesePredefinedCMap(t *testing.T) {
	t.Parallel()
	for _, enc := range []string{"UniGB-UCS2-H", "UniGB-UTF16-H", "GBK-EUC-H"} {
		t.Run(enc, func(t *testing.T) {
			t.Parallel()
			data := pdfgen.Document(manualPages(), pdfgen.Options{CJKEncoding: enc})
			require.NotContains(t, string(data), "ToUnicode")
			doc, err := parseBytes(t, data, "manual.pdf", native)
			require.NoError(t, err)
			require.Equal(t, "pdf+cmap", doc.Method)
			require.Equal(t, 2, doc.Pages)
			require.Equal(t, []document.Block{
				{Kind: document.Heading, Level: 1, Text: "第3章 故障排除", Page: 1},
				{Kind: document.Paragraph, Text: "电机过热时设备会自动停机，请等待十分钟后重新启动。", Page: 1},
				{Kind: document.Table, Text: "E104 | 电机过热\nE105 | 电压过低", Rows: [][]string{{"E104", "电机过热"}, {"E105", "电压过低"}}, Page: 1},
				{Kind: document.Heading, Level: 2, Text: "3.2 清洁滤网", Page: 2},
				{Kind: document.Paragraph, Text: "每月清洁一次滤网。", Page: 2},
			}, doc.Blocks)
			require.Equal(t, "第3章 故障排除", doc.Title)
		})
	}
}

func TestRenderPDF(t *testing.T) {
	t.Parallel()
	doc, err := parseBytes(t, pdfgen.Document(manualPages(), pdfgen.Options{}), "manual.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "--- page 1 ---\n\n# 第3章 故障排除\n\n电机过热时设备会自动停机，请等待十分钟后重新启动。\n\n"+
		"E104 | 电机过热\nE105 | 电压过低\n\n--- page 2 ---\n\n## 3.2 清洁滤网\n\n每月清洁一次滤网。\n\n", Render(doc))
}

func TestParsePDFScannedImage(t *testing.T) {
	t.Parallel()
	data := pdfgen.Document([]pdfgen.Page{{Image: true}, {Image: true}}, pdfgen.Options{})
	_, err := parseBytes(t, data, "scan.pdf", Options{})
	require.ErrorIs(t, err, ErrNoText)
	require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "扫描件")
}

func TestParsePDFTruncated(t *testing.T) {
	t.Parallel()
	data := pdfgen.Document(manualPages(), pdfgen.Options{Compress: true})
	_, err := parseBytes(t, data[:len(data)/2], "cut.pdf", native)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "EOF")
}

// cyclicPDF builds a one-page PDF whose page tree loops: /Kids of the page node points
// back at the root (kids) or the page's /Parent chain loops (parent).
func cyclicPDF(kind string) []byte {
	var b pdfgen.Builder
	catalog := b.Reserve()
	root := b.Reserve()
	font := b.Add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	content := b.Stream("", []byte("BT /F1 12 Tf 72 700 Td (Loop test page) Tj ET"))
	page := b.Reserve()
	inner := b.Reserve()
	switch kind {
	case "kids":
		b.Set(root, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>", page, inner))
		b.Set(inner, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Parent %d 0 R /Count 1 >>", root, root))
	case "parent":
		b.Set(root, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 /Parent %d 0 R >>", page, inner))
		b.Set(inner, fmt.Sprintf("<< /Type /Pages /Kids [] /Count 0 /Parent %d 0 R >>", root))
	}
	b.Set(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "+
		"/Resources << /Font << /F1 %d 0 R >> >> >>", root, content, font))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", root))
	return b.Bytes(catalog, 0)
}

func TestParsePDFCircularKids(t *testing.T) {
	t.Parallel()
	_, err := parseBytes(t, cyclicPDF("kids"), "loop.pdf", native)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "circular")
}

func TestParsePDFCircularParent(t *testing.T) {
	t.Parallel()
	// /Resources sits on the page itself, so the loop is harmless once it is bounded.
	doc, err := parseBytes(t, cyclicPDF("parent"), "loop.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "Loop test page", doc.Blocks[0].Text)
}

func TestParsePDFDecompressionBomb(t *testing.T) {
	t.Parallel()
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	bomb := b.Stream("/Filter /FlateDecode", pdfgen.Deflate(make([]byte, maxPageContent+1<<20)))
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>", pages, bomb))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	data := b.Bytes(catalog, 0)
	require.Less(t, len(data), 200<<10)
	_, err := parseBytes(t, data, "bomb.pdf", Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "decompression bomb")
}

func TestParsePDFTooManyPages(t *testing.T) {
	t.Parallel()
	pages := make([]pdfgen.Page, 5)
	for i := range pages {
		pages[i] = pdfgen.Page{Lines: []pdfgen.Line{{Text: "page"}}}
	}
	_, err := parseBytes(t, pdfgen.Document(pages, pdfgen.Options{}), "long.pdf", Options{MaxPages: 3})
	require.ErrorIs(t, err, ErrTooManyPages)
}

func TestParsePDFFormFields(t *testing.T) {
	t.Parallel()
	data := pdfgen.Document([]pdfgen.Page{{Lines: []pdfgen.Line{{Text: "Warranty claim"}}}},
		pdfgen.Options{Fields: map[string]string{"客户姓名": "张三", "Serial": "RV100-2024-0042"}})
	doc, err := parseBytes(t, data, "form.pdf", native)
	require.NoError(t, err)
	last := doc.Blocks[len(doc.Blocks)-1]
	require.Equal(t, document.Block{Kind: document.Paragraph, Text: "Serial: RV100-2024-0042\n客户姓名: 张三", Page: 1}, last)
	require.Equal(t, map[string]any{"Serial": "RV100-2024-0042", "客户姓名": "张三"}, doc.Metadata["form_fields"])
}

func TestParsePDFNormalisesCJK(t *testing.T) {
	t.Parallel()
	// Kangxi radical ⽤ (U+2F64), CJK radical ⻓ (U+2ED3 is 镸; U+2ED2 is 长), spaced glyphs.
	data := pdfgen.Document([]pdfgen.Page{{Lines: []pdfgen.Line{
		{Text: "使⽤前请阅读说明书"},
		{Text: "⻓按电源键三秒"},
		{Text: ""},
		{Text: "电 机 过 热"},
		{Text: ""},
		{Text: "Keep the filter clean"},
	}}}, pdfgen.Options{})
	doc, err := parseBytes(t, data, "n.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "使用前请阅读说明书长按电源键三秒", doc.Blocks[0].Text)
	require.Equal(t, "电机过热", doc.Blocks[1].Text)
	require.Equal(t, "Keep the filter clean", doc.Blocks[2].Text)
}

// identityPDF draws glyph ids through Identity-H with no ToUnicode map: text no reader can
// decode natively.
func identityPDF() []byte {
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	cid := b.Add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Embedded /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>")
	font := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Embedded /Encoding /Identity-H /DescendantFonts [%d 0 R] >>", cid))
	content := b.Stream("", []byte("BT /F1 12 Tf 72 700 Td <0012003400560078009A00BC> Tj ET"))
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pages, content, font))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	return b.Bytes(catalog, 0)
}

func TestParsePDFGarbledWithoutRepair(t *testing.T) {
	t.Parallel()
	_, err := parseBytes(t, identityPDF(), "glyphs.pdf", native)
	require.ErrorIs(t, err, ErrGarbled)
	require.Contains(t, err.Error(), "page 1")

	// GBK bytes shown with a WinAnsi font read as Latin-1 mojibake ("µç»ú¹ýÈÈ").
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("电机过热，请检查风扇")
	require.NoError(t, err)
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	font := b.Add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	content := b.Stream("", []byte("BT /F1 12 Tf 72 700 Td <"+fmt.Sprintf("%X", gbk)+"> Tj ET"))
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pages, content, font))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	_, err = parseBytes(t, b.Bytes(catalog, 0), "mojibake.pdf", native)
	require.ErrorIs(t, err, ErrGarbled)
}

func TestParsePDFToUnicode(t *testing.T) {
	t.Parallel()
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	cmap := b.Stream("", []byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"+
		"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"+
		"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"+
		"2 beginbfchar <0001> <5B89> <0002> <88C5> endbfchar\n"+
		"1 beginbfrange <0010> <0012> <6B65> endbfrange\n"+
		"endcmap CMapName currentdict /CMap defineresource pop end end"))
	cid := b.Add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Embedded /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>")
	font := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Embedded /Encoding /Identity-V /ToUnicode %d 0 R /DescendantFonts [%d 0 R] >>", cmap, cid))
	content := b.Stream("", []byte("BT /F1 12 Tf 72 700 Td <000100020010> Tj ET"))
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pages, content, font))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	doc, err := parseBytes(t, b.Bytes(catalog, 0), "tu.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "pdf", doc.Method)
	require.Equal(t, "安装步", doc.Blocks[0].Text)
}

func TestParsePDFWithPdftotext(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	t.Run("BrokenXrefIsRecovered", func(t *testing.T) {
		t.Parallel()
		data := pdfgen.Document([]pdfgen.Page{{Lines: []pdfgen.Line{{Text: "Recovered by poppler"}}}}, pdfgen.Options{})
		i := bytes.LastIndex(data, []byte("startxref\n")) + len("startxref\n")
		broken := append(append([]byte{}, data[:i]...), "17\n%%EOF\n"...)
		_, err := parseBytes(t, broken, "xref.pdf", native)
		require.ErrorIs(t, err, ErrCorrupt)
		doc, err := parseBytes(t, broken, "xref.pdf", Options{})
		require.NoError(t, err)
		require.Equal(t, "pdftotext", doc.Method)
		require.Equal(t, "Recovered by poppler", doc.Blocks[0].Text)
		require.NotEmpty(t, doc.Warnings)
	})
	t.Run("ScannedStaysNoText", func(t *testing.T) {
		t.Parallel()
		_, err := parseBytes(t, pdfgen.Document([]pdfgen.Page{{Image: true}}, pdfgen.Options{}), "scan.pdf", Options{})
		require.ErrorIs(t, err, ErrNoText)
	})
	t.Run("GarbledPageStaysGarbled", func(t *testing.T) {
		t.Parallel()
		// poppler cannot decode glyph ids without a ToUnicode map either.
		_, err := parseBytes(t, identityPDF(), "glyphs.pdf", Options{})
		require.Error(t, err)
	})
}

// Encrypted fixtures were made once with qpdf from pdfgen output; see testdata/README.md.
func TestParsePDFEncrypted(t *testing.T) {
	t.Parallel()
	read := func(t *testing.T, name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return data
	}
	for _, name := range []string{"empty-user-rc4.pdf", "empty-user-aes128.pdf"} {
		t.Run("EmptyUserPassword/"+name, func(t *testing.T) {
			t.Parallel()
			doc, err := parseBytes(t, read(t, name), name, native)
			require.NoError(t, err)
			require.Equal(t, "第3章 故障排除", doc.Blocks[0].Text)
			require.Equal(t, "pdf+cmap", doc.Method)
		})
	}
	t.Run("NeedsPassword", func(t *testing.T) {
		t.Parallel()
		_, err := parseBytes(t, read(t, "user-secret-aes128.pdf"), "x.pdf", native)
		require.ErrorIs(t, err, ErrEncrypted)
		require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "需要密码")
	})
	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		_, err := parseBytes(t, read(t, "user-secret-aes128.pdf"), "x.pdf", Options{Password: "guess", NoExternalTools: true})
		require.ErrorIs(t, err, ErrWrongPassword)
	})
	t.Run("RightPassword", func(t *testing.T) {
		t.Parallel()
		doc, err := parseBytes(t, read(t, "user-secret-aes128.pdf"), "x.pdf", Options{Password: "secret", NoExternalTools: true})
		require.NoError(t, err)
		require.Contains(t, Render(doc), "每月清洁一次滤网。\n\n--- page 3 ---\n\nFilter model RV-F2")
	})
	t.Run("AES256NeedsPdftotext", func(t *testing.T) {
		t.Parallel()
		data := read(t, "user-secret-aes256.pdf")
		_, err := parseBytes(t, data, "x.pdf", Options{Password: "secret", NoExternalTools: true})
		require.ErrorIs(t, err, ErrUnsupported)
		require.Contains(t, err.Error(), "poppler-utils")
		if _, err := exec.LookPath("pdftotext"); err != nil {
			t.Skip("pdftotext (poppler-utils) not installed")
		}
		_, err = parseBytes(t, data, "x.pdf", Options{})
		require.ErrorIs(t, err, ErrEncrypted)
		_, err = parseBytes(t, data, "x.pdf", Options{Password: "nope"})
		require.ErrorIs(t, err, ErrWrongPassword)
		doc, err := parseBytes(t, data, "x.pdf", Options{Password: "secret"})
		require.NoError(t, err)
		require.Equal(t, "pdftotext", doc.Method)
		require.Contains(t, Render(doc), "Filter model RV-F2")
	})
}

// TestWriteEncryptedFixtures regenerates testdata/*.pdf with qpdf; it runs only when
// ZHIKU_WRITE_FIXTURES=1 (see testdata/README.md).
func TestWriteEncryptedFixtures(t *testing.T) {
	t.Parallel()
	if os.Getenv("ZHIKU_WRITE_FIXTURES") != "1" {
		t.Skip("set ZHIKU_WRITE_FIXTURES=1 to regenerate encrypted fixtures with qpdf")
	}
	plain := filepath.Join(t.TempDir(), "plain.pdf")
	pages := append(manualPages(), pdfgen.Page{Lines: []pdfgen.Line{{Text: "Filter model RV-F2"}}})
	require.NoError(t, os.WriteFile(plain, pdfgen.Document(pages, pdfgen.Options{Compress: true}), 0o644))
	for name, args := range map[string][]string{
		"empty-user-rc4.pdf":     {"--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n", "--"},
		"empty-user-aes128.pdf":  {"--encrypt", "", "owner", "128", "--use-aes=y", "--"},
		"user-secret-aes128.pdf": {"--encrypt", "secret", "owner", "128", "--use-aes=y", "--"},
		"user-secret-aes256.pdf": {"--encrypt", "secret", "owner", "256", "--"},
	} {
		out, err := exec.Command("qpdf", append(append([]string{}, args...), plain, filepath.Join("testdata", name))...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
}

func BenchmarkParsePDF(b *testing.B) {
	const pages = 200
	ps := make([]pdfgen.Page, pages)
	for i := range ps {
		ps[i] = pdfgen.Page{Lines: []pdfgen.Line{
			{Text: fmt.Sprintf("第%d章 故障排除", i+1), Size: 16},
			{Text: "电机过热时设备会自动停机，请等待十分钟后重新启动。如果仍然报警，请联系售后服务。"},
			{Text: "The robot stops when the motor overheats; wait ten minutes and restart it."},
			{Text: ""},
			{Text: "E104 电机过热"},
			{Text: "E105 电压过低"},
			{Text: "E106 滤网堵塞"},
		}}
	}
	data := pdfgen.Document(ps, pdfgen.Options{Compress: true})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		doc, err := Parse(context.Background(), data, "bench.pdf", native)
		if err != nil || doc.Pages != pages {
			b.Fatalf("parse: %v", err)
		}
	}
	b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
}

func TestParsePDFRepairsPageWithPdftotext(t *testing.T) {
	t.Parallel()
	// Page 2's content uses LZWDecode, which ledongthuc/pdf does not implement.
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	font := b.Add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	c1 := b.Stream("", []byte("BT /F1 12 Tf 72 700 Td (Page one is plain) Tj ET"))
	var lzwData bytes.Buffer
	lw := lzw.NewWriter(&lzwData, lzw.MSB, 8)
	_, err := lw.Write([]byte("BT /F1 12 Tf 72 700 Td (Page two is LZW) Tj ET"))
	require.NoError(t, err)
	require.NoError(t, lw.Close())
	c2 := b.Stream("/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>", lzwData.Bytes())
	res := fmt.Sprintf("/Resources << /Font << /F1 %d 0 R >> >>", font)
	p1 := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R %s >>", pages, c1, res))
	p2 := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R %s >>", pages, c2, res))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>", p1, p2))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	data := b.Bytes(catalog, 0)

	doc, err := parseBytes(t, data, "lzw.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "pdf", doc.Method)
	require.Equal(t, []document.Block{{Kind: document.Paragraph, Text: "Page one is plain", Page: 1}}, doc.Blocks)
	require.Len(t, doc.Warnings, 2)
	require.Equal(t, "1 of 2 pages could not be read and were skipped; their text is missing", doc.Warnings[0].En, "the count comes first")
	require.Contains(t, doc.Warnings[0].Zh, "其中 1 页无法读取")
	require.Contains(t, doc.Warnings[1].En, "page 2")
	require.Contains(t, doc.Warnings[1].En, "LZWDecode")

	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	doc, err = parseBytes(t, data, "lzw.pdf", Options{})
	require.NoError(t, err)
	require.Equal(t, "pdf+pdftotext", doc.Method)
	require.Equal(t, document.Block{Kind: document.Paragraph, Text: "Page two is LZW", Page: 2}, doc.Blocks[1])
	require.Contains(t, doc.Warnings[0].En, "repaired with pdftotext")
}

// bombPDF holds a 100000 × 100000 JBIG2 image, inline or as an image XObject, and a line
// of text unless textLayer is false.
func bombPDF(inline, textLayer bool) []byte {
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	font := b.Add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	data := pdfgen.JBIG2Bomb(100000, 100000)
	img := b.Stream("/Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", data)
	draw := []byte("q 500 0 0 700 50 50 cm /Im1 Do Q")
	if inline {
		draw = append(append([]byte("q 500 0 0 700 50 50 cm BI /W 100000 /H 100000 /CS /G /BPC 1 /F /JBIG2Decode ID "), data...), " EI Q"...)
	}
	if textLayer {
		draw = append(draw, " BT /F1 12 Tf 72 760 Td (Statement of account, scanned) Tj ET"...)
	}
	content := b.FlateStream("", draw)
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> >>", pages, content, font, img))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	return b.Bytes(catalog, 0)
}

// A giant JBIG2 image (a decompression bomb) is never decoded: the file parses in well
// under 2 s with its text, or fails at once with a clear error when it has none. poppler
// decodes inline image data to find its end, so such a page never goes to pdftotext.
func TestParsePDFImageBombIsNotDecoded(t *testing.T) {
	t.Parallel()
	for _, inline := range []bool{false, true} {
		for _, opts := range []Options{native, {}} {
			start := time.Now()
			doc, err := parseBytes(t, bombPDF(inline, true), "bomb.pdf", opts)
			require.NoError(t, err)
			require.Equal(t, "Statement of account, scanned", doc.Blocks[0].Text)

			_, err = parseBytes(t, bombPDF(inline, false), "bomb.pdf", opts)
			require.ErrorIs(t, err, ErrNoText)
			if inline {
				require.Contains(t, err.Error(), "100000 × 100000 pixels (JBIG2Decode), a decompression bomb")
			}
			require.Less(t, time.Since(start), 2*time.Second, "inline %v, external tools %v", inline, !opts.NoExternalTools)
		}
	}
}

// bilingualStatementPDF has the shape of a bilingual financial statement: the English
// statement on the left in a TrueType font whose ToUnicode map declares a two-byte
// codespace (as many producers write it for every font), the Chinese statement on the right
// in a Type0 font with Identity-H and a ToUnicode map, side by side on each baseline.
func bilingualStatementPDF() []byte {
	english := []string{"Consolidated Statement of Changes in Equity", "Share capital 1,000", "Retained earnings 2,500"}
	chinese := []string{"合并股东权益变动表", "股本 1,000", "未分配利润 2,500"}
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	latinMap := b.Stream("", []byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"+
		"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"+
		"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"+
		"1 beginbfrange <20> <7E> <0020> endbfrange\n"+
		"endcmap CMapName currentdict /CMap defineresource pop end end"))
	widths := strings.TrimSpace(strings.Repeat("500 ", 95))
	latin := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /TrueType /BaseFont /ABCDEF+Arial /FirstChar 32 /LastChar 126 /Widths [%s] /Encoding /WinAnsiEncoding /ToUnicode %d 0 R >>", widths, latinMap))
	// Glyph ids 1, 2, … for the Chinese statement's distinct characters, in order of use.
	cids := map[rune]int{}
	var bfchar strings.Builder
	hexOf := func(s string) string {
		var h strings.Builder
		for _, r := range s {
			id, ok := cids[r]
			if !ok {
				id = len(cids) + 1
				cids[r] = id
				fmt.Fprintf(&bfchar, "<%04X> <%s>\n", id, pdfgen.UTF16Hex(string(r)))
			}
			fmt.Fprintf(&h, "%04X", id)
		}
		return h.String()
	}
	var content strings.Builder
	for i := range english {
		y := 760 - 24*i
		fmt.Fprintf(&content, "BT /F1 10 Tf 40 %d Td (%s) Tj ET\n", y, english[i])
		fmt.Fprintf(&content, "BT /F2 10 Tf 330 %d Td <%s> Tj ET\n", y, hexOf(chinese[i]))
	}
	cjkMap := b.Stream("", []byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"+
		"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"+
		"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"+
		fmt.Sprintf("%d beginbfchar\n%sendbfchar\n", len(cids), bfchar.String())+
		"endcmap CMapName currentdict /CMap defineresource pop end end"))
	cid := b.Add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GHIJKL+SimSun /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>")
	cjk := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /GHIJKL+SimSun /Encoding /Identity-H /ToUnicode %d 0 R /DescendantFonts [%d 0 R] >>", cjkMap, cid))
	stream := b.FlateStream("", []byte(content.String()))
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>", pages, stream, latin, cjk))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	return b.Bytes(catalog, 0)
}

// Two statements side by side, one in a simple font whose ToUnicode map declares two-byte
// codes: every character is read ("Cnoiae ttmn fCagsi qiy" before: codes taken two bytes
// at a time), with no help from pdftotext.
func TestParsePDFBilingualStatementsKeepEveryCharacter(t *testing.T) {
	t.Parallel()
	doc, err := parseBytes(t, bilingualStatementPDF(), "statement.pdf", native)
	require.NoError(t, err)
	require.Equal(t, "pdf", doc.Method)
	var text strings.Builder
	for _, b := range doc.Blocks {
		text.WriteString(b.Text + "\n")
	}
	for _, want := range []string{"Consolidated Statement of Changes in Equity", "合并股东权益变动表", "Share capital 1,000", "股本 1,000", "Retained earnings 2,500", "未分配利润 2,500"} {
		require.Contains(t, text.String(), want)
	}
}
