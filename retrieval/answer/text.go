package answer

// Text steps of the pipeline: pure functions, no I/O. Minimal versions; the full ones
// (issue 9) replace these bodies without changing the signatures.

import (
	"github.com/zhiku/zhiku/internal/kb"
)

// RewriteFollowUp turns a short follow-up ("那这个能退吗?", "它防水吗", "E104呢") into a
// standalone query by carrying the product, SKU, order topic or fault code of the earlier
// turns; ok is false when q already stands alone.
func RewriteFollowUp(q string, history []Turn) (rewritten string, ok bool) {
	return q, false
}

// CatalogAnswer answers a question about a named product or SKU (price, stock, attributes)
// from the product record's current fields, when a hit is that product's card.
func CatalogAnswer(q string, hits []kb.Hit, lang string) (text string, hit int, ok bool) {
	return "", 0, false
}
