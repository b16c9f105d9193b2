package parse

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/kb"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

// decodeText converts text in UTF-8 (BOM optional), UTF-16 (BOM, or detected from zero
// bytes), GB18030/GBK or Big5 to a Go string and names the encoding ("utf-8", "gb18030"...).
// head says data may be cut in the middle of a character (a sniffing prefix).
func decodeText(data []byte, head bool) (string, string, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")):
		data = data[3:]
	case bytes.HasPrefix(data, []byte("\xFF\xFE")):
		return decodeWith(xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM), data, "utf-16le")
	case bytes.HasPrefix(data, []byte("\xFE\xFF")):
		return decodeWith(xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM), data, "utf-16be")
	}
	orig := data
	if head {
		data = trimPartialRune(data)
	}
	if utf8.Valid(data) {
		if bytes.IndexByte(data, 0) >= 0 {
			if enc, name := utf16WithoutBOM(data); enc != nil {
				return decodeWith(enc, data, name)
			}
			return "", "", kb.NewError(ErrUnsupported, "binary file (contains NUL bytes)", "二进制文件")
		}
		return string(data), "utf-8", nil
	}
	if enc, name := utf16WithoutBOM(data); enc != nil {
		return decodeWith(enc, data, name)
	}
	for _, c := range []struct {
		enc  encoding.Encoding
		name string
	}{{simplifiedchinese.GB18030, "gb18030"}, {traditionalchinese.Big5, "big5"}} {
		if s, ok := decodeLegacyCJK(c.enc, orig, head); ok {
			return s, c.name, nil
		}
	}
	off := invalidUTF8Offset(data)
	return "", "", kb.NewError(ErrUnsupported, fmt.Sprintf("text encoding not recognised: byte 0x%02X at offset %d is invalid UTF-8, "+
		"and the text is not GB18030/GBK, Big5 or UTF-16 either", data[off], off), "无法识别文本编码（不是 UTF-8、GBK/GB18030、Big5 或 UTF-16）")
}

func decodeWith(enc encoding.Encoding, data []byte, name string) (string, string, error) {
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", "", kb.Detailf(ErrCorrupt, "invalid %s text: %v", name, err)
	}
	return strings.TrimPrefix(string(out), "\ufeff"), name, nil
}

// utf16WithoutBOM recognises BOM-less UTF-16 from the NUL bytes that ASCII characters leave
// in every other position.
func utf16WithoutBOM(data []byte) (encoding.Encoding, string) {
	n := min(len(data), 4096) &^ 1
	if n < 4 {
		return nil, ""
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if data[i] == 0 {
			even++
		}
		if data[i+1] == 0 {
			odd++
		}
	}
	half := n / 2
	switch {
	case odd*10 >= half*3 && even*10 < half:
		return xunicode.UTF16(xunicode.LittleEndian, xunicode.IgnoreBOM), "utf-16le"
	case even*10 >= half*3 && odd*10 < half:
		return xunicode.UTF16(xunicode.BigEndian, xunicode.IgnoreBOM), "utf-16be"
	}
	return nil, ""
}

// decodeLegacyCJK accepts data as enc only when it decodes without a single replacement
// character and most non-ASCII characters are CJK, which random bytes or Latin-1 text never
// achieve.
func decodeLegacyCJK(enc encoding.Encoding, data []byte, head bool) (string, bool) {
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", false
	}
	s := string(out)
	if head {
		// The prefix may end in half of a multi-byte character.
		s = strings.TrimSuffix(s, string(utf8.RuneError))
	}
	var nonASCII, cjk int
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "", false
		case r < 0x80:
			if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
				return "", false
			}
		default:
			nonASCII++
			if isCJK(r) || r >= 0x2000 && r <= 0x27FF || r >= 0xFF00 && r <= 0xFFEF {
				cjk++
			}
		}
	}
	return s, nonASCII > 0 && cjk*10 >= nonASCII*8
}

func trimPartialRune(data []byte) []byte {
	for i := len(data) - 1; i >= 0 && i >= len(data)-3; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				return data[:i]
			}
			break
		}
	}
	return data
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return 0
}

// parseText reads plain text: paragraphs split on blank lines, numbered titles and
// fault-code lines recognised as headings, fault-code runs as tables.
func parseText(data []byte) (*document.Document, error) {
	s, enc, err := decodeText(data, false)
	if err != nil {
		return nil, err
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	raw := strings.Split(s, "\n")
	lines := make([]textLine, 0, len(raw))
	blank := false
	for _, l := range raw {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if strings.TrimSpace(l) == "" {
			blank = true
			continue
		}
		lines = append(lines, textLine{text: l, cells: splitColumns(l), breakBefore: blank})
		blank = false
	}
	return &document.Document{Blocks: buildBlocks(lines, nil), Method: "text/" + enc}, nil
}

// CheckEncoding decodes a whole text file of format f (plain text, Markdown, CSV, JSONL) as
// Parse would: UTF-8, UTF-16 (BOM, or detected), GB18030/GBK or Big5 pass; anything else is
// an ErrUnsupported naming the first byte that fits none, so an upload can be refused with
// 415 before a job is queued (Sniff looks at the head only). Other formats pass.
func CheckEncoding(f Format, data []byte) error {
	switch f {
	case FormatText, FormatMarkdown, FormatCSV, FormatJSONL:
		_, _, err := decodeText(data, false)
		return err
	}
	return nil
}
