package parse

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// fontDecoder turns the bytes of a text-showing operator into text and the advance the
// glyphs take, which the layout step needs to tell word gaps from adjacent glyphs.
//
// ledongthuc/pdf decodes WinAnsi, MacRoman, Differences and Identity-H with a ToUnicode map;
// CJK fonts that name a predefined CMap (GBK-EUC-H, UniGB-UTF16-H, B5pc-H, ...) come back
// as raw bytes there, and it ignores ToUnicode for simple fonts. So ToUnicode maps and
// predefined CMaps are decoded here, and the library's encoders are used for the rest.
type fontDecoder struct {
	toUnicode *toUnicodeMap
	cmap      cmapDecoder  // predefined CMap, when the font names one
	simple    *[256]string // simple fonts: each byte decoded once by the library's encoder
	composite bool         // Type0: codes are multi-byte
	identity  bool         // Type0 with Identity-H or Identity-V: codes are exactly two bytes
	firstChar int
	widths    []float64 // simple fonts, in 1/1000 em
	missingW  float64
	dw        float64 // composite default width
	cidW      map[uint32]float64
	scale     float64 // Type3 FontMatrix scale relative to 1/1000 em; 1 otherwise
}

// decoded is what one text-showing string produced.
type decoded struct {
	text   string
	width  float64 // sum of glyph widths, 1/1000 em
	codes  int     // number of character codes (for Tc)
	spaces int     // single-byte code 32 occurrences (for Tw)
	cmap   bool    // decoded through a predefined CMap
}

func (f *fontDecoder) decode(raw string) decoded {
	var d decoded
	switch {
	case f.toUnicode != nil:
		d = f.decodeToUnicode(raw)
	case f.cmap.kind != cmapNone:
		d = f.cmap.decode(raw, f.dw)
		d.cmap = true
	case f.composite:
		// Identity-H without ToUnicode: glyph ids, not text. Keep the bytes so the page
		// is detected as garbled and repaired by pdftotext.
		d = decoded{text: pdfDocFallback(raw), codes: len(raw) / 2, width: float64(len(raw)/2) * f.dw}
	default:
		var b strings.Builder
		for i := 0; i < len(raw); i++ {
			b.WriteString(f.simple[raw[i]])
		}
		d = decoded{text: b.String(), codes: len(raw)}
		for i := 0; i < len(raw); i++ {
			d.width += f.simpleWidth(int(raw[i]))
			if raw[i] == ' ' {
				d.spaces++
			}
		}
	}
	d.width *= f.scale
	return d
}

func (f *fontDecoder) simpleWidth(code int) float64 {
	if i := code - f.firstChar; i >= 0 && i < len(f.widths) && f.widths[i] > 0 {
		return f.widths[i]
	}
	return f.missingW
}

func (f *fontDecoder) decodeToUnicode(raw string) decoded {
	var d decoded
	var b strings.Builder
	m := f.toUnicode
	for len(raw) > 0 {
		// A simple font's codes are single bytes and Identity-H/V codes two bytes, whatever
		// codespace the ToUnicode map declares: producers often write a two-byte codespace
		// (<0000> <FFFF>) into a simple font's map, and taking its codes two bytes at a time
		// decoded every other character only ("Cnoiae ttmn" for "Consolidated Statement").
		n := 1
		switch {
		case f.identity:
			n = min(2, len(raw))
		case f.composite:
			n = m.codeLen(raw, true)
		}
		code := raw[:n]
		raw = raw[n:]
		d.codes++
		if s, ok := m.lookupAny(code); ok {
			b.WriteString(s)
		} else if !f.composite && f.simple != nil {
			b.WriteString(f.simple[code[0]])
		} else {
			b.WriteRune(utf8.RuneError)
		}
		if f.composite {
			if w, ok := f.cidW[codeValue(code)]; ok {
				d.width += w
			} else {
				d.width += f.dw
			}
		} else {
			d.width += f.simpleWidth(int(code[0]))
			if code == " " {
				d.spaces++
			}
		}
	}
	d.text = b.String()
	return d
}

// pdfDocFallback renders undecodable codes as replacement characters, which the garbage
// detector counts.
func pdfDocFallback(raw string) string {
	return strings.Repeat(string(utf8.RuneError), max(1, len(raw)/2))
}

func codeValue(code string) uint32 {
	var v uint32
	for i := 0; i < len(code); i++ {
		v = v<<8 | uint32(code[i])
	}
	return v
}

// newFontDecoder reads a font dictionary once.
func newFontDecoder(font pdf.Value) *fontDecoder {
	f := &fontDecoder{missingW: 500, dw: 1000, scale: 1}
	subtype := font.Key("Subtype").Name()
	encoding := font.Key("Encoding")
	if tu := font.Key("ToUnicode"); tu.Kind() == pdf.Stream {
		f.toUnicode = parseToUnicode(tu, font)
	}
	if subtype == "Type0" {
		f.composite = true
		desc := font.Key("DescendantFonts").Index(0)
		if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dw = dw.Float64()
		}
		f.cidW = parseCIDWidths(desc.Key("W"))
		if encoding.Kind() == pdf.Name {
			f.cmap = predefinedCMap(encoding.Name())
			f.identity = encoding.Name() == "Identity-H" || encoding.Name() == "Identity-V"
		}
		return f
	}
	// The library's Differences encoder rescans the array for every byte; decoding each of
	// the 256 codes once here makes simple fonts cost a table lookup per byte.
	lib := pdf.Font{V: font}
	enc := lib.Encoder()
	f.simple = new([256]string)
	for c := range f.simple {
		f.simple[c] = enc.Decode(string([]byte{byte(c)}))
	}
	f.firstChar = int(font.Key("FirstChar").Int64())
	w := font.Key("Widths")
	for i := 0; i < w.Len() && i < 256; i++ {
		f.widths = append(f.widths, w.Index(i).Float64())
	}
	if mw := font.Key("FontDescriptor").Key("MissingWidth").Float64(); mw > 0 {
		f.missingW = mw
	}
	if subtype == "Type3" {
		if fm := font.Key("FontMatrix"); fm.Len() == 6 && fm.Index(0).Float64() > 0 {
			f.scale = fm.Index(0).Float64() * 1000
		}
	}
	return f
}

// parseCIDWidths reads a CIDFont /W array: "c [w1 w2 ...]" and "cfirst clast w" entries.
func parseCIDWidths(w pdf.Value) map[uint32]float64 {
	if w.Kind() != pdf.Array {
		return nil
	}
	out := make(map[uint32]float64)
	const maxEntries = 1 << 16 // a hostile range must not allocate without bound
	for i := 0; i < w.Len() && len(out) < maxEntries; {
		first := uint32(w.Index(i).Int64())
		next := w.Index(i + 1)
		if next.Kind() == pdf.Array {
			for j := 0; j < next.Len() && len(out) < maxEntries; j++ {
				out[first+uint32(j)] = next.Index(j).Float64()
			}
			i += 2
			continue
		}
		last := uint32(next.Int64())
		width := w.Index(i + 2).Float64()
		for c := first; c <= last && len(out) < maxEntries; c++ {
			out[c] = width
		}
		i += 3
	}
	return out
}

// toUnicodeMap is a parsed /ToUnicode CMap.
type toUnicodeMap struct {
	space  []codeRange
	single map[string]string
	ranges []unicodeRange
}

type codeRange struct{ lo, hi string }

type unicodeRange struct {
	lo, hi uint32
	n      int
	dst    string   // UTF-16BE of the first code; later codes increment its last unit
	dstArr []string // per-code UTF-16BE strings
}

// codeLen picks how many bytes the next code takes, from the codespace ranges.
func (m *toUnicodeMap) codeLen(raw string, composite bool) int {
	for n := 1; n <= 4 && n <= len(raw); n++ {
		for _, r := range m.space {
			if len(r.lo) != n {
				continue
			}
			ok := true
			for i := 0; i < n; i++ {
				if raw[i] < r.lo[i] || raw[i] > r.hi[i] {
					ok = false
					break
				}
			}
			if ok {
				return n
			}
		}
	}
	if composite && len(raw) >= 2 {
		return 2
	}
	return 1
}

// lookupAny looks code up as it is and, when the map was written with codes of the other
// width, as a one-byte code widened to two ("C" as "\x00C") or a two-byte code with a zero
// first byte narrowed to one.
func (m *toUnicodeMap) lookupAny(code string) (string, bool) {
	if s, ok := m.lookup(code); ok {
		return s, true
	}
	switch {
	case len(code) == 1:
		return m.lookup("\x00" + code)
	case len(code) == 2 && code[0] == 0:
		return m.lookup(code[1:])
	}
	return "", false
}

func (m *toUnicodeMap) lookup(code string) (string, bool) {
	if s, ok := m.single[code]; ok {
		return s, true
	}
	v := codeValue(code)
	for _, r := range m.ranges {
		if r.n != len(code) || v < r.lo || v > r.hi {
			continue
		}
		off := v - r.lo
		if r.dstArr != nil {
			if int(off) < len(r.dstArr) {
				return utf16BE(r.dstArr[off]), true
			}
			return "", false
		}
		units := utf16Units(r.dst)
		if len(units) == 0 {
			return "", false
		}
		units[len(units)-1] += uint16(off)
		return string(utf16.Decode(units)), true
	}
	return "", false
}

func utf16Units(s string) []uint16 {
	u := make([]uint16, len(s)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16([]byte(s[2*i : 2*i+2]))
	}
	return u
}

func utf16BE(s string) string { return string(utf16.Decode(utf16Units(s))) }

// parseToUnicode interprets a ToUnicode CMap stream. scratch is any dictionary value the
// CMap's "findresource ... begin" boilerplate can be given; the interpreter needs a dict.
func parseToUnicode(strm, scratch pdf.Value) (m *toUnicodeMap) {
	m = &toUnicodeMap{single: make(map[string]string)}
	defer func() {
		if recover() != nil {
			m = nil // a broken map falls back to the font's encoding
		}
	}()
	if _, err := checkStreamSize(strm, 8<<20); err != nil {
		return nil
	}
	n := 0
	pop := func(stk *pdf.Stack) pdf.Value { return stk.Pop() }
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		switch op {
		case "findresource":
			pop(stk)
			pop(stk)
			stk.Push(scratch)
		case "defineresource":
			pop(stk)
			v := pop(stk)
			pop(stk)
			stk.Push(v)
		case "usecmap":
			pop(stk)
		case "begincodespacerange", "beginbfchar", "beginbfrange":
			n = int(pop(stk).Int64())
		case "endcodespacerange":
			for i := 0; i < n && stk.Len() >= 2; i++ {
				hi, lo := pop(stk).RawString(), pop(stk).RawString()
				if len(lo) > 0 && len(lo) == len(hi) && len(lo) <= 4 {
					m.space = append(m.space, codeRange{lo, hi})
				}
			}
			n = 0
		case "endbfchar":
			for i := 0; i < n && stk.Len() >= 2; i++ {
				dst, src := pop(stk), pop(stk).RawString()
				if dst.Kind() == pdf.String {
					m.single[src] = utf16BE(dst.RawString())
				} else if dst.Kind() == pdf.Name {
					m.single[src] = dst.Name()
				}
			}
			n = 0
		case "endbfrange":
			for i := 0; i < n && stk.Len() >= 3; i++ {
				dst, hi, lo := pop(stk), pop(stk).RawString(), pop(stk).RawString()
				if len(lo) == 0 || len(lo) != len(hi) || len(lo) > 4 {
					continue
				}
				r := unicodeRange{lo: codeValue(lo), hi: codeValue(hi), n: len(lo)}
				switch dst.Kind() {
				case pdf.String:
					r.dst = dst.RawString()
				case pdf.Array:
					for j := 0; j < dst.Len(); j++ {
						r.dstArr = append(r.dstArr, dst.Index(j).RawString())
					}
				default:
					continue
				}
				if r.hi >= r.lo {
					m.ranges = append(m.ranges, r)
				}
			}
			n = 0
		}
	})
	if len(m.single) == 0 && len(m.ranges) == 0 {
		return nil
	}
	return m
}

// cmapKind says how a predefined CMap's character codes map to Unicode.
type cmapKind int

const (
	cmapNone   cmapKind = iota
	cmapUTF16           // Uni*-UCS2-*, Uni*-UTF16-*: big-endian UTF-16 code units
	cmapUTF32           // Uni*-UTF32-*
	cmapUTF8            // Uni*-UTF8-*
	cmapLegacy          // a national multi-byte charset (GBK, Big5, Shift-JIS, EUC-KR...)
)

type cmapDecoder struct {
	kind cmapKind
	enc  encoding.Encoding
	name string
}

// predefinedCMap recognises the Adobe predefined CMaps used by CJK PDFs that embed no
// ToUnicode map. Their codes are text in a known charset, so no CMap files are needed.
func predefinedCMap(name string) cmapDecoder {
	d := cmapDecoder{name: name}
	switch {
	case strings.HasPrefix(name, "Identity"):
	case strings.Contains(name, "UCS2"), strings.Contains(name, "UTF16"):
		d.kind = cmapUTF16
	case strings.Contains(name, "UTF32"):
		d.kind = cmapUTF32
	case strings.Contains(name, "UTF8"):
		d.kind = cmapUTF8
	case strings.HasPrefix(name, "GB"): // GB-EUC, GBpc-EUC, GBK-EUC, GBKp-EUC, GBK2K
		d.kind, d.enc = cmapLegacy, simplifiedchinese.GB18030
	case strings.Contains(name, "B5"), strings.HasPrefix(name, "CNS"): // B5pc, ETen-B5, HKscs-B5
		d.kind, d.enc = cmapLegacy, traditionalchinese.Big5
	case strings.Contains(name, "RKSJ"):
		d.kind, d.enc = cmapLegacy, japanese.ShiftJIS
	case strings.HasPrefix(name, "EUC-"):
		d.kind, d.enc = cmapLegacy, japanese.EUCJP
	case strings.HasPrefix(name, "KSC"):
		d.kind, d.enc = cmapLegacy, korean.EUCKR
	}
	return d
}

func (c cmapDecoder) decode(raw string, dw float64) decoded {
	var text string
	switch c.kind {
	case cmapUTF16:
		text = utf16BE(raw[:len(raw)&^1])
	case cmapUTF32:
		var b strings.Builder
		for i := 0; i+4 <= len(raw); i += 4 {
			b.WriteRune(rune(binary.BigEndian.Uint32([]byte(raw[i : i+4]))))
		}
		text = b.String()
	case cmapUTF8:
		text = strings.ToValidUTF8(raw, string(utf8.RuneError))
	case cmapLegacy:
		out, err := c.enc.NewDecoder().String(raw)
		if err != nil {
			out = strings.Repeat(string(utf8.RuneError), max(1, len(raw)/2))
		}
		text = out
	default:
		panic(fmt.Sprintf("cmapDecoder.decode: kind %d", c.kind))
	}
	d := decoded{text: text}
	for _, r := range text {
		d.codes++
		if r < 0x80 {
			d.width += 500 // proportional Latin in CJK fonts is about half an em
			if r == ' ' && c.kind == cmapLegacy {
				d.spaces++
			}
		} else {
			d.width += dw
		}
	}
	return d
}
