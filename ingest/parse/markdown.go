package parse

import (
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/zhiku/zhiku/ingest/document"
)

// markdownParser is goldmark with GFM (tables, strikethrough, task lists, autolinks).
var markdownParser = goldmark.New(goldmark.WithExtensions(extension.GFM))

// parseMarkdown maps the Markdown block structure onto blocks: headings with levels,
// paragraphs, lists (one item per line, nested items indented), code and GFM tables.
func parseMarkdown(data []byte) (*document.Document, error) {
	s, enc, err := decodeText(data, false)
	if err != nil {
		return nil, err
	}
	src := []byte(s)
	root := markdownParser.Parser().Parse(text.NewReader(src))
	w := &mdWalker{src: src}
	w.blocks(root)
	method := "markdown"
	if enc != "utf-8" {
		method += "/" + enc
	}
	return &document.Document{Blocks: w.out, Method: method, Metadata: map[string]any{}}, nil
}

type mdWalker struct {
	src []byte
	out []document.Block
}

func (w *mdWalker) blocks(parent ast.Node) {
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			if t := normalizeLine(w.inline(n)); t != "" {
				w.out = append(w.out, document.Block{Kind: document.Heading, Level: n.Level, Text: t})
			}
		case *ast.Paragraph, *ast.TextBlock:
			if t := w.paragraph(n); t != "" {
				w.out = append(w.out, document.Block{Kind: document.Paragraph, Text: t})
			}
		case *ast.List:
			var items []string
			w.listItems(n, 0, &items)
			if len(items) > 0 {
				w.out = append(w.out, document.Block{Kind: document.List, Text: strings.Join(items, "\n")})
			}
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			if t := strings.TrimRight(string(n.Lines().Value(w.src)), "\n"); strings.TrimSpace(t) != "" {
				w.out = append(w.out, document.Block{Kind: document.Code, Text: t})
			}
		case *east.Table:
			w.table(n)
		case *ast.Blockquote:
			w.blocks(n)
		case *ast.HTMLBlock:
			if t := normalizeLine(stripTags(string(n.Lines().Value(w.src)))); t != "" {
				w.out = append(w.out, document.Block{Kind: document.Paragraph, Text: t})
			}
		default:
			w.blocks(n)
		}
	}
}

// paragraph keeps the author's line breaks only where Markdown does (hard breaks); soft
// breaks join lines, without a space between CJK characters.
func (w *mdWalker) paragraph(n ast.Node) string {
	var lines []string
	for _, l := range strings.Split(w.inline(n), "\n") {
		if l = normalizeLine(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func (w *mdWalker) listItems(list *ast.List, depth int, items *[]string) {
	for item := list.FirstChild(); item != nil; item = item.NextSibling() {
		var parts []string
		for c := item.FirstChild(); c != nil; c = c.NextSibling() {
			if sub, ok := c.(*ast.List); ok {
				if t := strings.Join(parts, " "); t != "" {
					*items = append(*items, strings.Repeat("  ", depth)+t)
				}
				parts = nil
				w.listItems(sub, depth+1, items)
				continue
			}
			if t := normalizeLine(strings.ReplaceAll(w.inline(c), "\n", " ")); t != "" {
				parts = append(parts, t)
			}
		}
		if t := strings.Join(parts, " "); t != "" {
			*items = append(*items, strings.Repeat("  ", depth)+t)
		}
	}
}

func (w *mdWalker) table(t *east.Table) {
	var rows [][]string
	header := false
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, normalizeLine(w.inline(c)))
		}
		if _, ok := r.(*east.TableHeader); ok && len(rows) == 0 {
			header = true
		}
		rows = append(rows, cells)
	}
	if len(rows) > 0 {
		w.out = append(w.out, document.Block{Kind: document.Table, Text: tableText(rows), Rows: rows, HasHeader: header})
	}
}

// inline concatenates the text of inline nodes: soft line breaks become "\n" only when
// hard, otherwise a joining space that normalisation removes between CJK characters.
func (w *mdWalker) inline(n ast.Node) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Value(w.src))
			if c.HardLineBreak() {
				b.WriteByte('\n')
			} else if c.SoftLineBreak() {
				b.WriteRune(softBreak)
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.AutoLink:
			b.Write(c.URL(w.src))
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return joinSoftBreaks(b.String())
}

// softBreak marks a Markdown soft line break until joinSoftBreaks decides between a space
// (Latin) and nothing (between CJK characters).
const softBreak = '\uE000'

func joinSoftBreaks(s string) string {
	if !strings.ContainsRune(s, softBreak) {
		return s
	}
	parts := strings.Split(s, string(softBreak))
	return joinLines(parts)
}

// stripTags drops markup from raw HTML blocks embedded in Markdown.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
