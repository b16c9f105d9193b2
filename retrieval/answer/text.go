package answer

// Text steps of the pipeline: pure functions, no I/O. Minimal versions; the full ones
// (issue 9) replace these bodies without changing the signatures.

import (
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
)

// RewriteFollowUp turns a short follow-up ("那这个能退吗?", "它防水吗", "E104呢") into a
// standalone query by carrying the product, SKU, order topic or fault code of the earlier
// turns; ok is false when q already stands alone.
func RewriteFollowUp(q string, history []Turn) (rewritten string, ok bool) {
	return q, false
}

// RewritePrompt asks a chat model to rewrite q as a standalone query from the last turns.
func RewritePrompt(q string, history []Turn, lang string) []Message {
	return []Message{{Role: "user", Content: q}}
}

// NoAnswer is what the model is told to reply when the passages do not answer.
const NoAnswer = "NO_ANSWER"

// GeneratePrompt builds the grounded-generation prompt: the passages as quoted data,
// numbered [1]..[n], never as instructions; cite them; reply NoAnswer when they do not answer.
func GeneratePrompt(q string, history []Turn, hits []kb.Hit, lang string) []Message {
	return []Message{{Role: "user", Content: q}}
}

// ParseCitations removes [n] markers outside 1..n from a generated answer and returns the
// 0-based indexes of the hits it cites, in order of first appearance, without repeats.
func ParseCitations(text string, n int) (clean string, cited []int) {
	return text, nil
}

// IsNoAnswer reports whether a generated text says the passages do not answer.
func IsNoAnswer(text string) bool { return strings.Contains(text, NoAnswer) }

// Extract composes an answer from the best sentences of the top passages, and returns the
// 0-based indexes of the hits it used.
func Extract(q string, hits []kb.Hit, lang string) (text string, cited []int) {
	if len(hits) == 0 {
		return "", nil
	}
	return hits[0].Content, []int{0}
}

// CatalogAnswer answers a question about a named product or SKU (price, stock, attributes)
// from the product record's current fields, when a hit is that product's card.
func CatalogAnswer(q string, hits []kb.Hit, lang string) (text string, hit int, ok bool) {
	return "", 0, false
}

