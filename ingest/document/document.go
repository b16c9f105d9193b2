// Package document is the intermediate form every document parser produces and the
// chunker consumes: a title, structural blocks in reading order with their page, and how
// the text was obtained. Keeping it separate lets parsers and chunker evolve independently.
package document

import "github.com/zhiku/zhiku/internal/kb"

// BlockKind says what a block is, so the chunker knows where it may cut.
type BlockKind string

// Block kinds.
const (
	Heading   BlockKind = "heading"   // a section title; Level gives its depth (1 = top)
	Paragraph BlockKind = "paragraph" // running text
	List      BlockKind = "list"      // list items, one per line in Text
	Table     BlockKind = "table"     // Rows holds the cells; row 0 is the header when HasHeader
	Code      BlockKind = "code"      // preformatted text, kept verbatim
)

// Block is one structural unit of a parsed document.
type Block struct {
	Kind  BlockKind
	Level int    // heading level, 1..6; 0 for other kinds
	Text  string // the block's text; for tables, rows joined by "\n" and cells by " | "
	// Rows holds a table's cells. HasHeader says whether Rows[0] is a header row, which the
	// chunker repeats in every piece of a split table.
	Rows      [][]string
	HasHeader bool
	Page      int // 1-based page number for paginated sources (PDF); 0 when unknown
}

// Document is a parsed file, ready for chunking.
type Document struct {
	Title  string  // from metadata, the first heading, or the file name
	Blocks []Block // in reading order
	Pages  int     // page count for paginated sources; 0 otherwise
	// Method says how the text was obtained, e.g. "pdf", "pdf+cmap", "pdftotext", "docx",
	// "markdown", "html", "text/gb18030"; it is shown in the document's status.
	Method   string
	Warnings []kb.Text      // non-fatal problems an operator should see (e.g. a garbled page)
	Metadata map[string]any // author, subject, created date, form fields... when known
}
