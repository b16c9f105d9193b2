// Package pdfgen writes small, valid PDF files for the parser's tests and benchmarks:
// Latin text in Helvetica, Chinese text in a Type0 font that names a predefined CMap
// (UniGB-UCS2-H or GBK-EUC-H) with no ToUnicode map, image-only pages and form fields.
// It is not a general PDF writer.
package pdfgen

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Builder collects numbered objects and writes them with a correct xref table.
type Builder struct {
	objs []string // object n is objs[n-1]
}

// Reserve allocates an object number to fill in later with Set (for forward references).
func (b *Builder) Reserve() int {
	b.objs = append(b.objs, "null")
	return len(b.objs)
}

// Set replaces object n's body.
func (b *Builder) Set(n int, body string) { b.objs[n-1] = body }

// Add appends an object and returns its number.
func (b *Builder) Add(body string) int {
	b.objs = append(b.objs, body)
	return len(b.objs)
}

// Stream adds a stream object; dict holds extra entries such as "/Filter /FlateDecode".
func (b *Builder) Stream(dict string, data []byte) int {
	return b.Add(fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data))
}

// FlateStream adds a zlib-compressed stream.
func (b *Builder) FlateStream(dict string, data []byte) int {
	return b.Stream("/Filter /FlateDecode "+dict, Deflate(data))
}

// Deflate compresses data the way FlateDecode expects.
func Deflate(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

// Bytes writes the file. info is the Info dictionary's object number, 0 for none.
func (b *Builder) Bytes(root, info int) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	offsets := make([]int, len(b.objs))
	for i, body := range b.objs {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R", len(b.objs)+1, root)
	if info > 0 {
		fmt.Fprintf(&out, " /Info %d 0 R", info)
	}
	fmt.Fprintf(&out, " /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return out.Bytes()
}

// Line is one line of text. Lines without X/Y flow down the page from the top; an empty
// Text adds vertical space (a paragraph break).
type Line struct {
	Text string
	Size float64 // points; 11 when zero
	X, Y float64
}

// Page is one page: text lines, or a full-page image when Image is set.
type Page struct {
	Lines []Line
	Image bool
}

// Options selects how the document is encoded.
type Options struct {
	// CJKEncoding is the predefined CMap of the Chinese font: "UniGB-UCS2-H" (default),
	// "UniGB-UTF16-H" or "GBK-EUC-H".
	CJKEncoding string
	// Compress deflates content streams.
	Compress bool
	// Info entries (Title, Author...) in the document information dictionary.
	Info map[string]string
	// Fields are filled AcroForm text fields placed on page 1.
	Fields map[string]string
}

// Document builds a PDF with the given pages.
func Document(pages []Page, opts Options) []byte {
	if opts.CJKEncoding == "" {
		opts.CJKEncoding = "UniGB-UCS2-H"
	}
	var b Builder
	catalog := b.Reserve()
	pagesObj := b.Reserve()
	latin := b.Add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	desc := b.Add("<< /Type /FontDescriptor /FontName /STSong-Light /Flags 4 /FontBBox [-25 -254 1000 880] " +
		"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>")
	cid := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "+
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor %d 0 R /DW 1000 >>", desc))
	cjk := b.Add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /%s /DescendantFonts [%d 0 R] >>",
		opts.CJKEncoding, cid))
	image := b.Stream("/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8", []byte{0, 255, 255, 0})
	resources := fmt.Sprintf("<< /Font << /F1 %d 0 R /F2 %d 0 R >> /XObject << /Im1 %d 0 R >> >>", latin, cjk, image)

	var kids []string
	var fieldRefs []string
	for i, p := range pages {
		content := pageContent(p, opts.CJKEncoding)
		var contents int
		if opts.Compress {
			contents = b.FlateStream("", content)
		} else {
			contents = b.Stream("", content)
		}
		page := b.Reserve()
		annots := ""
		if i == 0 && len(opts.Fields) > 0 {
			names := make([]string, 0, len(opts.Fields))
			for k := range opts.Fields {
				names = append(names, k)
			}
			sort.Strings(names)
			var refs []string
			for j, name := range names {
				f := b.Add(fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Tx /T %s /V %s /Rect [72 %d 300 %d] /P %d 0 R >>",
					TextString(name), TextString(opts.Fields[name]), 100+j*30, 120+j*30, page))
				refs = append(refs, fmt.Sprintf("%d 0 R", f))
			}
			fieldRefs = refs
			annots = " /Annots [" + strings.Join(refs, " ") + "]"
		}
		b.Set(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R%s >>", pagesObj, contents, annots))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	b.Set(pagesObj, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /Resources %s >>", strings.Join(kids, " "), len(kids), resources))
	acro := ""
	if len(fieldRefs) > 0 {
		acro = fmt.Sprintf(" /AcroForm << /Fields [%s] >>", strings.Join(fieldRefs, " "))
	}
	b.Set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R%s >>", pagesObj, acro))
	info := 0
	if len(opts.Info) > 0 {
		keys := make([]string, 0, len(opts.Info))
		for k := range opts.Info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var sb strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&sb, " /%s %s", k, TextString(opts.Info[k]))
		}
		info = b.Add("<<" + sb.String() + " >>")
	}
	return b.Bytes(catalog, info)
}

func pageContent(p Page, cjkEncoding string) []byte {
	var c bytes.Buffer
	if p.Image {
		c.WriteString("q 500 0 0 700 50 70 cm /Im1 Do Q\n")
	}
	y := 800.0
	for _, l := range p.Lines {
		size := l.Size
		if size == 0 {
			size = 11
		}
		if l.Text == "" {
			y -= size * 1.5
			continue
		}
		x, ly := l.X, l.Y
		if x == 0 {
			x = 72
		}
		if ly == 0 {
			y -= size * 1.5
			ly = y
		}
		if isASCII(l.Text) {
			fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", size, x, ly, escape(l.Text))
		} else {
			fmt.Fprintf(&c, "BT /F2 %g Tf %g %g Td <%s> Tj ET\n", size, x, ly, cjkHex(l.Text, cjkEncoding))
		}
	}
	return c.Bytes()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
}

// cjkHex encodes text for the Chinese font: UTF-16BE code units for the Uni* CMaps, GBK
// bytes for GBK-EUC-H.
func cjkHex(s, encoding string) string {
	if strings.HasPrefix(encoding, "GB") {
		b, err := simplifiedchinese.GBK.NewEncoder().String(s)
		if err != nil {
			panic(fmt.Sprintf("pdfgen: %q is not GBK: %v", s, err))
		}
		return strings.ToUpper(hex.EncodeToString([]byte(b)))
	}
	return UTF16Hex(s)
}

// UTF16Hex is s as big-endian UTF-16 in hex, without a byte-order mark.
func UTF16Hex(s string) string {
	var buf bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&buf, "%04X", u)
	}
	return buf.String()
}

// TextString encodes s as a PDF text string: literal when ASCII, UTF-16BE with BOM else.
func TextString(s string) string {
	if isASCII(s) {
		return "(" + escape(s) + ")"
	}
	return "<FEFF" + UTF16Hex(s) + ">"
}

// JBIG2Bomb returns an embedded JBIG2 stream (the /JBIG2Decode filter's data) of a few
// dozen bytes that decodes to a width × height bitmap: a page information segment and an
// immediate generic region with typical prediction, whose arithmetic-coded data runs out
// at once (decoders then read 1-bits to the end). 100000 × 100000 is 1.25 GB of pixels.
func JBIG2Bomb(width, height uint32) []byte {
	be := func(b []byte, v uint32) []byte { return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
	segment := func(num uint32, typ byte, data []byte) []byte {
		b := be(nil, num)
		b = append(b, typ, 0x00, 1) // no referred-to segments, page 1
		b = be(b, uint32(len(data)))
		return append(b, data...)
	}
	region := func(b []byte) []byte { return be(be(be(be(b, width), height), 0), 0) }
	page := append(region(nil), 0, 0, 0) // x/y resolution 0, flags, no striping
	generic := append(region(nil), 0, 0x08, 3, 0xFF, 0xFD, 0xFF, 2, 0xFE, 0xFE, 0xFE, 0x00, 0x00, 0xFF, 0xAC)
	return append(segment(0, 48, page), segment(1, 38, generic)...)
}
