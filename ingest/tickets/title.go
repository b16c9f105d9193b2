package tickets

import (
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/pii"
)

// Title names a mined pair by its question: the first sentence that asks something and holds
// no masked personal data, at most maxRunes runes (cut with "…"). "How long is the
// warranty? My number is [手机号]" is titled "How long is the warranty?": the rest of the
// turn is context the customer gave, and a placeholder in a title reads as noise. Without such
// a sentence the first sentence without a placeholder is used, and failing that the question
// with its placeholders removed.
func Title(question string, maxRunes int) string {
	sentences := splitSentences(question)
	pick := ""
	for _, s := range sentences {
		if !pii.HasPlaceholder(s) && hasQuestionMarker(s) {
			pick = s
			break
		}
	}
	if pick == "" {
		for _, s := range sentences {
			if !pii.HasPlaceholder(s) {
				pick = s
				break
			}
		}
	}
	if pick == "" {
		pick = pii.RemovePlaceholders(question)
	}
	pick = strings.Join(strings.Fields(pick), " ")
	if utf8.RuneCountInString(pick) <= maxRunes {
		return pick
	}
	return string([]rune(pick)[:maxRunes]) + "…"
}

// splitSentences cuts text after each sentence end (？?！!。；; and newlines; a "." only
// before a space or the end, so "v1.2" and "E1.04" stay whole), trimming each and dropping
// empty ones.
func splitSentences(text string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range text {
		end := i + utf8.RuneLen(r)
		switch r {
		case '?', '？', '!', '！', '。', ';', '；', '\n':
			emit(end)
		case '.':
			if end == len(text) || text[end] == ' ' || text[end] == '\t' {
				emit(end)
			}
		}
	}
	emit(len(text))
	return out
}
