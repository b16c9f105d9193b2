package tabular

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/zhiku/zhiku/internal/kb"
)

// A CSV is read as a stream: decoded as csv.Reader consumes it (never a second copy of the
// file as a string) and watched by a cellGuard, which stops the reading once one cell is
// surely over Options.MaxCellBytes. csv.Reader buffers a whole line, and a whole quoted
// field, before it returns a record, so without the guard a 90 MB cell cost several times
// its size (650 MiB peak, zhiku bench hostile) before checkCells could refuse it.

// csvSniffBytes is how much decoded text the delimiter and binary checks look at.
const csvSniffBytes = 1 << 20

// errBinary is text holding NUL bytes or too many control characters.
var errBinary = kb.Unsupported("binary content, not text: holds NUL bytes or control characters (an image, archive or program renamed as text?)", "文件是二进制内容而非文本（可能是改了扩展名的图片、压缩包或程序）")

// textReader is DecodeText as a stream: data read as UTF-8 text in the encoding
// DecodeText would choose, and that encoding's name.
func textReader(data []byte) (io.Reader, string) {
	switch {
	case bytes.HasPrefix(data, utf8BOM):
		return bytes.NewReader(data[len(utf8BOM):]), "utf-8-bom"
	case bytes.HasPrefix(data, utf16LEBOM):
		return decoding(data, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder(), func(err error) error {
			return &kb.Error{Kind: kb.ErrInvalid, Cause: err, En: "decode UTF-16LE text: " + err.Error(), Zh: "UTF-16 解码失败：" + err.Error()}
		}), "utf-16le"
	case bytes.HasPrefix(data, utf16BEBOM):
		return decoding(data, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder(), func(err error) error {
			return &kb.Error{Kind: kb.ErrInvalid, Cause: err, En: "decode UTF-16BE text: " + err.Error(), Zh: "UTF-16 解码失败：" + err.Error()}
		}), "utf-16be"
	case utf8.Valid(data):
		return bytes.NewReader(data), "utf-8"
	}
	return decoding(data, simplifiedchinese.GB18030.NewDecoder(), func(error) error {
		return kb.Invalid("text is neither UTF-8 nor GBK/GB18030", "文本既不是 UTF-8 也不是 GBK 编码")
	}), "gb18030"
}

func decoding(data []byte, t transform.Transformer, fail func(error) error) io.Reader {
	return &errReader{r: transform.NewReader(bytes.NewReader(data), t), fail: fail}
}

// errReader turns its reader's errors other than io.EOF into fail's.
type errReader struct {
	r    io.Reader
	fail func(error) error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = e.fail(err)
	}
	return n, err
}

// csvHead reads ahead in br for the delimiter and binary checks: up to n bytes of text
// (br's size), cut after its last complete line when there is more.
func csvHead(br *bufio.Reader, n int) (string, error) {
	head, err := br.Peek(n)
	switch err {
	case nil, bufio.ErrBufferFull:
		if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		}
	case io.EOF:
	default:
		return "", err
	}
	return string(head), nil
}

// cellError is a cell over the limit, found while the table is read.
type cellError struct {
	sheet string
	row   int
	col   string
	n     int
}

func (e *cellError) Error() string {
	return fmt.Sprintf("row %d, column %q holds %d bytes", e.row, e.col, e.n)
}

// texts is the error's message naming the file and the limit, in both languages.
func (e *cellError) texts(name string, limit int) error {
	where, whereZh := fmt.Sprintf("row %d, column %q", e.row, e.col), fmt.Sprintf("第 %d 行“%s”列", e.row, e.col)
	if e.sheet != "" {
		where, whereZh = fmt.Sprintf("sheet %q %s", e.sheet, where), fmt.Sprintf("工作表“%s”%s", e.sheet, whereZh)
	}
	return kb.TooLarge(fmt.Sprintf("%s: %s holds %d bytes, the limit is %d per cell", name, where, e.n, limit),
		fmt.Sprintf("%s：%s的内容有 %d 字节，超过单元格上限 %d 字节", name, whereZh, e.n, limit))
}

// Lexical states of cellGuard, csv.Reader's (without LazyQuotes) as far as cells' sizes go.
const (
	atFieldStart = iota
	inUnquoted
	inQuoted
	quoteInQuoted // a '"' inside a quoted field: an escaped quote, or the field's end
	skippingLine  // after a quoting error csv.Reader drops the rest of the line
)

// cellGuard passes text to csv.Reader and follows its quoting, to know the size of the
// cell being read. Once a cell passes cap bytes it stops passing text, reads on only to
// measure the cell (nothing is kept), and fails every later Read with a *cellError naming
// the cell's row (numbered as readCSV numbers rows) and column index. A NUL byte fails it
// with errBinary. Its error is kept in err: csv.Reader may report a quoting error instead.
type cellGuard struct {
	r     io.Reader
	comma byte
	cap   int
	err   error

	state   int
	cr      bool // a '\r' not yet passed on: csv.Reader drops it when a '\n' follows
	n       int  // bytes of the current cell so far
	row     int  // the current record's row: 1 + the newlines outside quoted cells before it
	col     int  // the current cell's index in its record
	quoted  int  // newlines inside quoted cells of the current record
	measure bool // past cap: only counting the rest of the cell
	end     bool // measuring, and the cell has ended
}

func newCellGuard(r io.Reader, comma rune, cap int) *cellGuard {
	return &cellGuard{r: r, comma: byte(comma), cap: cap, row: 1}
}

func (g *cellGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := range n {
		if g.step(p[i]) {
			g.finish(p[i+1 : n])
			return i, g.err
		}
	}
	return n, err
}

// finish measures the rest of a cell past cap, from rest and then the reader, and sets err.
func (g *cellGuard) finish(rest []byte) {
	buf := make([]byte, 32<<10)
	for g.err == nil {
		for _, b := range rest {
			if g.step(b); g.end || g.err != nil {
				break
			}
		}
		if g.end || g.err != nil {
			break
		}
		n, err := g.r.Read(buf)
		rest = buf[:n]
		if err != nil {
			for _, b := range rest {
				if g.step(b); g.end || g.err != nil {
					break
				}
			}
			break // the end of the text ends the cell
		}
	}
	if g.err == nil {
		g.err = &cellError{row: g.row, col: fmt.Sprint(g.col), n: g.n}
	}
}

// step takes one byte; it reports a NUL byte (err set) and the current cell passing cap.
func (g *cellGuard) step(b byte) (over bool) {
	if b == 0 {
		g.err = errBinary
		return true
	}
	if g.cr {
		g.cr = false
		if b == '\n' {
			return g.lex('\n')
		}
		over = g.lex('\r')
	}
	if b == '\r' {
		g.cr = true
		return over
	}
	return g.lex(b) || over
}

// lex advances the state on b (line ends already "\n"), counting the cell's bytes.
func (g *cellGuard) lex(b byte) bool {
	switch g.state {
	case atFieldStart:
		switch b {
		case '"':
			g.state = inQuoted
		case g.comma:
			g.nextCell()
		case '\n':
			g.nextRecord()
		default:
			g.state = inUnquoted
			return g.count()
		}
	case inUnquoted:
		switch b {
		case g.comma:
			g.nextCell()
		case '\n':
			g.nextRecord()
		case '"':
			g.skipLine() // a bare quote
		default:
			return g.count()
		}
	case inQuoted:
		switch b {
		case '"':
			g.state = quoteInQuoted
		case '\n':
			g.quoted++
			return g.count()
		default:
			return g.count()
		}
	case quoteInQuoted:
		switch b {
		case '"':
			g.state = inQuoted
			return g.count()
		case g.comma:
			g.nextCell()
		case '\n':
			g.nextRecord()
		default:
			g.skipLine() // text after a closing quote
		}
	case skippingLine:
		if b == '\n' {
			g.nextRecord()
		}
	}
	return false
}

func (g *cellGuard) count() bool {
	g.n++
	if g.n > g.cap && !g.measure {
		g.measure = true
		return true
	}
	return false
}

// The three ways a cell ends. Measuring, they only say so: the cell stays the one reported.

func (g *cellGuard) nextCell() {
	if g.end = g.measure; g.end {
		return
	}
	g.state, g.n = atFieldStart, 0
	g.col++
}

func (g *cellGuard) nextRecord() {
	if g.end = g.measure; g.end {
		return
	}
	g.state, g.n, g.col, g.quoted = atFieldStart, 0, 0, 0
	g.row++
}

// skipLine follows csv.Reader past a quoting error: the record is dropped, its row not
// read, so newlines in its quoted cells count as rows (as readCSV counts them).
func (g *cellGuard) skipLine() {
	if g.end = g.measure; g.end {
		return
	}
	g.state = skippingLine
	g.row += g.quoted
	g.quoted = 0
}
