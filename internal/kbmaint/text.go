package kbmaint

import (
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// IndexText is the text a passage is embedded and tokenized from: its heading path joined
// by " > ", a newline, then its content; the content alone when there is no path. Records
// (whose path is their title) and chunked documents follow it, so ingestion and the
// maintenance here agree.
func IndexText(sectionPath []string, content string) string {
	if len(sectionPath) == 0 {
		return content
	}
	return strings.Join(sectionPath, " > ") + "\n" + content
}

// SourceText returns the text chunk c was embedded and tokenized from: the stored index
// text when the writer kept it, else a rebuild. FAQ entries were indexed as the question,
// the similar questions and the answer (not their category path), so they are rebuilt from
// their metadata; every other chunk with [IndexText].
func SourceText(c store.ChunkSource) string {
	if c.IndexText != "" {
		return c.IndexText
	}
	if c.Kind == kb.KindFAQ {
		if s, ok := faqText(c); ok {
			return s
		}
	}
	return IndexText(c.SectionPath, c.Content)
}

// faqText rebuilds an FAQ entry's index text: content is "问：Q\n答：A" (or "Q: …\nA: …").
func faqText(c store.ChunkSource) (string, bool) {
	q, _ := c.Metadata["question"].(string)
	if q == "" {
		return "", false
	}
	var answer string
	found := false
	for _, prefix := range []string{"问：" + q + "\n答：", "Q: " + q + "\nA: "} {
		if a, ok := strings.CutPrefix(c.Content, prefix); ok {
			answer, found = a, true
			break
		}
	}
	if !found {
		return "", false
	}
	parts := []string{q}
	if similar, ok := c.Metadata["similar_questions"].([]any); ok {
		for _, s := range similar {
			if s, ok := s.(string); ok {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(append(parts, answer), "\n"), true
}
