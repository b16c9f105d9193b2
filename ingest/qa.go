package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// qaText is how a question/answer pair is shown and stored: "问：…\n答：…", or "Q: …\nA: …"
// when neither side has Chinese characters.
func qaText(q, a string) string {
	if hasHan(q) || hasHan(a) {
		return "问：" + q + "\n答：" + a
	}
	return "Q: " + q + "\nA: " + a
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// questionKey identifies a question across imports: NFKC, lower case, without spaces,
// punctuation or symbols, hashed to 16 hex digits. "退货 运费谁出？" and "退货运费谁出?" agree.
func questionKey(q string) string {
	var b strings.Builder
	for _, r := range norm.NFKC.String(strings.ToLower(q)) {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			continue
		}
		b.WriteRune(r)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// shorten cuts s to n runes for a title.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func jsonString(v any) string {
	b, _ := json.Marshal(v) // map keys marshal sorted: stable
	return string(b)
}
