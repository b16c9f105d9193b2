package answer

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
)

// Extract budgets and weights.
const (
	extractPassages = 3   // passages considered, from the top
	extractUnits    = 3   // sentences (or rows, list items) in an answer
	extractZhRunes  = 300 // answer budget in Chinese
	extractEnWords  = 60  // answer budget in English
	extractMinShare = 0.5 // a passage below this share of the top score is not used; so is a sentence below this share of the best
)

// passageWeight prefers the top passage: the reranked order already says which passage
// fits best, so a sentence from hit 2 must match clearly better to win.
var passageWeight = [extractPassages]float64{1, 0.85, 0.75}

// unit is one sentence, list item or table row of a passage.
type unit struct {
	text  string // as written, trimmed
	hit   int    // index into hits
	pos   int    // position in the passage
	line  bool   // a whole line kept as one unit (list item, table row, code entry)
	score float64
}

// Extract composes an answer from the best sentences of the top passages, and returns the
// 0-based indexes of the hits it used.
//
// A FAQ or ticket hit on top ("问：…\n答：…", "Q: …\nA: …") is answered with its answer
// part. Otherwise the top 1–3 passages are cut into units — sentences (。！？；, and . ! ?
// before a space), with list items, table rows and lines that start with a code (a fault
// code table: "E104 电机过热 …") kept whole — and each unit is scored by the query terms it
// holds, weighted by rarity among the units (an IDF), codes counting most, and by its
// passage's rank. The best unit and up to two more that score at least half as well are
// returned in their original order, within ~300 characters (zh) or ~60 words (en); a unit
// is never cut. With no term in common, the opening of the top passage is returned.
// Measured 25–40 µs for three short manual passages (BenchmarkExtract).
func Extract(q string, hits []kb.Hit, lang string) (text string, cited []int) {
	if len(hits) == 0 {
		return "", nil
	}
	if k := hits[0].Kind; k == kb.KindFAQ || k == kb.KindTickets {
		if a := answerPart(hits[0].Content); a != "" {
			return a, []int{0}
		}
	}
	var units []unit
	for i := 0; i < len(hits) && i < extractPassages; i++ {
		if i > 0 && hits[0].Score > 0 && hits[i].Score < extractMinShare*hits[0].Score {
			break
		}
		units = splitUnits(hits[i].Content, i, units)
	}
	if len(units) == 0 {
		return strings.TrimSpace(hits[0].Content), []int{0}
	}
	scoreUnits(units, extractTerms(q, hits), lang)
	chosen := chooseUnits(units, lang)
	return joinUnits(chosen, lang), citedHits(chosen)
}

// answerPart returns the answer of a "问：…\n答：…" or "Q: …\nA: …" passage, or "".
func answerPart(content string) string {
	for _, sep := range []string{"\n答：", "\n答:", "\nA: ", "\nA:", "\nAnswer: ", "\n回答："} {
		if i := strings.Index(content, sep); i >= 0 {
			return strings.TrimSpace(content[i+len(sep):])
		}
	}
	return ""
}

// weightedTerm is a query term and how much a unit holding it gains.
type weightedTerm struct {
	term   string
	weight float64
	han    bool // matched as a substring of the unit; else as a token
}

// extractTerms are the query's tokens plus the terms retrieval matched in the used hits.
// The parts of a code ("xr500", "xr", "500" beside "xr-500") are left out: the tokenizer
// adds them for recall, but counted here they would make one code outweigh everything else.
func extractTerms(q string, hits []kb.Hit) []weightedTerm {
	seen := map[string]bool{}
	for _, sp := range segment.Split(q) {
		if sp.Kind == segment.KindCode {
			for _, p := range segment.CodeParts(sp.Text) {
				seen[p.Text] = true
				seen[segment.Stem(p.Text)] = true
			}
		}
	}
	var out []weightedTerm
	add := func(t string) {
		t = strings.ToLower(t)
		if t == "" || seen[t] || segment.IsStopWord(t) {
			return
		}
		seen[t] = true
		out = append(out, weightedTerm{term: t, weight: termWeight(t), han: hasHan(t)})
	}
	for _, t := range queryTerms(q) {
		add(t)
	}
	for i := 0; i < len(hits) && i < extractPassages; i++ {
		for _, t := range hits[i].MatchedTerms {
			add(t)
		}
	}
	return out
}

// termWeight: a code names exactly what the customer asks about; a longer Chinese word is
// more specific than a single character; a bare number is weak.
func termWeight(t string) float64 {
	letters, digits := false, false
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case unicode.IsLetter(r):
			letters = true
		}
	}
	switch {
	case letters && digits:
		return 4
	case digits:
		return 0.5
	}
	if hasHan(t) {
		switch n := runeLen(t); {
		case n == 1:
			return 0.3
		case n >= 4:
			return 1.5
		}
	}
	return 1
}

func hasHan(s string) bool {
	for _, r := range s {
		if isHanRune(r) {
			return true
		}
	}
	return false
}

// splitUnits appends the units of one passage.
func splitUnits(content string, hit int, units []unit) []unit {
	pos := 0
	for line := range strings.SplitSeq(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || isDecorLine(line) || strings.HasPrefix(line, "#") ||
			strings.HasPrefix(line, "问：") || strings.HasPrefix(line, "Q: ") {
			continue
		}
		for _, p := range []string{"答：", "A: "} {
			line = strings.TrimPrefix(line, p)
		}
		if isWholeLine(line) {
			units = append(units, unit{text: strings.Trim(line, "| "), hit: hit, pos: pos, line: true})
			pos++
			continue
		}
		for _, s := range splitSentences(line) {
			units = append(units, unit{text: s, hit: hit, pos: pos})
			pos++
		}
	}
	return units
}

// isDecorLine reports a markdown table rule or a line of dashes.
func isDecorLine(line string) bool {
	for _, r := range line {
		switch r {
		case '|', '-', ':', ' ', '=', '+', '*':
		default:
			return false
		}
	}
	return true
}

// isWholeLine reports lines that are one unit whatever punctuation they hold: table rows,
// list items, and lines that start with a code ("E104 电机过热，请断电。冷却后重启。").
func isWholeLine(line string) bool {
	if strings.ContainsAny(line, "|\t") {
		return true
	}
	r, size := utf8.DecodeRuneInString(line)
	switch r {
	case '-', '*', '•', '·', '●', '○', '▪', '◆', '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩':
		return true
	case '(', '（':
		next, _ := utf8.DecodeRuneInString(line[size:])
		return unicode.IsDigit(next)
	}
	if r >= '0' && r <= '9' {
		i := 0
		for i < len(line) && line[i] >= '0' && line[i] <= '9' {
			i++
		}
		rest := line[i:]
		return strings.HasPrefix(rest, ". ") || strings.HasPrefix(rest, "、") || strings.HasPrefix(rest, ".") && !strings.HasPrefix(rest, ".0") && len(rest) > 1 && !(rest[1] >= '0' && rest[1] <= '9')
	}
	if sp := segment.Split(firstField(line)); len(sp) > 0 && sp[0].Kind == segment.KindCode && isProductOrFaultCode(sp[0].Text) {
		return true
	}
	return false
}

// firstField is the text before the first space, "：" or ":" of line, at most 24 bytes.
func firstField(line string) string {
	end := len(line)
	for i, r := range line {
		if r == ' ' || r == '：' || r == ':' || r == '，' || r == ',' || isHanRune(r) {
			end = i
			break
		}
	}
	return line[:min(end, 24)]
}

// splitSentences cuts a line after 。！？；… and after . ! ? ; followed by a space, keeping
// closing quotes and brackets with their sentence.
func splitSentences(line string) []string {
	var out []string
	start := 0
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRuneInString(line[i:])
		end := -1
		switch r {
		case '。', '！', '？', '；', '…':
			end = i + n
		case '.', '!', '?', ';':
			if i+n == len(line) || line[i+n] == ' ' {
				end = i + n
			}
		}
		if end < 0 {
			i += n
			continue
		}
		for end < len(line) {
			c, m := utf8.DecodeRuneInString(line[end:])
			if c != '”' && c != '」' && c != '’' && c != '"' && c != ')' && c != '）' && c != '。' && c != '！' && c != '？' {
				break
			}
			end += m
		}
		if s := strings.TrimSpace(line[start:end]); s != "" {
			out = append(out, s)
		}
		start, i = end, end
	}
	if s := strings.TrimSpace(line[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// scoreUnits sets each unit's score: the IDF-weighted terms it holds, times its passage's
// weight, halved for a fragment too short to answer anything.
func scoreUnits(units []unit, terms []weightedTerm, lang string) {
	norms := make([]string, len(units))
	df := make([]int, len(terms))
	matched := make([]bool, len(units)*len(terms))
	for i, u := range units {
		norms[i] = Normalize(u.text)
		for j, t := range terms {
			var ok bool
			if t.han {
				ok = strings.Contains(norms[i], t.term)
			} else {
				ok = hasWord(norms[i], t.term)
			}
			if ok {
				matched[i*len(terms)+j] = true
				df[j]++
			}
		}
	}
	n := float64(len(units))
	for i := range units {
		s := 0.0
		for j, t := range terms {
			if matched[i*len(terms)+j] {
				s += t.weight * (1 + math.Log(n/float64(df[j])))
			}
		}
		s *= passageWeight[units[i].hit]
		if runeLen(norms[i]) < 6 {
			s *= 0.5
		}
		units[i].score = s
	}
}

// hasWord reports whether normalised text holds the token t as a word: a code or number
// whole, an English stem as the start of a word ("support" in "supports"; the stem
// "warranti" as "warrant…", so "warranty" and "warranties" both match). Matching stems
// this way avoids stemming every word of every passage.
func hasWord(text, t string) bool {
	prefix := t
	whole := len(t) <= 3 || strings.ContainsAny(t, "0123456789-_.")
	if !whole && (strings.HasSuffix(t, "i") || strings.HasSuffix(t, "e")) {
		prefix = t[:len(t)-1]
	}
	for from := 0; ; {
		i := strings.Index(text[from:], prefix)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(prefix)
		if (i == 0 || !isASCIIAlnum(text[i-1])) && (!whole || end == len(text) || !isASCIIAlnum(text[end])) {
			return true
		}
		from = i + 1
	}
}

// chooseUnits picks the best unit and up to two more scoring at least half as well,
// within the budget, and returns them in passage order. A unit ending in a colon brings
// the unit after it (the list it introduces).
func chooseUnits(units []unit, lang string) []unit {
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return units[order[a]].score > units[order[b]].score })
	best := units[order[0]].score
	if best <= 0 {
		return leadUnits(units, lang)
	}
	picked := map[int]bool{}
	used := 0
	take := func(i int) bool {
		c := unitCost(units[i].text, lang)
		if len(picked) > 0 && (used+c > budget(lang) || len(picked) >= extractUnits) {
			return false
		}
		picked[i] = true
		used += c
		return true
	}
	for _, i := range order {
		if len(picked) >= extractUnits || units[i].score < extractMinShare*best {
			break
		}
		if picked[i] || !take(i) {
			continue
		}
		if t := units[i].text; (strings.HasSuffix(t, "：") || strings.HasSuffix(t, ":")) && i+1 < len(units) && units[i+1].hit == units[i].hit && !picked[i+1] {
			take(i + 1)
		}
	}
	return inOrder(units, picked)
}

// leadUnits is the opening of the top passage, within the budget.
func leadUnits(units []unit, lang string) []unit {
	picked := map[int]bool{}
	used := 0
	for i, u := range units {
		if u.hit != 0 || len(picked) >= extractUnits {
			break
		}
		c := unitCost(u.text, lang)
		if len(picked) > 0 && used+c > budget(lang) {
			break
		}
		picked[i] = true
		used += c
	}
	return inOrder(units, picked)
}

func inOrder(units []unit, picked map[int]bool) []unit {
	out := make([]unit, 0, len(picked))
	for i, u := range units {
		if picked[i] {
			out = append(out, u)
		}
	}
	return out
}

func budget(lang string) int {
	if lang == kb.LanguageEn {
		return extractEnWords
	}
	return extractZhRunes
}

// unitCost is a unit's length in the budget's measure: words in English, runes in Chinese.
func unitCost(s, lang string) int {
	if lang == kb.LanguageEn {
		return len(strings.Fields(s))
	}
	return runeLen(s)
}

// joinUnits writes the units as one answer: lines stay lines, Chinese sentences run on,
// English ones are separated by a space.
func joinUnits(units []unit, lang string) string {
	var b strings.Builder
	for i, u := range units {
		if i > 0 {
			prev := units[i-1]
			switch {
			case u.line || prev.line || u.hit != prev.hit:
				b.WriteByte('\n')
			case lang == kb.LanguageEn || !endsWithHan(prev.text):
				b.WriteByte(' ')
			}
		}
		b.WriteString(u.text)
	}
	return b.String()
}

// endsWithHan reports text ending in Chinese or Chinese punctuation, after which the next
// Chinese sentence follows without a space.
func endsWithHan(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isHanRune(r) || r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF
}

func citedHits(units []unit) []int {
	var out []int
	for _, u := range units {
		if len(out) == 0 || out[len(out)-1] != u.hit {
			out = append(out, u.hit)
		}
	}
	return out
}
