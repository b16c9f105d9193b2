package chunk

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/zhiku/zhiku/ingest/document"
)

// Chunk kinds.
const (
	KindText  = "text"  // running text, lists, fault-code entries
	KindTable = "table" // rows of one table, header first
	KindCode  = "code"  // preformatted text only
)

// Options sets chunk sizes in runes (characters, so Chinese and English count alike). Zero
// fields take the defaults.
type Options struct {
	// TargetRunes is the size chunks are filled up to. Defaults to 500.
	TargetRunes int
	// MaxRunes is the hard ceiling: an indivisible piece (table row, fault-code entry) may
	// make a chunk exceed TargetRunes up to MaxRunes; beyond it the piece is split. Defaults
	// to 800 and is raised to TargetRunes when smaller.
	MaxRunes int
	// OverlapRunes is how much trailing text of a chunk, in whole sentences, is repeated at
	// the start of the next chunk of the same section. Defaults to 80; negative disables it.
	OverlapRunes int
}

// Defaults for Options.
const (
	DefaultTargetRunes  = 500
	DefaultMaxRunes     = 800
	DefaultOverlapRunes = 80
)

func (o Options) withDefaults() Options {
	if o.TargetRunes <= 0 {
		o.TargetRunes = DefaultTargetRunes
	}
	if o.MaxRunes <= 0 {
		o.MaxRunes = DefaultMaxRunes
	}
	if o.MaxRunes < o.TargetRunes {
		o.MaxRunes = o.TargetRunes
	}
	if o.OverlapRunes == 0 {
		o.OverlapRunes = DefaultOverlapRunes
	}
	if o.OverlapRunes < 0 {
		o.OverlapRunes = 0
	}
	return o
}

// Chunk is one piece of a document, ready to embed and index.
type Chunk struct {
	Ord int // position among the document's chunks, from 0
	// Text is the content shown to users and quoted in answers.
	Text string
	// IndexText is Text prefixed with the section path ("手册 > 第3章 故障排除 > E104"), so a
	// chunk is found by its headings too; embed and full-text index this.
	IndexText string
	// SectionPath is the document title followed by the enclosing headings.
	SectionPath []string
	Page        int   // first page the chunk's text comes from; 0 when unknown
	Pages       []int // every page it spans, ascending; nil when unknown
	Kind        string
	Hash        string // ContentHash(Text)
}

// ContentHash is the hex SHA-256 of text after Unicode NFKC normalisation and lower-casing,
// with whitespace kept only as one space between two ASCII letters or digits, so chunks
// differing only in spacing ("七天 内" / "七天内") or full/half-width forms match.
func ContentHash(text string) string {
	sum := sha256.Sum256([]byte(normalize(text)))
	return hex.EncodeToString(sum[:])
}

func normalize(text string) string {
	text = norm.NFKC.String(text)
	var b strings.Builder
	b.Grow(len(text))
	space := false
	var last rune
	for _, r := range text {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		r = unicode.ToLower(r)
		if space && isASCIIAlnum(last) && isASCIIAlnum(r) {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

// Split cuts doc into chunks. A nil document or one without text yields no chunks; chunks are
// never empty and identical texts (by ContentHash) are emitted once.
func Split(doc *document.Document, opts Options) []Chunk {
	if doc == nil {
		return nil
	}
	s := &splitter{opts: opts.withDefaults(), title: cleanLine(doc.Title), seen: map[string]bool{}}
	for _, b := range doc.Blocks {
		switch b.Kind {
		case document.Heading:
			s.flushSection()
			s.pushHeading(b)
		case document.Table:
			s.flushSection()
			s.addTable(b)
		case document.Code:
			s.addCode(b)
		default:
			s.addText(b)
		}
	}
	s.flushSection()
	return s.out
}

type heading struct {
	level int
	text  string
}

type splitter struct {
	opts     Options
	title    string
	headings []heading
	units    []unit // the current section's text, not yet packed
	out      []Chunk
	seen     map[string]bool
}

// unit is an indivisible piece of text: a sentence, a list item, a fault-code entry, a
// table row or a code line.
type unit struct {
	text  string
	sep   string // what joins it to the previous unit: "", " " or "\n"
	page  int
	runes int
	kind  string
	// overlap marks sentences that may be repeated at the start of the next chunk.
	overlap bool
	// codeHead marks a short fault-code line ("E104 电机过热") still waiting for the
	// explanation in the next block.
	codeHead bool
}

func (s *splitter) pushHeading(b document.Block) {
	text := cleanLine(b.Text)
	if text == "" {
		return
	}
	level := max(b.Level, 1)
	for len(s.headings) > 0 && s.headings[len(s.headings)-1].level >= level {
		s.headings = s.headings[:len(s.headings)-1]
	}
	s.headings = append(s.headings, heading{level: level, text: text})
}

func (s *splitter) sectionPath() []string {
	var path []string
	if s.title != "" {
		path = append(path, s.title)
	}
	for _, h := range s.headings {
		// The first heading often repeats the title; keep the path readable.
		if len(path) > 0 && h.text == path[len(path)-1] {
			continue
		}
		path = append(path, h.text)
	}
	return path
}

func isASCIIAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func cleanLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func runeCount(s string) int { return utf8.RuneCountInString(s) }

// emit turns units into a chunk unless its text is empty or already emitted.
func (s *splitter) emit(units []unit, kind string) {
	var b strings.Builder
	var pages []int
	for i, u := range units {
		if i > 0 {
			b.WriteString(u.sep)
		}
		b.WriteString(u.text)
		if u.page > 0 && !slices.Contains(pages, u.page) {
			pages = append(pages, u.page)
		}
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return
	}
	hash := ContentHash(text)
	if s.seen[hash] {
		return
	}
	s.seen[hash] = true
	slices.Sort(pages)
	path := s.sectionPath()
	index := text
	if len(path) > 0 {
		index = strings.Join(path, " > ") + "\n" + text
	}
	c := Chunk{
		Ord:         len(s.out),
		Text:        text,
		IndexText:   index,
		SectionPath: path,
		Pages:       pages,
		Kind:        kind,
		Hash:        hash,
	}
	if len(pages) > 0 {
		c.Page = units[0].page
		if c.Page == 0 {
			c.Page = pages[0]
		}
	}
	s.out = append(s.out, c)
}
