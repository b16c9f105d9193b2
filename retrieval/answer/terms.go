package answer

import (
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/segment"
)

// queryTerms returns the distinct search tokens of text (jieba words in search mode, codes
// whole and in parts, stemmed English words, stop words dropped), the same tokens retrieval
// matched on. Without a jieba dictionary it falls back to a dictionary-free split with Han
// bigrams, so the text steps never fail.
func queryTerms(text string) []string {
	if s, err := segment.Shared(); err == nil {
		return s.QueryTokens(text, nil)
	}
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] && !segment.IsStopWord(t) {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, sp := range segment.Split(text) {
		switch sp.Kind {
		case segment.KindHan:
			r := []rune(sp.Text)
			if len(r) == 1 {
				add(sp.Text)
			}
			for i := 0; i+1 < len(r); i++ {
				add(string(r[i : i+2]))
			}
		case segment.KindWord:
			add(segment.Stem(sp.Text))
		default:
			add(sp.Text)
		}
	}
	return out
}

// codesOf returns the codes in text (E104, XR-500, SKU-2231), lower case, in order.
func codesOf(text string) []string {
	var out []string
	for _, sp := range segment.Split(text) {
		if sp.Kind == segment.KindCode && isProductOrFaultCode(sp.Text) {
			out = append(out, sp.Text)
		}
	}
	return out
}

// isProductOrFaultCode keeps codes that name a thing (xr-500, e104, sku-2231) and drops
// quantities that merely mix letters and digits (5ghz, 2700pa, 30min, 2.4g).
func isProductOrFaultCode(c string) bool {
	if c[0] >= '0' && c[0] <= '9' {
		// "5ghz", "2700pa", "24h": a number with a unit. "400-820-8820" (all digits) stays.
		for i := 0; i < len(c); i++ {
			if c[i] >= 'a' && c[i] <= 'z' {
				return false
			}
		}
	}
	return true
}

// codePrefix is a code's leading letters: "e" for e104, "xr" for xr-500, "sku" for
// sku-2231. Two codes with the same prefix are of the same kind (two fault codes, two
// models of a range).
func codePrefix(c string) string {
	for i := 0; i < len(c); i++ {
		if !(c[i] >= 'a' && c[i] <= 'z') {
			return c[:i]
		}
	}
	return c
}

// indexFold finds the first case-insensitive occurrence of lower-case sub in s, on ASCII
// letters; it returns -1 when there is none.
func indexFold(s, sub string) int {
	if sub == "" {
		return 0
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// containsPhrase reports whether text holds p; a p starting or ending with an ASCII letter
// or digit must not be glued to another one there ("return" is not found in "returned").
func containsPhrase(text, p string) bool {
	for from := 0; from < len(text); {
		i := strings.Index(text[from:], p)
		if i < 0 {
			return false
		}
		i += from
		if boundaryOK(text, i, i+len(p), p) {
			return true
		}
		from = i + 1
	}
	return false
}
