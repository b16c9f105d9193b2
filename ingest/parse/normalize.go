package parse

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// cjkRadicalsSupplement maps the CJK Radicals Supplement code points (U+2E80..U+2EF3) that
// PDF producers emit instead of ordinary ideographs. NFKC already folds the Kangxi Radicals
// block (U+2F00..U+2FD5) but leaves this block alone, so the common ones are listed here.
var cjkRadicalsSupplement = map[rune]rune{
	0x2E8C: '小', 0x2E8D: '小', 0x2E8E: '兀', 0x2E8F: '尣', 0x2E90: '尢', 0x2E92: '巳',
	0x2E93: '幺', 0x2E94: '彑', 0x2E95: '彐', 0x2E97: '心', 0x2E98: '扌', 0x2E99: '攵',
	0x2E9B: '旡', 0x2E9D: '月', 0x2E9E: '歹', 0x2E9F: '母', 0x2EA0: '民', 0x2EA1: '氵',
	0x2EA2: '氺', 0x2EA3: '灬', 0x2EA4: '爫', 0x2EA6: '丬', 0x2EA7: '牛', 0x2EA8: '犭',
	0x2EA9: '王', 0x2EAA: '疋', 0x2EAB: '目', 0x2EAC: '示', 0x2EAD: '礻', 0x2EAE: '竹',
	0x2EAF: '糹', 0x2EB0: '纟', 0x2EB1: '网', 0x2EB2: '罒', 0x2EB3: '罓', 0x2EB4: '罒',
	0x2EB5: '罒', 0x2EB6: '羊', 0x2EB7: '羊', 0x2EB8: '羊', 0x2EB9: '老', 0x2EBA: '肀',
	0x2EBB: '肀', 0x2EBC: '月', 0x2EBD: '臼', 0x2EBE: '艹', 0x2EBF: '艹', 0x2EC0: '艹',
	0x2EC1: '虎', 0x2EC2: '衤', 0x2EC3: '西', 0x2EC4: '西', 0x2EC5: '见', 0x2EC6: '角',
	0x2EC7: '角', 0x2EC8: '讠', 0x2EC9: '贝', 0x2ECA: '足', 0x2ECB: '车', 0x2ECC: '辶',
	0x2ECD: '辶', 0x2ECE: '辶', 0x2ECF: '阝', 0x2ED0: '钅', 0x2ED1: '長', 0x2ED2: '镸',
	0x2ED3: '长', 0x2ED4: '门', 0x2ED5: '阜', 0x2ED6: '阝', 0x2ED7: '雨', 0x2ED8: '青',
	0x2ED9: '韦', 0x2EDA: '页', 0x2EDB: '风', 0x2EDC: '飞', 0x2EDD: '食', 0x2EDE: '食', 0x2EDF: '飠',
	0x2EE0: '饣', 0x2EE1: '首', 0x2EE2: '马', 0x2EE3: '骨', 0x2EE4: '鬼', 0x2EE5: '鱼',
	0x2EE6: '鸟', 0x2EE7: '卤', 0x2EE8: '麦', 0x2EE9: '黄', 0x2EEA: '黾', 0x2EEB: '斉',
	0x2EEC: '齐', 0x2EED: '歯', 0x2EEE: '齿', 0x2EEF: '竜', 0x2EF0: '龙', 0x2EF1: '龜',
	0x2EF2: '亀', 0x2EF3: '龟',
}

// normalizeLine cleans one line of extracted text: NFKC (which folds Kangxi radicals,
// compatibility ideographs, full-width letters and digits, ligatures), the radicals map above,
// and CJK spacing. Full-width CJK punctuation (，：（）！？) is kept as written, because NFKC
// would turn it into ASCII and Chinese answers quoting the text would then look wrong.
func normalizeLine(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	start := 0
	for i, r := range s {
		if isFullwidthPunct(r) || r == '\t' {
			b.WriteString(norm.NFKC.String(s[start:i]))
			b.WriteRune(r)
			start = i + utf8.RuneLen(r)
		}
	}
	b.WriteString(norm.NFKC.String(s[start:]))
	out := []rune(b.String())
	for i, r := range out {
		if m, ok := cjkRadicalsSupplement[r]; ok {
			out[i] = m
		} else if r == '\u00a0' || r == '\u3000' {
			out[i] = ' '
		} else if r == '\ufeff' || r == '\u200b' {
			out[i] = '\u200b'
		}
	}
	return fixCJKSpacing(strings.ReplaceAll(string(out), "\u200b", ""))
}

// isFullwidthPunct reports full-width punctuation that NFKC would fold to ASCII.
func isFullwidthPunct(r rune) bool {
	if r < 0xFF01 || r > 0xFF65 {
		return false
	}
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// isCJK reports Han ideographs, kana, hangul and CJK punctuation: characters between which
// Chinese and Japanese text puts no spaces.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r) ||
		(r >= 0x3000 && r <= 0x303F) || isFullwidthPunct(r)
}

// fixCJKSpacing removes the spaces PDF layouts put between CJK glyphs ("电 机 过 热" becomes
// "电机过热") while keeping spaces between Latin words and deliberate separators between
// CJK words ("第3章 故障排除"): a space between CJK characters goes only when one side is a
// lone character. It also collapses runs of spaces and trims.
// A line made almost only of single characters separated by spaces ("E 1 0 4 电 机") is
// letter-spaced as a whole and is joined too.
func fixCJKSpacing(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
	if len(fields) == 0 {
		return strings.TrimSpace(s)
	}
	single := 0
	for _, f := range fields {
		if utf8.RuneCountInString(f) == 1 {
			single++
		}
	}
	letterSpaced := len(fields) >= 4 && single*10 >= len(fields)*8
	var b strings.Builder
	b.Grow(len(s))
	for i, f := range fields {
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(fields[i-1])
			next, _ := utf8.DecodeRuneInString(f)
			prevSingle := utf8.RuneCountInString(fields[i-1]) == 1
			nextSingle := utf8.RuneCountInString(f) == 1
			joined := isCJK(prev) && isCJK(next) && (prevSingle || nextSingle) ||
				letterSpaced && prevSingle && nextSingle
			if !joined {
				b.WriteByte(' ')
			}
		}
		b.WriteString(f)
	}
	return strings.TrimSpace(b.String())
}

// joinLines joins wrapped lines of one paragraph: no space between CJK characters, one
// space otherwise, and a hyphen at a Latin line end is kept (we cannot tell soft hyphens).
func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			prev, _ := utf8.DecodeLastRuneInString(b.String())
			next, _ := utf8.DecodeRuneInString(l)
			if !(isCJK(prev) && isCJK(next)) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
