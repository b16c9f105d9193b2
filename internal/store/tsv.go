package store

import (
	"slices"
	"strconv"
	"strings"
)

// PostgreSQL's limits on tsvector positions: at most maxPositions a lexeme (more are
// dropped) and each at most maxPosition (larger ones are clamped, and equal ones merge).
const (
	maxPositions = 256
	maxPosition  = 16383
)

// TSVector writes tokens (in text order, with repeats) as a tsvector literal that keeps
// one position per occurrence, so a lexeme's term frequency can be read back (BM25 needs
// it; array_to_tsvector keeps no positions). Positions are the tokens' places in the text;
// in a text of more tokens than PostgreSQL can number, each lexeme's occurrences are
// numbered 1, 2, … instead, which keeps the frequencies. Frequencies above 256 read as 256.
func TSVector(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	pos := make(map[string][]int, len(tokens))
	order := make([]string, 0, len(tokens))
	ordinal := len(tokens) > maxPosition
	for i, t := range tokens {
		p, seen := pos[t]
		if !seen {
			order = append(order, t)
		}
		if len(p) >= maxPositions {
			continue
		}
		if ordinal {
			pos[t] = append(p, len(p)+1)
		} else {
			pos[t] = append(p, i+1)
		}
	}
	slices.Sort(order)
	var b strings.Builder
	b.Grow(len(tokens) * 8)
	for i, t := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteLexeme(t))
		for j, p := range pos[t] {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}
