package tabular

import (
	"strings"
	"unicode"
)

// NormalizeHeader folds a header for matching: lower case, with spaces, punctuation and
// symbols removed, so "Item Code", "item_code" and "ITEM-CODE" all read "itemcode" and
// "商品名称：" reads "商品名称".
func NormalizeHeader(h string) string {
	var b strings.Builder
	b.Grow(len(h))
	for _, r := range strings.ToLower(h) {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// HeaderParts splits a combined two-row header ("价格/售价") into its parts, outermost first.
func HeaderParts(h string) []string {
	parts := strings.Split(h, "/")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
