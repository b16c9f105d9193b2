package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
)

// Question-sized units (small-to-big). Customers ask short questions and chunks are long:
// a long chunk's vector sits far from a short question's, so the vector leg also matches
// question-sized units that point to their chunk (see internal/store's chunk_units).

const (
	// LongChunkRunes: a passage longer than this (in characters) is also indexed as
	// sentences packed into units of at most UnitRunes characters.
	LongChunkRunes = 128
	// UnitRunes bounds a packed unit (a single longer sentence stays whole).
	UnitRunes = 96
)

// UnitTexts returns a passage's question-sized units: an FAQ entry's question and similar
// questions (from its document's metadata); with passages, a long passage's sentences,
// packed, each under its heading path. Embeddings are left to the caller.
func UnitTexts(d kb.Document, p Passage, passages bool) []kb.Unit {
	var out []kb.Unit
	seen := map[string]bool{}
	add := func(kind, text string) {
		text = strings.TrimSpace(text)
		if text == "" || seen[text] {
			return
		}
		seen[text] = true
		out = append(out, kb.Unit{Kind: kind, Content: text})
	}
	if d.Kind == kb.KindFAQ {
		if q, ok := d.Metadata["question"].(string); ok {
			add(kb.UnitQuestion, q)
		}
		switch sim := d.Metadata["similar_questions"].(type) {
		case []string:
			for _, s := range sim {
				add(kb.UnitQuestion, s)
			}
		case []any:
			for _, s := range sim {
				if s, ok := s.(string); ok {
					add(kb.UnitQuestion, s)
				}
			}
		}
		return out
	}
	if !passages || utf8.RuneCountInString(p.Content) <= LongChunkRunes {
		return nil
	}
	prefix := ""
	if len(p.SectionPath) > 0 {
		prefix = strings.Join(p.SectionPath, " > ") + "\n"
	}
	for _, s := range PackSentences(p.Content, UnitRunes) {
		add(kb.UnitPassage, prefix+s)
	}
	return out
}

// PackSentences splits text into sentences (after 。！？；!?; and line breaks, and after
// a period, question or exclamation mark followed by a space) and joins consecutive ones
// while the result stays within maxRunes characters.
func PackSentences(text string, maxRunes int) []string {
	var sentences []string
	var cur strings.Builder
	rs := []rune(text)
	for i, r := range rs {
		cur.WriteRune(r)
		end := false
		switch r {
		case '。', '！', '？', '；', '!', '?', ';', '\n':
			end = true
		case '.':
			end = i+1 < len(rs) && unicode.IsSpace(rs[i+1])
		}
		if end {
			if s := strings.TrimSpace(cur.String()); s != "" {
				sentences = append(sentences, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		sentences = append(sentences, s)
	}
	var out []string
	var pack strings.Builder
	n := 0
	for _, s := range sentences {
		l := utf8.RuneCountInString(s)
		if n > 0 && n+1+l > maxRunes {
			out = append(out, pack.String())
			pack.Reset()
			n = 0
		}
		if n > 0 {
			pack.WriteByte(' ')
			n++
		}
		pack.WriteString(s)
		n += l
	}
	if n > 0 {
		out = append(out, pack.String())
	}
	return out
}
