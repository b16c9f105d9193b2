package segment

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Dict is one knowledge base's vocabulary: custom words kept whole, and synonym groups that
// widen queries. It never touches the shared jieba dictionary, so knowledge bases cannot
// affect each other. Build it once per knowledge base with [NewDict] and reuse it; it is
// read-only and safe for concurrent use. A nil *Dict means "no custom vocabulary".
//
// Custom words that tokenisation would split (Chinese brand names such as "小天才", names
// with spaces such as "Galaxy S24 Ultra") are found by a longest-match pass before jieba
// runs and become one token ("小天才", "galaxys24ultra"). Words that tokenisation keeps whole
// anyway (a single English word, a code) need no pass. Use the same Dict when indexing and
// when querying, and re-index a knowledge base after changing its custom words.
//
// Synonyms apply at query time only ([Segmenter.QueryTokens]): every query token that is in
// a group brings in the other members, so changing synonyms never needs a re-index.
// Synonym entries count as custom words too, so "退货" and "退款退货" stay whole.
type Dict struct {
	byFirst  map[rune][]dictWord // pre-pass words by first rune, longest first
	synonyms map[string][]string // token → its groups' members
}

type dictWord struct {
	key string // normalised text to match
	lex string // the token it becomes
}

// NewDict builds a Dict from custom words and synonym groups. Entries are normalised like
// text (NFKC, lowercase); blank entries and groups of fewer than two are ignored.
func NewDict(words []string, synonyms [][]string) *Dict {
	d := &Dict{byFirst: map[rune][]dictWord{}, synonyms: map[string][]string{}}
	seen := map[string]bool{}
	add := func(entry string) string {
		key := strings.Join(strings.Fields(Normalize(entry)), " ")
		if key == "" {
			return ""
		}
		var spans []Span
		splitNormalized(key, func(s Span) { spans = append(spans, s) })
		if len(spans) == 1 && spans[0].Text == key && spans[0].Kind != KindHan {
			if spans[0].Kind == KindWord {
				return Stem(key)
			}
			return key
		}
		lex := lexeme(strings.ReplaceAll(key, " ", ""))
		if lex == "" || seen[key] {
			return lex
		}
		seen[key] = true
		r, _ := utf8.DecodeRuneInString(key)
		d.byFirst[r] = append(d.byFirst[r], dictWord{key: key, lex: lex})
		return lex
	}
	for _, w := range words {
		add(w)
	}
	for _, group := range synonyms {
		var lexes []string
		for _, w := range group {
			if lex := add(w); lex != "" {
				lexes = append(lexes, lex)
			}
		}
		if len(lexes) < 2 {
			continue
		}
		for _, lex := range lexes {
			d.synonyms[lex] = appendNew(d.synonyms[lex], lexes...)
		}
	}
	for r, ws := range d.byFirst {
		sort.Slice(ws, func(i, j int) bool { return len(ws[i].key) > len(ws[j].key) })
		d.byFirst[r] = ws
	}
	return d
}

func appendNew(dst []string, xs ...string) []string {
	for _, x := range xs {
		found := false
		for _, y := range dst {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, x)
		}
	}
	return dst
}

// Synonyms returns the members of the groups tok (a token) belongs to, tok included; nil
// when it has none.
func (d *Dict) Synonyms(tok string) []string { return d.synonymsOf(tok) }

func (d *Dict) synonymsOf(tok string) []string {
	if d == nil {
		return nil
	}
	return d.synonyms[tok]
}

// scan cuts normalised text into custom words (custom=true, reported as their token) and
// the pieces between them (custom=false), in order.
func (d *Dict) scan(t string, fn func(piece string, custom bool)) {
	if d == nil || len(d.byFirst) == 0 {
		fn(t, false)
		return
	}
	start, i := 0, 0
	for i < len(t) {
		r, n := utf8.DecodeRuneInString(t[i:])
		if w, ok := d.match(t, i, r); ok {
			if start < i {
				fn(t[start:i], false)
			}
			fn(w.lex, true)
			i += len(w.key)
			start = i
			continue
		}
		i += n
	}
	if start < len(t) {
		fn(t[start:], false)
	}
}

// match finds the longest custom word at t[i:]. A word that starts or ends with a letter or
// digit must not sit inside a longer word: "mate" does not match in "template".
func (d *Dict) match(t string, i int, r rune) (dictWord, bool) {
	for _, w := range d.byFirst[r] {
		if !strings.HasPrefix(t[i:], w.key) {
			continue
		}
		if isWordRune(r) && i > 0 {
			if prev, _ := utf8.DecodeLastRuneInString(t[:i]); isWordRune(prev) {
				continue
			}
		}
		end := i + len(w.key)
		if last, _ := utf8.DecodeLastRuneInString(w.key); isWordRune(last) && end < len(t) {
			if next, _ := utf8.DecodeRuneInString(t[end:]); isWordRune(next) {
				continue
			}
		}
		return w, true
	}
	return dictWord{}, false
}
