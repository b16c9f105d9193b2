package chunk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest/document"
)

func para(text string, page int) document.Block {
	return document.Block{Kind: document.Paragraph, Text: text, Page: page}
}

func head(level int, text string) document.Block {
	return document.Block{Kind: document.Heading, Level: level, Text: text}
}

// zhSentences builds n distinct Chinese sentences of about 30 runes each.
func zhSentences(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s第%d条说明：请先关闭电源并拔下插头，等待三十分钟后再重新启动设备。", prefix, i)
	}
	return out
}

func requireSane(t *testing.T, chunks []Chunk, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	for i, c := range chunks {
		require.Equal(t, i, c.Ord)
		require.NotEmpty(t, strings.TrimSpace(c.Text))
		require.LessOrEqual(t, runeCount(c.Text), opts.MaxRunes, "chunk %d too long", i)
		require.Equal(t, ContentHash(c.Text), c.Hash)
		if len(c.SectionPath) > 0 {
			require.Equal(t, strings.Join(c.SectionPath, " > ")+"\n"+c.Text, c.IndexText)
		}
	}
}

func TestSplitSectionPath(t *testing.T) {
	t.Parallel()
	doc := &document.Document{Title: "洗衣机手册", Blocks: []document.Block{
		head(1, "洗衣机手册"),
		para("欢迎使用本产品。", 1),
		head(1, "第3章 故障排除"),
		head(2, "E104 电机过热"),
		para("电机温度过高时显示E104。请断电冷却30分钟。", 2),
		head(2, "E105 排水故障"),
		para("检查排水管是否堵塞。", 2),
		head(1, "第4章 保养"),
		para("每月清洁一次滤网。", 3),
	}}
	chunks := Split(doc, Options{})
	requireSane(t, chunks, Options{})
	require.Len(t, chunks, 4)
	require.Equal(t, []string{"洗衣机手册"}, chunks[0].SectionPath)
	require.Equal(t, []string{"洗衣机手册", "第3章 故障排除", "E104 电机过热"}, chunks[1].SectionPath)
	require.Equal(t, "洗衣机手册 > 第3章 故障排除 > E104 电机过热\n电机温度过高时显示E104。请断电冷却30分钟。", chunks[1].IndexText)
	require.Equal(t, "电机温度过高时显示E104。请断电冷却30分钟。", chunks[1].Text)
	require.Equal(t, []string{"洗衣机手册", "第3章 故障排除", "E105 排水故障"}, chunks[2].SectionPath)
	require.Equal(t, []string{"洗衣机手册", "第4章 保养"}, chunks[3].SectionPath)
	require.Equal(t, 3, chunks[3].Page)
	require.Equal(t, []int{3}, chunks[3].Pages)
	require.Equal(t, KindText, chunks[3].Kind)
}

func TestSplitLongSectionAtSentencesWithOverlap(t *testing.T) {
	t.Parallel()
	sents := zhSentences(60, "")
	doc := &document.Document{Title: "手册", Blocks: []document.Block{
		head(1, "安装"),
		para(strings.Join(sents[:30], ""), 1),
		para(strings.Join(sents[30:], ""), 2),
		head(1, "其他"),
		para("其他章节的第一句话。", 3),
	}}
	opts := Options{TargetRunes: 200, MaxRunes: 300, OverlapRunes: 80}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	require.Greater(t, len(chunks), 5)

	last := chunks[len(chunks)-1]
	require.Equal(t, "其他章节的第一句话。", last.Text, "no overlap across sections")

	install := chunks[:len(chunks)-1]
	for i, c := range install {
		require.True(t, strings.HasSuffix(c.Text, "。"), "chunk %d ends mid-sentence: %q", i, c.Text)
		if i == 0 {
			continue
		}
		// The chunk opens with the previous chunk's last sentence(s).
		prev := sentences(install[i-1].Text)
		require.Contains(t, c.Text, prev[len(prev)-1].text, "chunk %d lacks overlap", i)
		require.Contains(t, install[i-1].Text, sentences(c.Text)[0].text, "chunk %d lacks overlap", i)
	}
	// Every sentence survives, in order.
	joined := ""
	for _, c := range install {
		joined += c.Text
	}
	for _, s := range sents {
		require.Contains(t, joined, s)
	}
	require.Equal(t, 1, install[0].Page)
	require.Equal(t, 2, install[len(install)-1].Page)
	require.Contains(t, install[len(install)-1].Pages, 2)
}

func TestSplitKeepsFaultCodeEntries(t *testing.T) {
	t.Parallel()
	var lines []string
	var entries []string
	for i := 0; i < 40; i++ {
		entry := fmt.Sprintf("E%d 第%d号故障：电机温度过高。\n原因：散热不良或负载过大。\n处理：断电冷却后重试，仍报错请联系售后。", 100+i, i)
		entries = append(entries, entry)
		lines = append(lines, entry)
	}
	entries = append(entries, "F-03：门锁异常，请关紧机门。", "Err 12 水位传感器故障。")
	lines = append(lines, entries[len(entries)-2:]...)
	doc := &document.Document{Title: "故障代码表", Blocks: []document.Block{
		{Kind: document.List, Text: strings.Join(lines, "\n")},
	}}
	opts := Options{TargetRunes: 200, MaxRunes: 300}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	require.Greater(t, len(chunks), 5)
	for _, e := range entries {
		found := 0
		for _, c := range chunks {
			if strings.Contains(c.Text, e) {
				found++
			}
		}
		require.Equal(t, 1, found, "entry cut or repeated: %q", e)
	}
}

func TestSplitFaultCodeHeadTakesNextParagraph(t *testing.T) {
	t.Parallel()
	doc := &document.Document{Blocks: []document.Block{
		para(strings.Repeat("前言内容很长。", 60), 1),
		para("E104 电机过热", 1),
		para("原因：负载过大。处理：减少衣物后重试。", 1),
	}}
	opts := Options{TargetRunes: 200, MaxRunes: 300}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	found := false
	for _, c := range chunks {
		if strings.Contains(c.Text, "E104 电机过热\n原因：负载过大。处理：减少衣物后重试。") {
			found = true
		}
	}
	require.True(t, found)
}

func TestSplitLongTableRepeatsHeader(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"型号", "功率", "价格"}}
	for i := 0; i < 120; i++ {
		rows = append(rows, []string{fmt.Sprintf("XR-%d", 500+i), fmt.Sprintf("%dW", 1000+i), fmt.Sprintf("%d元", 2000+i)})
	}
	doc := &document.Document{Title: "产品目录", Blocks: []document.Block{
		head(1, "参数"),
		{Kind: document.Table, Rows: rows, HasHeader: true, Page: 4},
	}}
	opts := Options{TargetRunes: 300, MaxRunes: 400}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	require.Greater(t, len(chunks), 3)
	seen := map[string]int{}
	for _, c := range chunks {
		require.Equal(t, KindTable, c.Kind)
		require.Equal(t, 4, c.Page)
		require.Equal(t, []string{"产品目录", "参数"}, c.SectionPath)
		lines := strings.Split(c.Text, "\n")
		require.Equal(t, "型号 | 功率 | 价格", lines[0])
		for _, l := range lines[1:] {
			require.Len(t, strings.Split(l, " | "), 3, "row cut: %q", l)
			seen[l]++
		}
	}
	require.Len(t, seen, 120)
	for row, n := range seen {
		require.Equal(t, 1, n, row)
	}
}

func TestSplitSmallTableFromText(t *testing.T) {
	t.Parallel()
	doc := &document.Document{Blocks: []document.Block{
		para("规格如下。", 0),
		{Kind: document.Table, Text: "尺寸 | 重量\n60cm | 70kg"},
		para("以上。", 0),
	}}
	chunks := Split(doc, Options{})
	require.Len(t, chunks, 3)
	require.Equal(t, KindTable, chunks[1].Kind)
	require.Equal(t, "尺寸 | 重量\n60cm | 70kg", chunks[1].Text)
	require.Empty(t, chunks[1].SectionPath)
	require.Equal(t, chunks[1].Text, chunks[1].IndexText)
}

func TestSplitHardSplitsOverlongSentence(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("这是一段没有任何标点的超长文本", 150)
	doc := &document.Document{Title: "t", Blocks: []document.Block{para(long, 0)}}
	opts := Options{TargetRunes: 500, MaxRunes: 800}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	require.Greater(t, len(chunks), 2)
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(c.Text)
	}
	require.Equal(t, long, b.String(), "hard split loses nothing and adds no overlap")
}

func TestSplitEmptyAndDuplicates(t *testing.T) {
	t.Parallel()
	require.Empty(t, Split(nil, Options{}))
	require.Empty(t, Split(&document.Document{Title: "空", Blocks: []document.Block{
		head(1, "标题"), para("  \n ", 1), {Kind: document.Table}, {Kind: document.List, Text: "\n"},
	}}, Options{}))

	doc := &document.Document{Title: "FAQ", Blocks: []document.Block{
		head(1, "A"), para("如需退货，请在七天内申请。", 0),
		head(1, "B"), para("如需退货，请在七天内申请。", 0),
		head(1, "C"), para("如需退货，请在 七天内申请。", 0),
		head(1, "D"), para("运费由买家承担。", 0),
	}}
	chunks := Split(doc, Options{})
	requireSane(t, chunks, Options{})
	require.Len(t, chunks, 2)
	require.Equal(t, []string{"FAQ", "A"}, chunks[0].SectionPath)
	require.Equal(t, []string{"FAQ", "D"}, chunks[1].SectionPath)
}

func TestSplitEnglish(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "Step %d: Dr. Lee says press the power button, e.g. for three seconds. Wait for the beep! ", i)
	}
	doc := &document.Document{Title: "Manual", Blocks: []document.Block{head(1, "Setup"), para(b.String(), 0)}}
	opts := Options{TargetRunes: 300, MaxRunes: 400}
	chunks := Split(doc, opts)
	requireSane(t, chunks, opts)
	require.Greater(t, len(chunks), 3)
	for _, c := range chunks {
		require.True(t, strings.HasPrefix(c.Text, "Step ") || strings.HasPrefix(c.Text, "Wait "), c.Text)
		require.True(t, strings.HasSuffix(c.Text, "!"), c.Text)
		require.NotContains(t, c.Text, "beep!Step", "sentences keep their spacing")
	}
}

func TestSentences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"你好。请问“在吗？”好的！", []string{"你好。", "请问“在吗？”", "好的！"}},
		{"第一；第二…第三", []string{"第一；", "第二…", "第三"}},
		{"Use e.g. water. Then dry it.", []string{"Use e.g. water.", "Then dry it."}},
		{"Price is 3.5 dollars. OK", []string{"Price is 3.5 dollars.", "OK"}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"He said \"stop.\" Then left.", []string{"He said \"stop.\"", "Then left."}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, s := range sentences(tc.in) {
				got = append(got, s.text)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	h := ContentHash("XR-500 功率 1000W")
	require.Len(t, h, 64)
	require.Equal(t, h, ContentHash("  ＸＲ－５００  功率\n1000w "))
	require.NotEqual(t, h, ContentHash("XR-501 功率 1000W"))
	require.Equal(t, ContentHash("七天内退货"), ContentHash("七天 内\n退货"))
	require.NotEqual(t, ContentHash("power on"), ContentHash("poweron"))
}

func TestIsFaultCode(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"E104 电机过热", "F-03：门锁", "Err 12 水位", "ERROR-5: x", "- E1. 说明", "E104电机过热", "故障码 E21 排水"} {
		require.True(t, isFaultCode(s), s)
	}
	for _, s := range []string{"Email us", "1. 安装", "Step 1", "电源 E104", "ELECTRIC 5"} {
		require.False(t, isFaultCode(s), s)
	}
}

func TestSplitCodeBlocksVerbatim(t *testing.T) {
	t.Parallel()
	code := "curl -X POST \\\n    -H 'Content-Type: application/json' \\\n    https://example.com/api"
	doc := &document.Document{Blocks: []document.Block{
		head(2, "API 示例"),
		{Kind: document.Code, Text: "\n" + code + "\n\n"},
	}}
	chunks := Split(doc, Options{})
	require.Len(t, chunks, 1)
	require.Equal(t, KindCode, chunks[0].Kind)
	require.Equal(t, code, chunks[0].Text, "indentation kept")
	require.Equal(t, []string{"API 示例"}, chunks[0].SectionPath, "no title: the path starts at the heading")
}
