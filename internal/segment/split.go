package segment

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Kind says what a [Span] is.
type Kind uint8

// Span kinds.
const (
	// KindHan is a run of Chinese characters, to be segmented into words.
	KindHan Kind = iota + 1
	// KindWord is a run of letters (Latin, Cyrillic, kana, ...) with no digits.
	KindWord
	// KindNumber is a run of digits, possibly with one decimal point ("1.5").
	KindNumber
	// KindCode mixes letters and digits or joins parts with "-" or "_": a fault code, SKU
	// or model number (e104, sku-2231, xr-500, iphone15, 400-820-8820). It is kept whole.
	KindCode
)

// Span is one piece of normalised text.
type Span struct {
	Text string
	Kind Kind
}

// Normalize applies NFKC (full-width letters and digits become ASCII, compatibility forms
// fold) and lowercases. Both [Split] and the tokenisers call it, so a caller never needs to.
func Normalize(text string) string {
	return strings.ToLower(norm.NFKC.String(text))
}

// Split normalises text and cuts it into spans, dropping whitespace and punctuation. It
// needs no dictionary, so the embedder and other cheap consumers use it directly.
func Split(text string) []Span {
	var spans []Span
	splitNormalized(Normalize(text), func(s Span) { spans = append(spans, s) })
	return spans
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// isWordRune reports letters, digits and combining marks outside the Han script.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z'
	}
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) && !isHan(r)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= utf8.RuneSelf && unicode.IsDigit(r) }

// splitNormalized walks already normalised text and reports each span in order.
func splitNormalized(t string, emit func(Span)) {
	i := 0
	for i < len(t) {
		r, n := utf8.DecodeRuneInString(t[i:])
		switch {
		case isHan(r):
			j := i + n
			for j < len(t) {
				r2, n2 := utf8.DecodeRuneInString(t[j:])
				if !isHan(r2) {
					break
				}
				j += n2
			}
			emit(Span{Text: t[i:j], Kind: KindHan})
			i = j
		case isWordRune(r):
			i = scanChunk(t, i, emit)
		default:
			i += n
		}
	}
}

// scanChunk reads letters and digits from t[i:], joined by "-" or "_" (and "." between
// digits), classifies the chunk and emits it. It returns the index after the chunk.
func scanChunk(t string, i int, emit func(Span)) int {
	j := i
	joined := false
	for j < len(t) {
		r, n := utf8.DecodeRuneInString(t[j:])
		if isWordRune(r) {
			j += n
			continue
		}
		if (r == '-' || r == '_' || r == '.') && j+1 < len(t) {
			next, _ := utf8.DecodeRuneInString(t[j+1:])
			prev, _ := utf8.DecodeLastRuneInString(t[i:j])
			if r == '.' {
				if isDigit(prev) && isDigit(next) {
					j++
					continue
				}
				break
			}
			if isWordRune(next) {
				joined = true
				j++
				continue
			}
		}
		break
	}
	chunk := t[i:j]
	letters, digits := false, false
	for _, r := range chunk {
		switch {
		case isDigit(r):
			digits = true
		case isWordRune(r):
			letters = true
		}
	}
	switch {
	case digits && (letters || joined):
		emit(Span{Text: chunk, Kind: KindCode})
	case digits:
		emit(Span{Text: chunk, Kind: KindNumber})
	case joined:
		// "e-commerce", "well-known": hyphenated words without digits are separate words.
		for _, p := range strings.FieldsFunc(chunk, isJoiner) {
			emit(Span{Text: p, Kind: KindWord})
		}
	default:
		emit(Span{Text: chunk, Kind: KindWord})
	}
	return j
}

func isJoiner(r rune) bool { return r == '-' || r == '_' }

// CodeParts returns the pieces of a code worth indexing beside the whole code, so that a
// customer who types a code differently still finds it: the hyphen-free form ("sku-2231" →
// "sku2231"), each joined part ("sku", "2231"), and for a plain letters+digits code of at
// most three runs the runs themselves ("iphone15" → "iphone", "15"; "e104" → "104").
// Parts shorter than two characters are left out: they match too much.
func CodeParts(code string) []Span {
	var out []Span
	parts := strings.FieldsFunc(code, isJoiner)
	if len(parts) > 1 {
		out = append(out, Span{Text: strings.Join(parts, ""), Kind: KindCode})
		for _, p := range parts {
			if utf8.RuneCountInString(p) < 2 {
				continue
			}
			out = append(out, Span{Text: p, Kind: kindOf(p)})
		}
		return out
	}
	runs := alnumRuns(code)
	if len(runs) < 2 || len(runs) > 3 {
		return nil
	}
	for _, p := range runs {
		if utf8.RuneCountInString(p) < 2 {
			continue
		}
		out = append(out, Span{Text: p, Kind: kindOf(p)})
	}
	return out
}

// kindOf classifies a joiner-free chunk.
func kindOf(s string) Kind {
	letters, digits := false, false
	for _, r := range s {
		if isDigit(r) {
			digits = true
		} else {
			letters = true
		}
	}
	switch {
	case letters && digits:
		return KindCode
	case digits:
		return KindNumber
	}
	return KindWord
}

// alnumRuns cuts s where letters turn into digits or back; "." stays with digits.
func alnumRuns(s string) []string {
	var runs []string
	start, prevDigit := 0, false
	for i, r := range s {
		d := isDigit(r) || r == '.'
		if i > 0 && d != prevDigit {
			runs = append(runs, s[start:i])
			start = i
		}
		prevDigit = d
	}
	return append(runs, s[start:])
}
