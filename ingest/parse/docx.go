package parse

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/kb"
)

// unzipBudget hands out decompressed bytes across all parts of one archive, so a zip bomb
// (a tiny file that inflates to gigabytes) fails with ErrCorrupt instead of exhausting memory.
type unzipBudget struct{ left int64 }

type budgetReader struct {
	r io.Reader
	b *unzipBudget
}

var errZipBomb = kb.NewError(ErrCorrupt, fmt.Sprintf("file is corrupt: archive inflates beyond %d MB (zip bomb?)", maxUnpackedBytes>>20), fmt.Sprintf("文件已损坏：解压后超过 %d MB（疑似压缩炸弹）", maxUnpackedBytes>>20))

func (br *budgetReader) Read(p []byte) (int, error) {
	if br.b.left <= 0 {
		return 0, errZipBomb
	}
	if int64(len(p)) > br.b.left {
		p = p[:br.b.left]
	}
	n, err := br.r.Read(p)
	br.b.left -= int64(n)
	return n, err
}

func openPart(zr *zip.Reader, name string, budget *unzipBudget) (io.ReadCloser, error) {
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		if f.UncompressedSize64 > uint64(budget.left) {
			return nil, errZipBomb
		}
		rc, err := f.Open()
		if err != nil {
			return nil, kb.Detailf(ErrCorrupt, "%s: %v", name, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{&budgetReader{rc, budget}, rc}, nil
	}
	return nil, nil
}

// parseDOCX reads word/document.xml with a streaming XML decoder: paragraphs, headings
// (resolved through the style names in word/styles.xml: "heading 1", "标题 1", outline
// levels), numbered and bulleted paragraphs as lists, and tables.
func parseDOCX(ctx context.Context, data []byte) (*document.Document, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, kb.Detailf(ErrCorrupt, "not a valid ZIP archive: %v", err)
	}
	budget := &unzipBudget{left: maxUnpackedBytes}
	styles, err := docxStyles(zr, budget)
	if err != nil {
		return nil, err
	}
	body, err := openPart(zr, "word/document.xml", budget)
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, kb.Detailf(ErrCorrupt, "word/document.xml missing")
	}
	defer body.Close()
	doc := &document.Document{Method: "docx", Metadata: docxCoreProps(zr, budget)}
	if t, ok := doc.Metadata["title"].(string); ok {
		doc.Title = t
	}
	w := &docxWalker{styles: styles, doc: doc}
	if err := w.run(ctx, xml.NewDecoder(body)); err != nil {
		return nil, err
	}
	return doc, nil
}

// docxStyle is what a paragraph style means for structure.
type docxStyle struct {
	heading int // 1..6, 0 for body text
	title   bool
	list    bool
}

var headingNameRe = regexp.MustCompile(`(?i)^(?:heading|标题)\s*([1-9])$`)

func docxStyles(zr *zip.Reader, budget *unzipBudget) (map[string]docxStyle, error) {
	out := map[string]docxStyle{}
	rc, err := openPart(zr, "word/styles.xml", budget)
	if err != nil || rc == nil {
		return out, err
	}
	defer rc.Close()
	var parsed struct {
		Styles []struct {
			ID   string `xml:"styleId,attr"`
			Name struct {
				Val string `xml:"val,attr"`
			} `xml:"name"`
			BasedOn struct {
				Val string `xml:"val,attr"`
			} `xml:"basedOn"`
			Outline *struct {
				Val string `xml:"val,attr"`
			} `xml:"pPr>outlineLvl"`
			NumPr *struct{} `xml:"pPr>numPr"`
		} `xml:"style"`
	}
	if err := xml.NewDecoder(rc).Decode(&parsed); err != nil {
		if errors.Is(err, errZipBomb) {
			return nil, err
		}
		return out, nil // styles only refine structure; the text is still readable
	}
	based := map[string]string{}
	for _, s := range parsed.Styles {
		var st docxStyle
		name := strings.TrimSpace(s.Name.Val)
		switch m := headingNameRe.FindStringSubmatch(name); {
		case m != nil:
			st.heading, _ = strconv.Atoi(m[1])
		case strings.EqualFold(name, "title") || name == "标题":
			st.heading, st.title = 1, true
		case s.Outline != nil:
			if lvl, err := strconv.Atoi(s.Outline.Val); err == nil && lvl < 9 {
				st.heading = lvl + 1
			}
		}
		st.heading = min(st.heading, 6)
		st.list = s.NumPr != nil || strings.Contains(strings.ToLower(name), "list")
		out[s.ID] = st
		based[s.ID] = s.BasedOn.Val
	}
	// A style based on a heading style is a heading too (one level of inheritance is
	// what Word's "Heading 1 Char"-style derivatives use).
	for id, st := range out {
		if st.heading == 0 && !st.list {
			if parent, ok := out[based[id]]; ok && parent.heading > 0 {
				out[id] = parent
			}
		}
	}
	return out, nil
}

func docxCoreProps(zr *zip.Reader, budget *unzipBudget) map[string]any {
	meta := map[string]any{}
	rc, err := openPart(zr, "docProps/core.xml", budget)
	if err != nil || rc == nil {
		return meta
	}
	defer rc.Close()
	var core struct {
		Title   string `xml:"title"`
		Creator string `xml:"creator"`
		Subject string `xml:"subject"`
		Created string `xml:"created"`
	}
	if xml.NewDecoder(rc).Decode(&core) != nil {
		return meta
	}
	for k, v := range map[string]string{"title": core.Title, "author": core.Creator, "subject": core.Subject, "created": core.Created} {
		if v = strings.TrimSpace(v); v != "" {
			meta[k] = v
		}
	}
	return meta
}

// docxWalker streams document.xml. Tables may nest; an inner table's text lands in the
// outer cell.
type docxWalker struct {
	styles map[string]docxStyle
	doc    *document.Document

	inText    bool
	para      strings.Builder
	paraStyle string
	paraList  bool
	list      []string
	tables    []*docxTable
	cellText  strings.Builder // paragraphs of the current table cell
}

type docxTable struct {
	rows      [][]string
	header    bool
	cell      []string
	inRow     bool
	rowHeader bool
}

// maxDocxDepth bounds element nesting in word/document.xml: Word's own documents nest a
// few dozen deep (tables in tables included); a file nested deeper is made to exhaust the
// reader, and is refused naming that instead of reading as an empty document.
const maxDocxDepth = 256

func (w *docxWalker) run(ctx context.Context, dec *xml.Decoder) error {
	depth := 0
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errZipBomb) {
				return err
			}
			return kb.Detailf(ErrCorrupt, "word/document.xml: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDocxDepth {
				return kb.NewError(ErrCorrupt, fmt.Sprintf("file is corrupt: word/document.xml nests elements more than %d deep (<%s> at line %d); Word does not write such files",
					maxDocxDepth, t.Name.Local, lineOf(dec)), fmt.Sprintf("文件已损坏：word/document.xml 的元素嵌套超过 %d 层，不是 Word 生成的文件", maxDocxDepth))
			}
			w.start(t)
		case xml.EndElement:
			depth--
			w.end(t)
		case xml.CharData:
			if w.inText {
				w.para.Write(t)
			}
		}
	}
	w.flushList()
	return nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (w *docxWalker) start(e xml.StartElement) {
	switch e.Name.Local {
	case "p":
		w.para.Reset()
		w.paraStyle, w.paraList = "", false
	case "pStyle":
		w.paraStyle = attr(e, "val")
	case "numPr":
		w.paraList = true
	case "t":
		w.inText = true
	case "tab":
		w.para.WriteByte('\t')
	case "br", "cr":
		w.para.WriteByte('\n')
	case "tbl":
		w.flushList()
		w.tables = append(w.tables, &docxTable{})
	case "tr":
		if t := w.table(); t != nil {
			t.cell, t.inRow, t.rowHeader = nil, true, false
		}
	case "tblHeader":
		if t := w.table(); t != nil && t.inRow && len(t.rows) == 0 {
			t.rowHeader = true
		}
	}
}

func (w *docxWalker) table() *docxTable {
	if len(w.tables) == 0 {
		return nil
	}
	return w.tables[len(w.tables)-1]
}

func (w *docxWalker) end(e xml.EndElement) {
	switch e.Name.Local {
	case "t":
		w.inText = false
	case "p":
		w.endParagraph()
	case "tc":
		if t := w.table(); t != nil {
			t.cell = append(t.cell, strings.TrimSpace(w.cellText.String()))
			w.cellText.Reset()
		}
	case "tr":
		if t := w.table(); t != nil {
			t.rows = append(t.rows, t.cell)
			if len(t.rows) == 1 && t.rowHeader {
				t.header = true
			}
			t.inRow = false
		}
	case "tbl":
		w.endTable()
	}
}

func (w *docxWalker) endParagraph() {
	var lines []string
	for _, l := range strings.Split(w.para.String(), "\n") {
		if l = normalizeLine(l); l != "" {
			lines = append(lines, l)
		}
	}
	w.para.Reset()
	text := strings.Join(lines, "\n")
	if text == "" {
		return
	}
	if len(w.tables) > 0 {
		if w.cellText.Len() > 0 {
			w.cellText.WriteByte('\n')
		}
		w.cellText.WriteString(text)
		return
	}
	style := w.styles[w.paraStyle]
	level := style.heading
	if level == 0 && !w.paraList && !style.list {
		level = numberedHeadingLevel(text)
	}
	switch {
	case level > 0:
		w.flushList()
		w.doc.Blocks = append(w.doc.Blocks, document.Block{Kind: document.Heading, Level: level, Text: text})
		if style.title && w.doc.Title == "" {
			w.doc.Title = text
		}
	case w.paraList || style.list:
		w.list = append(w.list, strings.ReplaceAll(text, "\n", " "))
	default:
		w.flushList()
		w.doc.Blocks = append(w.doc.Blocks, document.Block{Kind: document.Paragraph, Text: text})
	}
}

func (w *docxWalker) flushList() {
	if len(w.list) > 0 {
		w.doc.Blocks = append(w.doc.Blocks, document.Block{Kind: document.List, Text: strings.Join(w.list, "\n")})
		w.list = nil
	}
}

func (w *docxWalker) endTable() {
	t := w.table()
	if t == nil {
		return
	}
	w.tables = w.tables[:len(w.tables)-1]
	var rows [][]string
	for _, r := range t.rows {
		empty := true
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "\n", " ")
			empty = empty && r[i] == ""
		}
		if !empty {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	if len(w.tables) > 0 { // nested: the inner table becomes text of the outer cell
		if w.cellText.Len() > 0 {
			w.cellText.WriteByte('\n')
		}
		w.cellText.WriteString(tableText(rows))
		return
	}
	w.doc.Blocks = append(w.doc.Blocks, document.Block{
		Kind: document.Table, Text: tableText(rows), Rows: rows, HasHeader: t.header || looksLikeHeader(rows),
	})
}

// looksLikeHeader guesses a header row when Word's "repeat as header row" flag is not set:
// every cell of the first row is filled and short, as column titles are.
func looksLikeHeader(rows [][]string) bool {
	if len(rows) < 2 || len(rows[0]) < 2 {
		return false
	}
	for _, c := range rows[0] {
		if c == "" || utf8.RuneCountInString(c) > 30 {
			return false
		}
	}
	return true
}

// lineOf is the decoder's current line, for messages.
func lineOf(dec *xml.Decoder) int {
	line, _ := dec.InputPos()
	return line
}
