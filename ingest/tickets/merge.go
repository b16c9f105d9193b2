package tickets

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/pii"
	"github.com/zhiku/zhiku/internal/kb"
)

// mergeSimilar merges pairs whose normalised questions have a character-bigram Jaccard
// similarity of at least threshold and name the same codes and numbers: "E101" and "E110"
// differ by one bigram in a long question but are different questions. Each group is compared through its first question, so
// groups do not drift. Candidates are found with prefix filtering over bigrams ordered
// rarest first: two sets with Jaccard ≥ t must share one of the first n−⌈t·n⌉+1 of them,
// which keeps this near-linear on large exports instead of comparing all pairs.
func mergeSimilar(ctx context.Context, pairs []Pair, threshold float64) ([]Pair, error) {
	sets := make([][]string, len(pairs))
	codes := make([]string, len(pairs))
	df := map[string]int{}
	for i, p := range pairs {
		norm := normalizeQuestion(p.Question)
		codes[i] = strings.Join(codeRE.FindAllString(norm, -1), " ")
		sets[i] = bigrams(norm)
		if len(sets[i]) == 0 {
			sets[i] = []string{p.Question} // only punctuation: merge on identical text
		}
		for _, g := range sets[i] {
			df[g]++
		}
	}
	rarestFirst := func(a, b string) int {
		if c := df[a] - df[b]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}

	type group struct {
		pair  Pair
		codes string
		set   map[string]struct{}
		size  int
		score int
	}
	var groups []*group
	index := map[string][]int{}
	for i, p := range pairs {
		if err := kb.Stopped(ctx, i+1); err != nil {
			return nil, err
		}
		set := sets[i]
		slices.SortFunc(set, rarestFirst)
		prefix := len(set) - int(math.Ceil(threshold*float64(len(set))-1e-9)) + 1
		prefix = max(1, min(prefix, len(set)))

		best, bestSim := -1, 0.0
		seen := map[int]bool{}
		for _, g := range set[:prefix] {
			for _, gi := range index[g] {
				if seen[gi] {
					continue
				}
				seen[gi] = true
				if groups[gi].codes != codes[i] {
					continue
				}
				if sim := jaccard(set, groups[gi].set, groups[gi].size); sim >= threshold && sim > bestSim {
					best, bestSim = gi, sim
				}
			}
		}
		if best >= 0 {
			g := groups[best]
			g.pair.Count += p.Count
			for _, id := range p.TicketIDs {
				if !slices.Contains(g.pair.TicketIDs, id) {
					g.pair.TicketIDs = append(g.pair.TicketIDs, id)
				}
			}
			if s := answerScore(p.Answer); s > g.score {
				g.pair.Answer, g.score = p.Answer, s
			}
			continue
		}
		g := &group{pair: p, codes: codes[i], set: make(map[string]struct{}, len(set)), size: len(set), score: answerScore(p.Answer)}
		for _, b := range set {
			g.set[b] = struct{}{}
		}
		groups = append(groups, g)
		for _, b := range set[:prefix] {
			index[b] = append(index[b], len(groups)-1)
		}
	}

	out := make([]Pair, len(groups))
	for i, g := range groups {
		out[i] = g.pair
	}
	slices.SortStableFunc(out, func(a, b Pair) int { return b.Count - a.Count })
	return out, nil
}

func jaccard(a []string, b map[string]struct{}, bSize int) float64 {
	if len(a) == 0 && bSize == 0 {
		return 1
	}
	inter := 0
	for _, g := range a {
		if _, ok := b[g]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+bSize-inter)
}

// codeRE finds model codes, fault codes and numbers in a normalised question.
var codeRE = regexp.MustCompile(`[a-z0-9]*[0-9][a-z0-9]*`)

// Words that change nothing about what is asked.
var questionNoise = strings.NewReplacer("请问", "", "您好", "", "你好", "", "一下", "", "麻烦", "", "想问", "", "咨询", "")

// normalizeQuestion compacts a question for comparison: NFKC, lower case, letters, digits
// and Han only, without politeness words.
func normalizeQuestion(q string) string {
	return questionNoise.Replace(compact(q))
}

// bigrams returns the distinct character bigrams of s; a one-character s is its own set.
func bigrams(s string) []string {
	rs := []rune(s)
	if len(rs) < 2 {
		if len(rs) == 0 {
			return nil
		}
		return []string{s}
	}
	seen := make(map[string]struct{}, len(rs))
	out := make([]string, 0, len(rs)-1)
	for i := 0; i+1 < len(rs); i++ {
		g := string(rs[i : i+2])
		if _, ok := seen[g]; !ok {
			seen[g] = struct{}{}
			out = append(out, g)
		}
	}
	return out
}

// answerScore prefers informative answers, up to a point, and penalises ones tied to one
// customer (masked personal data means the answer was about their order, not the question).
func answerScore(a string) int {
	score := min(utf8.RuneCountInString(a), 300)
	for _, k := range []pii.Kind{pii.Mobile, pii.Landline, pii.Email, pii.IDCard, pii.BankCard, pii.Order, pii.Name, pii.Address} {
		score -= 30 * strings.Count(a, pii.Placeholder(k))
	}
	return score
}
