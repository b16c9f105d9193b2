package parse

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/ingest/parse/internal/pdfgen"
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
