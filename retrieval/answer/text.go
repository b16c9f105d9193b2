package answer

// Text steps of the pipeline: pure functions, no I/O. Minimal versions; the full ones
// (issue 9) replace these bodies without changing the signatures.

import (
	"github.com/zhiku/zhiku/internal/kb"
)

// CatalogAnswer answers a question about a named product or SKU (price, stock, attributes)
// from the product record's current fields, when a hit is that product's card.
func CatalogAnswer(q string, hits []kb.Hit, lang string) (text string, hit int, ok bool) {
	return "", 0, false
}
