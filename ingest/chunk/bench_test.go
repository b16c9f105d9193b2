package chunk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zhiku/zhiku/ingest/document"
)

// benchDocument is a manual-like document: chapters of Chinese and English prose, a
// fault-code list and a table per chapter.
func benchDocument() (*document.Document, int) {
	doc := &document.Document{Title: "XR-500 洗衣机用户手册"}
	runes := 0
	add := func(b document.Block) {
		doc.Blocks = append(doc.Blocks, b)
		runes += runeCount(b.Text)
		for _, r := range b.Rows {
			for _, c := range r {
				runes += runeCount(c)
			}
		}
	}
	for ch := 1; ch <= 40; ch++ {
		add(document.Block{Kind: document.Heading, Level: 1, Text: fmt.Sprintf("第%d章 使用说明", ch)})
		for sec := 1; sec <= 3; sec++ {
			add(document.Block{Kind: document.Heading, Level: 2, Text: fmt.Sprintf("%d.%d 操作步骤", ch, sec)})
			add(document.Block{Kind: document.Paragraph, Page: ch, Text: strings.Repeat(
				fmt.Sprintf("第%d章第%d步：请确认电源已连接，水龙头已打开，然后按下启动键。若显示屏无反应，请检查保险丝。", ch, sec), 12)})
			add(document.Block{Kind: document.Paragraph, Page: ch, Text: strings.Repeat(
				fmt.Sprintf("Chapter %d: press and hold the start button for %d seconds. The drum will rotate slowly before filling with water. ", ch, sec), 6)})
		}
		var codes []string
		for i := 0; i < 15; i++ {
			codes = append(codes, fmt.Sprintf("E%d%02d 第%d类故障：排水不畅。\n处理：清理过滤器后重新启动。", ch, i, i))
		}
		add(document.Block{Kind: document.List, Page: ch, Text: strings.Join(codes, "\n")})
		rows := [][]string{{"型号", "容量", "功率", "价格"}}
		for i := 0; i < 40; i++ {
			rows = append(rows, []string{fmt.Sprintf("XR-%d-%d", ch, i), "10kg", "2000W", fmt.Sprintf("%d元", 2999+i)})
		}
		add(document.Block{Kind: document.Table, Page: ch, Rows: rows, HasHeader: true})
	}
	return doc, runes
}

func BenchmarkSplit(b *testing.B) {
	doc, runes := benchDocument()
	chunks := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		chunks = len(Split(doc, Options{}))
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(runes)*float64(b.N)/secs, "runes/s")
	b.ReportMetric(float64(chunks)*float64(b.N)/secs, "chunks/s")
	b.ReportMetric(float64(chunks), "chunks/doc")
}
