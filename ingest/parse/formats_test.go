package parse

import (
	"archive/zip"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/ingest/parse/internal/pdfgen"
	"github.com/zhiku/zhiku/internal/kb"
	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

const chineseManual = "第3章 故障排除\n\n电机过热时设备会自动停机，\n请等待十分钟后重新启动。\n\n代码\t含义\nE104\t电机过热\nE105\t电压过低\n\n3.2 清洁滤网\n每月清洁一次滤网。\n"

var chineseManualBlocks = []document.Block{
	{Kind: document.Heading, Level: 1, Text: "第3章 故障排除"},
	{Kind: document.Paragraph, Text: "电机过热时设备会自动停机，请等待十分钟后重新启动。"},
	{Kind: document.Table, Text: "代码 | 含义\nE104 | 电机过热\nE105 | 电压过低", Rows: [][]string{{"代码", "含义"}, {"E104", "电机过热"}, {"E105", "电压过低"}}, HasHeader: true},
	{Kind: document.Heading, Level: 2, Text: "3.2 清洁滤网"},
	{Kind: document.Paragraph, Text: "每月清洁一次滤网。"},
}

func TestParseText(t *testing.T) {
	t.Parallel()
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(chineseManual)
	require.NoError(t, err)
	utf16le, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().String(chineseManual)
	require.NoError(t, err)
	utf16be, err := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM).NewEncoder().String(chineseManual)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, data, method string
	}{
		{"UTF8", chineseManual, "text/utf-8"},
		{"UTF8BOM", "\xEF\xBB\xBF" + chineseManual, "text/utf-8"},
		{"CRLF", strings.ReplaceAll(chineseManual, "\n", "\r\n"), "text/utf-8"},
		{"GBK", gbk, "text/gb18030"},
		{"UTF16LE", utf16le, "text/utf-16le"},
		{"UTF16BE", utf16be, "text/utf-16be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			format, err := Sniff("manual.txt", []byte(tc.data))
			require.NoError(t, err)
			require.Equal(t, FormatText, format)
			doc, err := Parse(context.Background(), []byte(tc.data), "manual.txt", Options{})
			require.NoError(t, err)
			require.Equal(t, tc.method, doc.Method)
			require.Equal(t, chineseManualBlocks, doc.Blocks)
			require.Equal(t, "第3章 故障排除", doc.Title)
		})
	}
}

func TestParseTextErrors(t *testing.T) {
	t.Parallel()
	t.Run("InvalidEverywhere", func(t *testing.T) {
		t.Parallel()
		// Latin-1 bytes: not UTF-8, and GB18030 decodes them into non-CJK nonsense.
		_, err := Parse(context.Background(), []byte("Caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xfe\xfd"), "menu.txt", Options{})
		require.ErrorIs(t, err, ErrUnsupported)
		require.Contains(t, err.Error(), "offset 3")
		require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "无法识别文本编码")
	})
	t.Run("Binary", func(t *testing.T) {
		t.Parallel()
		_, err := Sniff("x.bin", []byte("\x00\x01\x02\x03\x00\x00\x10\x00\x00\x00\x00\x00"))
		require.ErrorIs(t, err, ErrUnsupported)
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		_, err := Parse(context.Background(), []byte("  \n\n "), "blank.txt", Options{})
		require.ErrorIs(t, err, ErrNoText)
	})
	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		_, err := Parse(context.Background(), []byte("0123456789"), "big.txt", Options{MaxBytes: 5})
		require.ErrorIs(t, err, ErrTooLarge)
	})
}

func TestParseMarkdown(t *testing.T) {
	t.Parallel()
	md := "# 扫地机器人 RV-100 使用手册\n\n" +
		"## 故障代码\n\n" +
		"机器报警时，请对照下表\n处理。\n\n" +
		"| 代码 | 含义 | 处理方法 |\n|---|---|---|\n| E104 | 电机过热 | 停机冷却**十分钟** |\n| E105 | 电压过低 | 充电 |\n\n" +
		"- 清洁滤网\n- 检查边刷\n  - 每周一次\n\n" +
		"```\nreset --factory\n```\n"
	format, err := Sniff("manual", []byte(md))
	require.NoError(t, err)
	require.Equal(t, FormatMarkdown, format)
	doc, err := Parse(context.Background(), []byte(md), "manual.md", Options{})
	require.NoError(t, err)
	require.Equal(t, "markdown", doc.Method)
	require.Equal(t, "扫地机器人 RV-100 使用手册", doc.Title)
	require.Equal(t, []document.Block{
		{Kind: document.Heading, Level: 1, Text: "扫地机器人 RV-100 使用手册"},
		{Kind: document.Heading, Level: 2, Text: "故障代码"},
		{Kind: document.Paragraph, Text: "机器报警时，请对照下表处理。"},
		{Kind: document.Table, Text: "代码 | 含义 | 处理方法\nE104 | 电机过热 | 停机冷却十分钟\nE105 | 电压过低 | 充电",
			Rows: [][]string{{"代码", "含义", "处理方法"}, {"E104", "电机过热", "停机冷却十分钟"}, {"E105", "电压过低", "充电"}}, HasHeader: true},
		{Kind: document.List, Text: "清洁滤网\n检查边刷\n  每周一次"},
		{Kind: document.Code, Text: "reset --factory"},
	}, doc.Blocks)
	require.Equal(t, "# 扫地机器人 RV-100 使用手册\n\n## 故障代码\n\n机器报警时，请对照下表处理。\n\n"+
		"代码 | 含义 | 处理方法\nE104 | 电机过热 | 停机冷却十分钟\nE105 | 电压过低 | 充电\n\n- 清洁滤网\n- 检查边刷\n  - 每周一次\n\nreset --factory\n\n", Render(doc))
}

func TestParseHTML(t *testing.T) {
	t.Parallel()
	page := `<!DOCTYPE html><html><head><meta charset="gbk"><title>退换货政策 - 某某商城</title>
<style>body{color:red}</style><script>var tracking = "不应出现";</script></head>
<body><header><nav><a href="/">首页</a><a href="/cart">购物车</a></nav></header>
<aside>猜你喜欢</aside>
<main>
  <h1>退换货政策</h1>
  <p>自签收之日起 <b>7 天</b>内可无理由退货。</p>
  <div>特价商品
    不支持退换。</div>
  <h2>退款时效</h2>
  <ul><li>支付宝：1-3 个工作日</li><li>银行卡：3-7 个工作日</li></ul>
  <table><thead><tr><th>商品</th><th>退货期限</th></tr></thead>
    <tbody><tr><td>手机</td><td>7 天</td></tr><tr><td>家电</td><td>15 天</td></tr></tbody></table>
  <form><input name="q"><button>搜索</button></form>
</main>
<footer>版权所有</footer></body></html>`
	data, err := simplifiedchinese.GBK.NewEncoder().String(page)
	require.NoError(t, err)
	format, err := Sniff("policy", []byte(data))
	require.NoError(t, err)
	require.Equal(t, FormatHTML, format)
	doc, err := Parse(context.Background(), []byte(data), "policy.html", Options{})
	require.NoError(t, err)
	require.Equal(t, "html/gbk", doc.Method)
	require.Equal(t, "退换货政策 - 某某商城", doc.Title)
	require.Equal(t, []document.Block{
		{Kind: document.Heading, Level: 1, Text: "退换货政策"},
		{Kind: document.Paragraph, Text: "自签收之日起 7 天内可无理由退货。"},
		{Kind: document.Paragraph, Text: "特价商品 不支持退换。"},
		{Kind: document.Heading, Level: 2, Text: "退款时效"},
		{Kind: document.List, Text: "支付宝：1-3 个工作日\n银行卡：3-7 个工作日"},
		{Kind: document.Table, Text: "商品 | 退货期限\n手机 | 7 天\n家电 | 15 天", Rows: [][]string{{"商品", "退货期限"}, {"手机", "7 天"}, {"家电", "15 天"}}, HasHeader: true},
	}, doc.Blocks)
	rendered := Render(doc)
	for _, noise := range []string{"首页", "购物车", "猜你喜欢", "不应出现", "版权所有", "搜索", "color"} {
		require.NotContains(t, rendered, noise)
	}
}

// docxFile builds a minimal .docx with archive/zip.
func docxFile(t *testing.T, parts map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

const wNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`

func TestParseDOCX(t *testing.T) {
	t.Parallel()
	styles := `<?xml version="1.0" encoding="UTF-8"?><w:styles ` + wNS + `>
<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="a5"><w:name w:val="标题 2"/></w:style>
<w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>`
	body := `<?xml version="1.0" encoding="UTF-8"?><w:document ` + wNS + `><w:body>
<w:p><w:pPr><w:pStyle w:val="1"/></w:pPr><w:r><w:t>售后服务说明</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">本产品享受 </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>一年</w:t></w:r><w:r><w:t>质保。</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="a5"/></w:pPr><w:r><w:t>保修范围</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>主机</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>充电座</w:t></w:r></w:p>
<w:tbl><w:tr><w:trPr><w:tblHeader/></w:trPr><w:tc><w:p><w:r><w:t>部件</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>保修期</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>电池</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>6 个月</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><w:t>人为损坏</w:t></w:r><w:r><w:tab/><w:t>不在保修范围内</w:t></w:r></w:p>
</w:body></w:document>`
	data := docxFile(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types/>`,
		"word/document.xml":   body,
		"word/styles.xml":     styles,
	})
	format, err := Sniff("upload.bin", data[:min(len(data), 512)])
	require.NoError(t, err)
	require.Equal(t, FormatDOCX, format)
	doc, err := Parse(context.Background(), data, "售后.docx", Options{})
	require.NoError(t, err)
	require.Equal(t, "docx", doc.Method)
	require.Equal(t, "售后服务说明", doc.Title)
	require.Equal(t, []document.Block{
		{Kind: document.Heading, Level: 1, Text: "售后服务说明"},
		{Kind: document.Paragraph, Text: "本产品享受 一年质保。"},
		{Kind: document.Heading, Level: 2, Text: "保修范围"},
		{Kind: document.List, Text: "主机\n充电座"},
		{Kind: document.Table, Text: "部件 | 保修期\n电池 | 6 个月", Rows: [][]string{{"部件", "保修期"}, {"电池", "6 个月"}}, HasHeader: true},
		{Kind: document.Paragraph, Text: "人为损坏\t不在保修范围内"},
	}, doc.Blocks)
}

func TestParseDOCXZipBomb(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("word/document.xml")
	require.NoError(t, err)
	_, err = w.Write([]byte(`<w:document ` + wNS + `><w:body><w:p><w:r><w:t>`))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for i := 0; i < maxUnpackedBytes>>20+1; i++ {
		_, err = w.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, buf.Len(), 2<<20)
	_, err = Parse(context.Background(), buf.Bytes(), "bomb.docx", Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "zip bomb")
}

func TestSniff(t *testing.T) {
	t.Parallel()
	xlsx := docxFile(t, map[string]string{"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
	other := docxFile(t, map[string]string{"hello.txt": "hi"})
	for _, tc := range []struct {
		name string
		head []byte
		want Format
	}{
		{"report.docx", pdfgen.Document([]pdfgen.Page{{Lines: []pdfgen.Line{{Text: "x"}}}}, pdfgen.Options{}), FormatPDF},
		{"catalog.xlsx", xlsx, FormatXLSX},
		{"notes.pdf", []byte("just words, named like a PDF"), FormatText},
		{"page.txt", []byte("<!doctype html><html><body>hi</body></html>"), FormatHTML},
		{"readme.txt", []byte("# Title\n\nSome text\n\n- item\n"), FormatMarkdown},
		{"products.csv", []byte("sku,name\n1,扫地机\n"), FormatCSV},
		{"records.jsonl", []byte(`{"id":"1","text":"x"}` + "\n"), FormatJSONL},
	} {
		got, err := Sniff(tc.name, tc.head)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	_, err := Sniff("a.zip", other)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = Sniff("old.doc", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = Parse(context.Background(), xlsx, "catalog.xlsx", Options{})
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestParseRecoversPanicsAndTimesOut(t *testing.T) {
	t.Parallel()
	// A content stream with an unknown filter makes the library panic; the page is
	// reported, not the process killed.
	var b pdfgen.Builder
	catalog := b.Reserve()
	pages := b.Reserve()
	content := b.Stream("/Filter /NoSuchDecode", []byte("garbage"))
	page := b.Add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents " + strconv.Itoa(content) + " 0 R >>")
	b.Set(pages, "<< /Type /Pages /Kids ["+strconv.Itoa(page)+" 0 R] /Count 1 >>")
	b.Set(catalog, "<< /Type /Catalog /Pages 2 0 R >>")
	_, err := Parse(context.Background(), b.Bytes(catalog, 0), "bad.pdf", native)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "NoSuchDecode")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Parse(ctx, []byte(chineseManual), "x.txt", Options{})
	require.ErrorIs(t, err, context.Canceled)
}
