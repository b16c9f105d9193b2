package parse

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
)

// textLine is one visual line of text from a PDF page or a plain-text file, before it is
// grouped into blocks.
type textLine struct {
	text        string
	cells       []string // set when the line has wide gaps that look like table columns
	size        float64  // font size in points; 0 when unknown (plain text, pdftotext)
	breakBefore bool     // a blank line or a large vertical gap precedes the line
	page        int
}

var (
	chapterRe  = regexp.MustCompile(`^第[0-9一二三四五六七八九十百零〇两]+[章篇部]`)
	sectionRe  = regexp.MustCompile(`^第[0-9一二三四五六七八九十百零〇两]+节`)
	articleRe  = regexp.MustCompile(`^第[0-9一二三四五六七八九十百零〇两]+条`)
	cnEnumRe   = regexp.MustCompile(`^[一二三四五六七八九十]+[、．]`)
	cnParenRe  = regexp.MustCompile(`^[（(][一二三四五六七八九十]+[)）]`)
	decimalRe  = regexp.MustCompile(`^(\d{1,2})((?:\.\d{1,2}){1,4})\.?(?:\s+|\s*\p{Han})`)
	topNumRe   = regexp.MustCompile(`^\d{1,2}\s+\p{Han}`)
	englishRe  = regexp.MustCompile(`(?i)^(chapter|part)\s+[0-9ivx]+\b`)
	faultRe    = regexp.MustCompile(`^([A-Z]{1,3}-?\d{1,4}[A-Z]?)(?:\s*[:：]\s*|\s+)(\S.*)$`)
	bulletRe   = regexp.MustCompile(`^(?:[•·●○■□▪◆◇\-*–]|\d{1,2}[.)、]|[（(]\d{1,2}[)）]|[①-⑳])\s*`)
	sentenceRe = regexp.MustCompile(`[。；;，,：:！!？?]$`)
)

// numberedHeadingLevel recognises numbered section titles common in Chinese and English
// manuals: 第3章 (1), 第2节 (2), 一、(2), （一）(3), 3.2 (2), 3.2.1 (3), "1 范围" (1). It returns
// 0 for anything that reads like a sentence, so "3.5 米以上的…。" stays a paragraph.
func numberedHeadingLevel(s string) int {
	n := utf8.RuneCountInString(s)
	if n > 40 || sentenceRe.MatchString(s) {
		return 0
	}
	switch {
	case chapterRe.MatchString(s), englishRe.MatchString(s):
		return 1
	case sectionRe.MatchString(s), cnEnumRe.MatchString(s):
		return 2
	case articleRe.MatchString(s), cnParenRe.MatchString(s):
		return 3
	}
	if m := decimalRe.FindStringSubmatch(s); m != nil {
		return min(1+strings.Count(m[2], "."), 6)
	}
	if n <= 20 && topNumRe.MatchString(s) {
		return 1
	}
	return 0
}

// faultCode splits a line that starts with a fault or error code ("E104 电机过热",
// "F-01: 过压") into the code and the rest.
func faultCode(s string) (code, rest string, ok bool) {
	m := faultRe.FindStringSubmatch(s)
	if m == nil || utf8.RuneCountInString(s) > 120 {
		return "", "", false
	}
	return m[1], m[2], true
}

// blockBuilder groups lines into blocks. headingLevel, when set, gives a heading level from
// a line's font size (PDF); numbered titles are recognised for every source.
type blockBuilder struct {
	headingLevel func(size float64, runes int) int

	blocks   []document.Block
	para     []textLine
	list     []string
	listPage int
	table    *document.Block
}

func (bb *blockBuilder) flushPara() {
	if len(bb.para) == 0 {
		return
	}
	texts := make([]string, len(bb.para))
	for i, l := range bb.para {
		texts[i] = l.text
	}
	if t := joinLines(texts); t != "" {
		bb.blocks = append(bb.blocks, document.Block{Kind: document.Paragraph, Text: t, Page: bb.para[0].page})
	}
	bb.para = bb.para[:0]
}

func (bb *blockBuilder) flushList() {
	if len(bb.list) == 0 {
		return
	}
	bb.blocks = append(bb.blocks, document.Block{Kind: document.List, Text: strings.Join(bb.list, "\n"), Page: bb.listPage})
	bb.list = nil
}

func (bb *blockBuilder) flushTable() {
	if bb.table == nil {
		return
	}
	bb.table.Text = tableText(bb.table.Rows)
	bb.blocks = append(bb.blocks, *bb.table)
	bb.table = nil
}

func (bb *blockBuilder) flush() {
	bb.flushPara()
	bb.flushList()
	bb.flushTable()
}

// add feeds one line; next is the following line (nil at the end), used to tell a lone
// fault-code heading from the first row of a fault-code table.
func (bb *blockBuilder) add(l textLine, next *textLine) {
	l.text = normalizeLine(l.text)
	if l.text == "" {
		bb.flush()
		return
	}
	if l.breakBefore {
		bb.flush()
	}
	runes := utf8.RuneCountInString(l.text)
	if bb.headingLevel != nil && l.size > 0 {
		if lvl := bb.headingLevel(l.size, runes); lvl > 0 {
			bb.flush()
			bb.blocks = append(bb.blocks, document.Block{Kind: document.Heading, Level: lvl, Text: l.text, Page: l.page})
			return
		}
	}
	if code, rest, ok := faultCode(l.text); ok {
		nextIsCode := false
		if next != nil {
			_, _, nextIsCode = faultCode(normalizeLine(next.text))
		}
		if bb.table != nil || nextIsCode {
			bb.addTableRow(l, code, rest)
			return
		}
		if runes <= 30 {
			bb.flush()
			bb.blocks = append(bb.blocks, document.Block{Kind: document.Heading, Level: 3, Text: l.text, Page: l.page})
			return
		}
	}
	if bb.table != nil {
		// A wrapped description continues the last cell of the table.
		row := bb.table.Rows[len(bb.table.Rows)-1]
		row[len(row)-1] = joinLines([]string{row[len(row)-1], l.text})
		return
	}
	if lvl := numberedHeadingLevel(l.text); lvl > 0 {
		bb.flush()
		bb.blocks = append(bb.blocks, document.Block{Kind: document.Heading, Level: lvl, Text: l.text, Page: l.page})
		return
	}
	if bulletRe.MatchString(l.text) && runes > 1 {
		bb.flushPara()
		if len(bb.list) == 0 {
			bb.listPage = l.page
		}
		bb.list = append(bb.list, l.text)
		return
	}
	if len(bb.list) > 0 && !l.breakBefore {
		bb.list[len(bb.list)-1] = joinLines([]string{bb.list[len(bb.list)-1], l.text})
		return
	}
	bb.flushList()
	bb.para = append(bb.para, l)
}

func (bb *blockBuilder) addTableRow(l textLine, code, rest string) {
	cells := normalizeCells(l.cells)
	if len(cells) < 2 {
		cells = []string{code, rest}
	}
	if bb.table == nil {
		bb.flushList()
		t := &document.Block{Kind: document.Table, Page: l.page}
		// A one-line paragraph just above with the same column count is the header row.
		if len(bb.para) == 1 {
			if hdr := normalizeCells(bb.para[0].cells); len(hdr) == len(cells) {
				t.Rows = append(t.Rows, hdr)
				t.HasHeader = true
				t.Page = bb.para[0].page
				bb.para = bb.para[:0]
			}
		}
		bb.flushPara()
		bb.table = t
	}
	bb.table.Rows = append(bb.table.Rows, cells)
}

func normalizeCells(cells []string) []string {
	if len(cells) < 2 {
		return nil
	}
	out := make([]string, 0, len(cells))
	for _, c := range cells {
		if c = normalizeLine(c); c != "" {
			out = append(out, c)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// buildBlocks groups lines into blocks; see blockBuilder.
func buildBlocks(lines []textLine, headingLevel func(size float64, runes int) int) []document.Block {
	bb := &blockBuilder{headingLevel: headingLevel}
	for i := range lines {
		var next *textLine
		if i+1 < len(lines) {
			next = &lines[i+1]
		}
		if i > 0 && lines[i].page != lines[i-1].page {
			bb.flush()
		}
		bb.add(lines[i], next)
	}
	bb.flush()
	return bb.blocks
}

// tableText renders rows the way document.Block documents it: cells joined by " | ",
// rows by newlines.
func tableText(rows [][]string) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Join(r, " | "))
	}
	return b.String()
}

// splitColumns splits a plain-text line on tabs or runs of two or more spaces, the way
// pdftotext -layout and hand-made text tables separate columns.
func splitColumns(s string) []string {
	parts := columnSepRe.Split(strings.TrimSpace(s), -1)
	if len(parts) < 2 {
		return nil
	}
	return parts
}

var columnSepRe = regexp.MustCompile(`\t+|\s{2,}`)
