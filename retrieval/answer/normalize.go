package answer

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/longbridgeapp/opencc"
	"golang.org/x/text/unicode/norm"

	"github.com/zhiku/zhiku/internal/kb"
)

// Normalize returns the matching form of s: full-width → half-width (NFKC), traditional →
// simplified Chinese, lower case, emoji, symbols and control characters removed, spaces
// collapsed (and dropped between two Chinese characters), trimmed, and trailing sentence
// punctuation ("？", "!", "。", "~"...) removed, so "客服幾點上班？" and "客服几点上班"
// normalise alike. It is for matching and cache keys, never shown to anyone.
//
// Already-normal text is returned as it is without allocating. Measured on this 2-core
// machine (BenchmarkNormalize): ~0.5 µs and no allocation for a short Chinese question, ~0.35 µs
// for an English one. Only text holding a traditional character (one bitmap look-up per Han
// rune decides) goes through OpenCC, ~5 µs; OpenCC's t2s dictionaries
// are embedded and built on first use (~5 ms).
func Normalize(s string) string {
	s = trimTail(s)         // "？" would otherwise make NFKC copy the string
	s = norm.NFKC.String(s) // returns s itself when already NFKC
	if hasTraditional(s) {
		s = toSimplified(s)
	}
	c := clean(s)
	// Dropping a character can bring two combining marks together out of canonical order
	// ("ٜ\x7fُ": the control character between them goes): then normalise again, so that
	// Normalize(Normalize(s)) == Normalize(s) (found by FuzzNormalize). Only text that
	// clean changed is checked (text it keeps is NFKC already), so normal text still costs
	// no allocation.
	for i := 0; i < 3 && c != s && !norm.NFKC.IsNormalString(c); i++ {
		s, c = c, clean(norm.NFKC.String(c))
	}
	return c
}

// clean lowercases s, drops what carries no meaning for matching, collapses spaces and
// trims. It copies s only from the first rune that changes.
func clean(s string) string {
	var b strings.Builder
	copied := false // b holds the output; until then the output is s[:i]
	start := func(i int) {
		if !copied {
			copied = true
			b.Grow(len(s))
			b.WriteString(s[:i])
		}
	}
	var prev rune // the last rune written; 0 before the first
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isCommonHan(r) { // the bulk of Chinese text: no case, never dropped
			if copied {
				b.WriteString(s[i : i+n])
			}
			prev = r
			i += n
			continue
		}
		if unicode.IsSpace(r) {
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsSpace(r2) {
					break
				}
				j += n2
			}
			keep := prev != 0 && prev != ' ' && j < len(s)
			if keep {
				next, _ := utf8.DecodeRuneInString(s[j:])
				keep = !(isHanRune(prev) && isHanRune(next))
			}
			if !keep || j-i != 1 || r != ' ' {
				start(i)
			}
			if keep {
				if copied {
					b.WriteByte(' ')
				}
				prev = ' '
			}
			i = j
			continue
		}
		if dropRune(r) {
			start(i)
			i += n
			continue
		}
		l := r
		if r >= 'A' && r <= 'Z' {
			l = r + ('a' - 'A')
		} else if r >= utf8.RuneSelf {
			l = unicode.ToLower(r)
		}
		if l != r {
			start(i)
		}
		if copied {
			b.WriteRune(l)
		}
		prev = l
		i += n
	}
	out := s
	if copied {
		out = b.String()
	}
	return trimTail(out)
}

// dropRune reports runes removed by Normalize: control and format characters, emoji and
// other symbols, variation selectors, skin-tone modifiers and keycap marks. Math and
// currency symbols (+, <, ¥, $) stay: they carry meaning in a product question.
func dropRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r < ' ' || r == 0x7f
	}
	switch {
	case r == utf8.RuneError:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE007F, r == 0x20E3:
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.So, unicode.Sk)
}

// trimTail removes trailing spaces and sentence punctuation.
func trimTail(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if r == ' ' || isSentenceEnd(r) {
			s = s[:len(s)-n]
			continue
		}
		break
	}
	return s
}

// isSentenceEnd reports punctuation that ends a question without changing it.
func isSentenceEnd(r rune) bool {
	switch r {
	case '?', '!', '.', ',', ';', ':', '~', '。', '、', '…', '？', '！', '，', '；', '：', '～':
		return true
	}
	return false
}

func isHanRune(r rune) bool {
	return isCommonHan(r) || r >= 0x2E80 && unicode.Is(unicode.Han, r)
}

// isCommonHan reports the CJK Unified Ideographs and Extension A blocks, a fast subset of
// the Han script.
func isCommonHan(r rune) bool { return r >= 0x3400 && r <= 0x4DBF || r >= 0x4E00 && r <= 0x9FFF }

// tradBits marks the runes in [tradLo, tradHi) that OpenCC's t2s changes on their own;
// tradOther holds the few outside that range. Built once from traditionalRunes.
var (
	tradBits  [(tradHi - tradLo + 63) / 64]uint64
	tradOther = map[rune]bool{}
)

const tradLo, tradHi = 0x3400, 0xA000

func init() {
	for _, r := range traditionalRunes {
		if r >= tradLo && r < tradHi {
			tradBits[(r-tradLo)/64] |= 1 << ((r - tradLo) % 64)
		} else {
			tradOther[r] = true
		}
	}
}

// hasTraditional reports whether s holds a character that traditional → simplified
// conversion would change: a bitmap look-up per Han rune, so simplified and English text
// never pay for OpenCC.
func hasTraditional(s string) bool {
	for _, r := range s {
		if r < tradLo {
			continue
		}
		if r < tradHi {
			if tradBits[(r-tradLo)/64]&(1<<((r-tradLo)%64)) != 0 {
				return true
			}
			continue
		}
		if tradOther[r] {
			return true
		}
	}
	return false
}

var (
	t2sOnce sync.Once
	t2s     *opencc.OpenCC
	t2sMu   sync.Mutex // opencc's Convert is not documented as safe for concurrent use
)

// toSimplified converts traditional Chinese with OpenCC's t2s dictionaries (phrases first,
// then characters: 頭髮 → 头发, but 乾隆 stays). It returns s unchanged if the dictionary
// failed to load, which cannot happen with the embedded one short of a broken build.
func toSimplified(s string) string {
	t2sOnce.Do(func() { t2s, _ = opencc.New("t2s") })
	if t2s == nil {
		return s
	}
	t2sMu.Lock()
	out, err := t2s.Convert(s)
	t2sMu.Unlock()
	if err != nil {
		return s
	}
	return out
}

// DetectLanguage returns kb.LanguageZh when Chinese carries a meaningful part of s, else
// kb.LanguageEn. A Han character carries about a word's worth of meaning, so it compares
// the Han characters with the English words: zh when there is at least one Han character
// and at least as many Han characters as words. Codes (E104, XR-500, 5GHz) and numbers are
// language-neutral and count for neither: "E104 怎么办" is zh, "Does XR-500 support 5GHz?"
// is en, "What does 售后 mean?" (2 Han, 3 words) is en, "iPhone 15 Pro 的价格" is zh.
func DetectLanguage(s string) string {
	han, words := 0, 0
	inWord, wordHasDigit := false, false
	endWord := func() {
		if inWord && !wordHasDigit {
			words++
		}
		inWord, wordHasDigit = false, false
	}
	for _, r := range s {
		switch {
		case isHanRune(r):
			endWord()
			han++
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'),
			r >= 0xFF21 && r <= 0xFF5A, // full-width letters
			r >= utf8.RuneSelf && unicode.IsLetter(r):
			inWord = true
		case r >= '0' && r <= '9', r >= 0xFF10 && r <= 0xFF19:
			inWord = true
			wordHasDigit = true
		case r == '-' || r == '\'' || r == '_':
			// joins a word or code: "wi-fi", "don't", "xr-500"
		default:
			endWord()
		}
	}
	endWord()
	if han > 0 && han >= words {
		return kb.LanguageZh
	}
	return kb.LanguageEn
}
