package parse

import (
	"fmt"
	"strings"

	"github.com/zhiku/zhiku/ingest/document"
)

// Render prints a parsed document the way `zhiku parse FILE` shows it to operators: a
// "--- page N ---" marker when the page changes, "#"-prefixed headings, list items as
// "- item", table rows as "a | b | c", code verbatim, blocks separated by blank lines.
func Render(doc *document.Document) string {
	var b strings.Builder
	page := 0
	for _, blk := range doc.Blocks {
		if blk.Page > 0 && blk.Page != page {
			page = blk.Page
			fmt.Fprintf(&b, "--- page %d ---\n\n", page)
		}
		switch blk.Kind {
		case document.Heading:
			b.WriteString(strings.Repeat("#", max(1, min(blk.Level, 6))) + " " + blk.Text)
		case document.List:
			for i, item := range strings.Split(blk.Text, "\n") {
				if i > 0 {
					b.WriteByte('\n')
				}
				indent := len(item) - len(strings.TrimLeft(item, " "))
				b.WriteString(item[:indent] + "- " + item[indent:])
			}
		case document.Table:
			if len(blk.Rows) == 0 {
				b.WriteString(blk.Text)
				break
			}
			b.WriteString(tableText(blk.Rows))
		default:
			b.WriteString(blk.Text)
		}
		b.WriteString("\n\n")
	}
	return b.String()
}
