package segment

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// maxTokenBytes drops longer tokens (hashes, base64, run-together junk): they never match a
// query and PostgreSQL caps a lexeme at 2 KB anyway.
const maxTokenBytes = 64

// stopWords is deliberately short: particles and function words that carry no meaning in a
// shop question. Negations ("不", "没", "not", "no") and pronouns stay: they change meaning.
var stopWords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`
		的 了 吗 呢 吧 啊 呀 哦 嗯 么 嘛 啦 哈 哇 呐 之 其 着 地 得
		a an the of to in on at by for from with as and or but
		is are was were be been being am it its this that these those
		do does did than then so such there here will would shall should can could may might`) {
		m[w] = struct{}{}
	}
	return m
}()

// IsStopWord reports whether a normalised word is on the stop list.
func IsStopWord(w string) bool {
	_, ok := stopWords[w]
	return ok
}

// Stem returns the Snowball (Porter2) stem of a lowercase English word. Words with
// non-ASCII letters are returned as they are.
func Stem(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return w
		}
	}
	return english.Stem(w, true)
}

// safeRune reports the runes a token may hold: letters, digits, marks and - _ . + # /.
func safeRune(r rune) bool {
	switch r {
	case '-', '_', '.', '+', '#', '/':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// lexeme makes s safe as a token, or returns "" when nothing is left.
func lexeme(s string) string {
	clean := true
	for _, r := range s {
		if !safeRune(r) {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if safeRune(r) {
				return r
			}
			return -1
		}, s)
	}
	if s == "" || len(s) > maxTokenBytes {
		return ""
	}
	return s
}

// Tokens returns the index tokens of text, in order and with repeats (term frequency
// matters to BM25; array_to_tsvector drops repeats itself). d may be nil.
func (s *Segmenter) Tokens(text string, d *Dict) []string {
	t := expandContractions(Normalize(text))
	out := make([]string, 0, len(t)/4+1)
	add := func(tok string) {
		if tok = lexeme(tok); tok != "" {
			out = append(out, tok)
		}
	}
	d.scan(t, func(piece string, custom bool) {
		if custom {
			add(piece)
			return
		}
		s.pieceTokens(piece, add)
	})
	return out
}

// pieceTokens tokenises a piece of normalised text outside custom words: fractions ("1/3")
// whole and then as their numbers, the spans of [Split], and a number with the unit after
// it as one more token ("1/3 hp" → "1/3hp", "220 v" → "220v").
func (s *Segmenter) pieceTokens(piece string, add func(string)) {
	number := "" // the number (or fraction) just tokenised, while a unit may follow
	emit := func(sp Span) {
		if number != "" && sp.Kind == KindWord && isUnit(sp.Text) {
			add(number + sp.Text)
		}
		number = ""
		s.spanTokens(sp, add)
		if sp.Kind == KindNumber {
			number = sp.Text
		}
	}
	start := 0
	for i := 0; i < len(piece); i++ {
		if piece[i] < '0' || piece[i] > '9' || i > 0 && (isWordRune(rune(piece[i-1])) || piece[i-1] == '.' || piece[i-1] == '/') {
			continue
		}
		n := fractionAt(piece, i)
		if n == 0 {
			continue
		}
		splitNormalized(piece[start:i], emit)
		frac := piece[i : i+n]
		add(frac)
		splitNormalized(frac, func(sp Span) { s.spanTokens(sp, add) })
		number = frac
		start, i = i+n, i+n-1
	}
	splitNormalized(piece[start:], emit)
}

// spanTokens turns one span into tokens.
func (s *Segmenter) spanTokens(sp Span, add func(string)) {
	switch sp.Kind {
	case KindHan:
		for _, w := range s.cutForSearch(sp.Text) {
			if !isIndexStopWord(w) {
				add(w)
			}
		}
	case KindWord:
		if !isIndexStopWord(sp.Text) {
			add(Stem(sp.Text))
		}
	case KindNumber:
		add(sp.Text)
	case KindCode:
		add(sp.Text)
		for _, p := range CodeParts(sp.Text) {
			if p.Kind == KindWord {
				if !isIndexStopWord(p.Text) {
					add(Stem(p.Text))
				}
				continue
			}
			add(p.Text)
		}
	}
}

// QueryGroups returns the query's tokens, each with its synonyms from d: one group per
// distinct token, the token first. A tsquery is then the AND (or OR) of the groups, each
// group an OR of its members. d may be nil.
func (s *Segmenter) QueryGroups(text string, d *Dict) [][]string {
	toks := s.Tokens(text, d)
	seen := make(map[string]struct{}, len(toks))
	groups := make([][]string, 0, len(toks))
	for _, tok := range toks {
		if _, ok := seen[tok]; ok {
			continue
		}
		seen[tok] = struct{}{}
		g := []string{tok}
		for _, syn := range d.synonymsOf(tok) {
			if syn != tok {
				g = append(g, syn)
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// QueryTokens returns the distinct tokens of a query plus the synonyms d gives for each.
// d may be nil.
func (s *Segmenter) QueryTokens(text string, d *Dict) []string {
	var out []string
	seen := map[string]struct{}{}
	for _, g := range s.QueryGroups(text, d) {
		for _, tok := range g {
			if _, ok := seen[tok]; !ok {
				seen[tok] = struct{}{}
				out = append(out, tok)
			}
		}
	}
	return out
}

// Tokens tokenises text with the [Shared] segmenter for indexing. d may be nil.
func Tokens(text string, d *Dict) ([]string, error) {
	s, err := Shared()
	if err != nil {
		return nil, err
	}
	return s.Tokens(text, d), nil
}

// QueryTokens tokenises a query with the [Shared] segmenter and expands synonyms from d.
// d may be nil.
func QueryTokens(text string, d *Dict) ([]string, error) {
	s, err := Shared()
	if err != nil {
		return nil, fmt.Errorf("segment: query tokens: %w", err)
	}
	return s.QueryTokens(text, d), nil
}
