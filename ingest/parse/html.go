package parse

import (
	"bytes"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/kb"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// htmlNoise are elements that never hold a page's main text.
const htmlNoise = "script, style, nav, header, footer, aside, form, noscript, template, iframe, svg, canvas, button, select, [hidden], [aria-hidden=true]"

// parseHTML extracts the main text of a page: <main> or the largest <article> when present,
// otherwise <body> without navigation, scripts and other chrome.
func parseHTML(data []byte) (*document.Document, error) {
	text, enc, err := decodeHTML(data)
	if err != nil {
		return nil, err
	}
	dom, err := goquery.NewDocumentFromReader(strings.NewReader(text))
	if err != nil {
		return nil, kb.Detailf(ErrCorrupt, "HTML: %v", err)
	}
	doc := &document.Document{Method: "html", Metadata: map[string]any{}}
	if enc != "utf-8" {
		doc.Method = "html/" + enc
	}
	doc.Title = normalizeLine(dom.Find("title").First().Text())
	if d, ok := dom.Find(`meta[name="description"]`).Attr("content"); ok && strings.TrimSpace(d) != "" {
		doc.Metadata["description"] = normalizeLine(d)
	}
	dom.Find(htmlNoise).Remove()
	root := dom.Find("main").First()
	if root.Length() == 0 {
		best := 0
		dom.Find("article").Each(func(_ int, s *goquery.Selection) {
			if n := len(strings.TrimSpace(s.Text())); n > best {
				best, root = n, s
			}
		})
	}
	if root.Length() == 0 {
		root = dom.Find("body")
	}
	hw := &htmlWalker{}
	for _, n := range root.Nodes {
		hw.children(n)
	}
	hw.flush()
	doc.Blocks = hw.blocks
	return doc, nil
}

// decodeHTML converts the page to UTF-8 using, in order: a BOM, <meta charset> or
// http-equiv Content-Type, then our own UTF-8/GB18030/Big5 detection.
func decodeHTML(data []byte) (string, string, error) {
	enc, name, certain := charset.DetermineEncoding(data, "")
	declared := certain || name != "windows-1252" && name != "utf-8"
	if !declared || name == "utf-8" {
		if s, encName, err := decodeText(data, false); err == nil {
			return s, encName, nil
		}
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", "", kb.Detailf(ErrCorrupt, "HTML declared as %s but is not: %v", name, err)
	}
	return string(bytes.TrimPrefix(out, []byte("\ufeff"))), name, nil
}

// htmlWalker turns the DOM into blocks. Inline content accumulates until a block-level
// element starts, so text loose in a <div> still becomes a paragraph.
type htmlWalker struct {
	blocks []document.Block
	inline strings.Builder
}

var htmlBlockTags = map[string]bool{
	"address": true, "article": true, "blockquote": true, "dd": true, "details": true, "dialog": true,
	"div": true, "dl": true, "dt": true, "fieldset": true, "figcaption": true, "figure": true,
	"hr": true, "li": true, "main": true, "section": true, "summary": true, "body": true, "center": true,
}

func (w *htmlWalker) flush() {
	var lines []string
	for _, l := range strings.Split(w.inline.String(), "\n") {
		if l = normalizeLine(l); l != "" {
			lines = append(lines, l)
		}
	}
	w.inline.Reset()
	if len(lines) > 0 {
		w.blocks = append(w.blocks, document.Block{Kind: document.Paragraph, Text: strings.Join(lines, "\n")})
	}
}

func (w *htmlWalker) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
}

func (w *htmlWalker) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.inline.WriteString(collapseSpace(n.Data))
		return
	case html.ElementNode:
	default:
		return
	}
	switch tag := n.Data; tag {
	case "h1", "h2", "h3", "h4", "h5", "h6":
		w.flush()
		if t := normalizeLine(inlineText(n)); t != "" {
			w.blocks = append(w.blocks, document.Block{Kind: document.Heading, Level: int(tag[1] - '0'), Text: t})
		}
	case "p":
		w.flush()
		w.children(n)
		w.flush()
	case "br":
		w.inline.WriteByte('\n')
	case "ul", "ol":
		w.flush()
		var items []string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "li" {
				if t := normalizeLine(strings.ReplaceAll(inlineText(c), "\n", " ")); t != "" {
					items = append(items, t)
				}
			}
		}
		if len(items) > 0 {
			w.blocks = append(w.blocks, document.Block{Kind: document.List, Text: strings.Join(items, "\n")})
		}
	case "pre":
		w.flush()
		if t := strings.Trim(textContent(n), "\n"); strings.TrimSpace(t) != "" {
			w.blocks = append(w.blocks, document.Block{Kind: document.Code, Text: t})
		}
	case "table":
		w.flush()
		w.table(n)
	default:
		if htmlBlockTags[tag] {
			w.flush()
			w.children(n)
			w.flush()
			return
		}
		w.children(n)
	}
}

func (w *htmlWalker) table(n *html.Node) {
	var rows [][]string
	header := false
	var visit func(*html.Node, bool)
	visit = func(n *html.Node, inHead bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || c.Data == "table" {
				continue // nested tables are rare and flattened away
			}
			switch c.Data {
			case "thead":
				visit(c, true)
			case "tbody", "tfoot":
				visit(c, false)
			case "tr":
				var cells []string
				allTH := true
				for td := c.FirstChild; td != nil; td = td.NextSibling {
					if td.Type == html.ElementNode && (td.Data == "td" || td.Data == "th") {
						cells = append(cells, normalizeLine(strings.ReplaceAll(inlineText(td), "\n", " ")))
						allTH = allTH && td.Data == "th"
					}
				}
				if len(cells) == 0 {
					continue
				}
				if len(rows) == 0 && (inHead || allTH) {
					header = true
				}
				rows = append(rows, cells)
			}
		}
	}
	visit(n, false)
	if len(rows) == 0 {
		return
	}
	w.blocks = append(w.blocks, document.Block{Kind: document.Table, Text: tableText(rows), Rows: rows, HasHeader: header})
}

// inlineText is an element's text with <br> as newlines and whitespace collapsed.
func inlineText(n *html.Node) string {
	var b strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch {
			case c.Type == html.TextNode:
				b.WriteString(collapseSpace(c.Data))
			case c.Type == html.ElementNode && c.Data == "br":
				b.WriteByte('\n')
			case c.Type == html.ElementNode:
				if htmlBlockTags[c.Data] || c.Data == "p" {
					b.WriteByte(' ')
				}
				visit(c)
			}
		}
	}
	visit(n)
	return b.String()
}

// textContent is an element's text verbatim, for <pre>.
func textContent(n *html.Node) string {
	var b strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			visit(c)
		}
	}
	visit(n)
	return b.String()
}

// collapseSpace folds whitespace runs to one space, keeping a leading or trailing one so
// "<b>a</b> b" stays two words.
func collapseSpace(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		if s == "" {
			return ""
		}
		return " "
	}
	out := strings.Join(f, " ")
	if s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r' {
		out = " " + out
	}
	if c := s[len(s)-1]; c == ' ' || c == '\n' || c == '\t' || c == '\r' {
		out += " "
	}
	return out
}
