package parse

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/ledongthuc/pdf"
	"github.com/zhiku/zhiku/internal/kb"
)

// maxPageContent caps the decompressed content of one page (all its streams and forms), so
// a flate bomb fails fast instead of filling memory. Real pages stay far below 64 MB.
const maxPageContent = 64 << 20

// checkStreamSize decompresses strm (or an array of streams) into nowhere and fails when it
// holds more than limit bytes. The library offers no cap of its own, and the lexer it
// feeds keeps whole tokens in memory.
func checkStreamSize(strm pdf.Value, limit int64) (int64, error) {
	if strm.Kind() != pdf.Array {
		return streamSize(strm, limit)
	}
	var total int64
	for i := 0; i < strm.Len(); i++ {
		n, err := streamSize(strm.Index(i), limit-total)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func streamSize(strm pdf.Value, limit int64) (int64, error) {
	if strm.Kind() != pdf.Stream {
		return 0, nil
	}
	rc := strm.Reader()
	defer rc.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(rc, limit+1))
	if n > limit {
		return n, kb.NewError(ErrCorrupt, fmt.Sprintf("file is corrupt: decompressed stream exceeds %d MB (decompression bomb?)", limit>>20), fmt.Sprintf("文件已损坏：解压后数据超过 %d MB（疑似解压炸弹）", limit>>20))
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return n, fmt.Errorf("broken stream: %v", err) // page-level: pdftotext may still read it
	}
	return n, nil
}

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (apply m first, then n), matching PDF's row-vector convention.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

func matrixOf(v pdf.Value) (matrix, bool) {
	if v.Len() != 6 {
		return identity, false
	}
	var m matrix
	for i := range m {
		m[i] = v.Index(i).Float64()
	}
	return m, true
}

// textRun is one decoded string placed on the page, in device space (points, y up).
type textRun struct {
	text       string
	x, y, endX float64
	size       float64
}

type graphicsState struct {
	ctm, tm, tlm      matrix
	font              *fontDecoder
	tfs, th           float64
	tc, tw, tl, trise float64
}

// pageScan collects what the content walker found on one page.
type pageScan struct {
	runs     []textRun
	images   int
	usedCMap bool
	bytes    int64 // decompressed content read so far, against maxPageContent
	// bomb describes an inline image no text extractor should be given the page with
	// (poppler decodes inline image data to skip it); "" when there is none.
	bomb string
}

// contentWalker interprets content streams with the operators that place text, plus Do for
// form XObjects (which often carry headers, footers and stamped text) and images (counted
// to tell scanned pages).
type contentWalker struct {
	fonts map[string]*fontDecoder // document-wide cache, see fontKey
	scan  *pageScan
}

const maxFormDepth = 8

func (w *contentWalker) walk(strm, resources pdf.Value, ctm matrix, depth int) {
	n, err := checkStreamSize(strm, maxPageContent-w.scan.bytes)
	w.scan.bytes += n
	if err != nil {
		panic(err)
	}
	g := graphicsState{ctm: ctm, tm: identity, tlm: identity, th: 1}
	var stack []graphicsState
	// Resolving a font re-reads (and may decompress) objects, so each resource name is
	// looked up once per stream.
	local := map[string]*fontDecoder{}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		num := func(i int) float64 {
			if i < len(args) {
				return args[i].Float64()
			}
			return 0
		}
		switch op {
		case "q":
			if len(stack) < 256 {
				stack = append(stack, g)
			}
		case "Q":
			if n := len(stack); n > 0 {
				g, stack = stack[n-1], stack[:n-1]
			}
		case "cm":
			if len(args) == 6 {
				g.ctm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}.mul(g.ctm)
			}
		case "BT":
			g.tm, g.tlm = identity, identity
		case "Tf":
			if len(args) == 2 {
				name := args[0].Name()
				f, ok := local[name]
				if !ok {
					f = w.font(resources, name)
					local[name] = f
				}
				g.font = f
				g.tfs = num(1)
			}
		case "Tc":
			g.tc = num(0)
		case "Tw":
			g.tw = num(0)
		case "Tz":
			g.th = num(0) / 100
		case "TL":
			g.tl = num(0)
		case "Ts":
			g.trise = num(0)
		case "TD":
			g.tl = -num(1)
			g.tlm = translate(num(0), num(1)).mul(g.tlm)
			g.tm = g.tlm
		case "Td":
			g.tlm = translate(num(0), num(1)).mul(g.tlm)
			g.tm = g.tlm
		case "Tm":
			if len(args) == 6 {
				g.tlm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}
				g.tm = g.tlm
			}
		case "T*":
			g.tlm = translate(0, -g.tl).mul(g.tlm)
			g.tm = g.tlm
		case "Tj":
			if len(args) == 1 {
				w.show(&g, args[0].RawString())
			}
		case "'":
			if len(args) == 1 {
				g.tlm = translate(0, -g.tl).mul(g.tlm)
				g.tm = g.tlm
				w.show(&g, args[0].RawString())
			}
		case "\"":
			if len(args) == 3 {
				g.tw, g.tc = num(0), num(1)
				g.tlm = translate(0, -g.tl).mul(g.tlm)
				g.tm = g.tlm
				w.show(&g, args[2].RawString())
			}
		case "TJ":
			if len(args) != 1 {
				return
			}
			a := args[0]
			for i := 0; i < a.Len(); i++ {
				x := a.Index(i)
				if x.Kind() == pdf.String {
					w.show(&g, x.RawString())
				} else {
					g.tm = translate(-x.Float64()/1000*g.tfs*g.th, 0).mul(g.tm)
				}
			}
		case "BI":
			w.scan.images++
		case "ID":
			if w.scan.bomb == "" {
				w.scan.bomb = inlineImageBomb(args)
			}
		case "Do":
			if len(args) == 1 {
				w.doXObject(resources, args[0].Name(), g.ctm, depth)
			}
		}
	})
}

// maxInlinePixels bounds an inline image's size. Inline images are meant for small
// pictures (PDF 32000 suggests at most 4 KB of data); one of more pixels than this is a
// decompression bomb for any reader that decodes it to find where its data ends.
const maxInlinePixels = 1 << 24

// inlineImageBomb checks an inline image's dictionary (the operands of ID: key, value, ...)
// and describes it when it is too large to let any tool decode; "" otherwise. Zhiku's own
// walker never decodes it: the data is only lexed, within the page's content limit.
func inlineImageBomb(args []pdf.Value) string {
	var w, h int64
	filter := ""
	for i := 0; i+1 < len(args); i += 2 {
		v := args[i+1]
		switch args[i].Name() {
		case "W", "Width":
			w = v.Int64()
		case "H", "Height":
			h = v.Int64()
		case "F", "Filter":
			if v.Kind() == pdf.Array && v.Len() > 0 {
				v = v.Index(v.Len() - 1)
			}
			filter = v.Name()
		}
	}
	if w <= 0 || h <= 0 || w <= maxInlinePixels/h {
		return ""
	}
	if filter == "" {
		filter = "no filter"
	}
	return fmt.Sprintf("an inline image of %d × %d pixels (%s), a decompression bomb", w, h, filter)
}

func (w *contentWalker) doXObject(resources pdf.Value, name string, ctm matrix, depth int) {
	x := resources.Key("XObject").Key(name)
	switch x.Key("Subtype").Name() {
	case "Image":
		w.scan.images++
	case "Form":
		if depth >= maxFormDepth {
			return
		}
		m, _ := matrixOf(x.Key("Matrix"))
		res := x.Key("Resources")
		if res.Kind() != pdf.Dict {
			res = resources
		}
		w.walk(x, res, m.mul(ctm), depth+1)
	}
}

func (w *contentWalker) show(g *graphicsState, raw string) {
	if g.font == nil || raw == "" {
		return
	}
	d := g.font.decode(raw)
	if d.cmap {
		w.scan.usedCMap = true
	}
	trm := matrix{g.tfs * g.th, 0, 0, g.tfs, 0, g.trise}.mul(g.tm).mul(g.ctm)
	tmc := g.tm.mul(g.ctm)
	size := math.Abs(g.tfs) * math.Hypot(tmc[2], tmc[3])
	tx := (d.width/1000*g.tfs + g.tc*float64(d.codes) + g.tw*float64(d.spaces)) * g.th
	g.tm = translate(tx, 0).mul(g.tm)
	end := matrix{g.tfs * g.th, 0, 0, g.tfs, 0, g.trise}.mul(g.tm).mul(g.ctm)
	if d.text == "" {
		return
	}
	w.scan.runs = append(w.scan.runs, textRun{text: d.text, x: trm[4], y: trm[5], endX: end[4], size: size})
}

// font returns the decoder for a font resource, cached across pages by a key built from
// the font dictionary's identifying entries (the library does not expose object numbers).
func (w *contentWalker) font(resources pdf.Value, name string) *fontDecoder {
	fv := resources.Key("Font").Key(name)
	if fv.Kind() != pdf.Dict {
		return nil
	}
	key := fontKey(name, fv)
	if f, ok := w.fonts[key]; ok {
		return f
	}
	f := newFontDecoder(fv)
	w.fonts[key] = f
	return f
}

func fontKey(name string, fv pdf.Value) string {
	enc := fv.Key("Encoding")
	encKey := enc.Name()
	if enc.Kind() == pdf.Dict {
		encKey = "dict:" + enc.Key("BaseEncoding").Name() + ":" + strconv.Itoa(enc.Key("Differences").Len())
	}
	tu := fv.Key("ToUnicode")
	return name + "|" + fv.Key("BaseFont").Name() + "|" + fv.Key("Subtype").Name() + "|" + encKey + "|" +
		strconv.FormatInt(tu.Key("Length").Int64(), 10) + "|" + strconv.FormatInt(fv.Key("FirstChar").Int64(), 10) + "|" +
		strconv.Itoa(fv.Key("Widths").Len())
}
