package chunk

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
)

// faultCodeRE recognises a line that opens a fault-code entry: "E104 电机过热",
// "F-03：…", "Err 12 …", "- E1. …". The code must be followed by a separator or Han text
// so that words like "Email" do not count.
var faultCodeRE = regexp.MustCompile(`^(?:[-*•·]\s*)?(?:[A-Z]{1,3}-?\d{1,4}[A-Z]?|(?i:err(?:or)?)\s?-?\d{1,4}|故障(?:码|代码)?\s*[A-Z]{0,3}-?\d{1,4})(?:$|[\s:：、.．)）\-—]|\p{Han})`)

// codeHeadRunes bounds a fault-code line that is only a title ("E104 电机过热") and so takes
// the next block as its explanation.
const codeHeadRunes = 40

func isFaultCode(line string) bool { return faultCodeRE.MatchString(line) }

// listItemRE recognises a line that starts a new list item.
var listItemRE = regexp.MustCompile(`^(?:[-*•·●○■□▪◆]|\d{1,3}[.)、．）]|[（(]\d{1,3}[)）]|[a-zA-Z][.)]\s|[一二三四五六七八九十]+、)`)

// addText turns a paragraph or list block into units. Lines opening a fault-code entry start
// an atomic entry that runs until the next code line; other text is split into sentences.
func (s *splitter) addText(b document.Block) {
	lines := nonEmptyLines(b.Text)
	if len(lines) == 0 {
		return
	}
	// A short code line from the previous block ("E104 电机过热") takes this block as its
	// explanation, unless this block opens an entry of its own.
	if n := len(s.units); n > 0 && s.units[n-1].codeHead && !isFaultCode(lines[0]) {
		head := &s.units[n-1]
		body := strings.Join(lines, "\n")
		if r := head.runes + 1 + runeCount(body); r <= s.opts.MaxRunes {
			head.text += "\n" + body
			head.runes = r
			head.codeHead = false
			return
		}
	}
	for i := range s.units {
		s.units[i].codeHead = false
	}

	// Group lines into entries: a code line or a list item starts one; other lines continue
	// the current entry (wrapped text, "原因：…" under a code line).
	type entry struct {
		lines []string
		code  bool
	}
	var entries []entry
	for _, line := range lines {
		code := isFaultCode(line)
		starts := code || len(entries) == 0 ||
			b.Kind == document.List && listItemRE.MatchString(line) ||
			!entries[len(entries)-1].code && b.Kind != document.List
		if starts {
			entries = append(entries, entry{lines: []string{line}, code: code})
			continue
		}
		e := &entries[len(entries)-1]
		e.lines = append(e.lines, line)
	}

	for _, e := range entries {
		text := strings.Join(e.lines, "\n")
		r := runeCount(text)
		if e.code && r <= s.opts.MaxRunes {
			s.units = append(s.units, unit{
				text: text, sep: "\n", page: b.Page, runes: r, kind: KindText,
				codeHead: len(e.lines) == 1 && r <= codeHeadRunes && !endsSentence(text),
			})
			continue
		}
		for i, sent := range sentences(text) {
			for j, piece := range s.hardSplit(sent.text) {
				sep := sent.sep
				if i == 0 && j == 0 {
					sep = "\n"
				} else if j > 0 {
					sep = ""
				}
				s.units = append(s.units, unit{
					text: piece, sep: sep, page: b.Page, runes: runeCount(piece),
					kind: KindText, overlap: true,
				})
			}
		}
	}
}

// addCode keeps preformatted text verbatim, one unit per line.
func (s *splitter) addCode(b document.Block) {
	for i := range s.units {
		s.units[i].codeHead = false
	}
	for _, line := range strings.Split(strings.Trim(b.Text, "\n"), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		for _, piece := range s.hardSplit(line) {
			s.units = append(s.units, unit{text: piece, sep: "\n", page: b.Page, runes: runeCount(piece), kind: KindCode})
		}
	}
}

func nonEmptyLines(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

type sentence struct {
	text string
	sep  string // whitespace that preceded it in the source: "", " " or "\n"
}

// Abbreviations whose period does not end an English sentence.
var abbreviations = map[string]bool{
	"e.g": true, "i.e": true, "etc": true, "vs": true, "mr": true, "mrs": true, "ms": true,
	"dr": true, "no": true, "fig": true, "approx": true, "st": true, "inc": true, "ltd": true,
}

// sentences splits text at Chinese sentence ends (。！？；…), at English ones (. ! ?
// followed by whitespace) and at line breaks. Closing quotes and brackets stay with the
// sentence they close.
func sentences(text string) []sentence {
	var out []sentence
	sep := ""
	start := 0
	add := func(end int) {
		if t := strings.TrimSpace(text[start:end]); t != "" {
			out = append(out, sentence{text: t, sep: sep})
		}
		// Record the whitespace between this sentence and the next.
		ws := end
		for ws < len(text) && (text[ws] == ' ' || text[ws] == '\t' || text[ws] == '\n' || text[ws] == '\r') {
			ws++
		}
		switch gap := text[end:ws]; {
		case strings.Contains(gap, "\n"):
			sep = "\n"
		case gap != "":
			sep = " "
		default:
			sep = ""
		}
		start = ws
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		next := i + size
		switch {
		case r == '\n':
			add(i)
			next = max(next, start)
		case strings.ContainsRune("。！？；…", r) || (r == '!' || r == '?') && next < len(text) && text[next] >= utf8.RuneSelf:
			end := skipClosers(text, next)
			add(end)
			next = max(end, start)
		case (r == '.' || r == '!' || r == '?') && next < len(text) && isSpaceByte(text[next]):
			end := skipClosers(text, next)
			if r == '.' && isAbbreviation(text[start:i]) {
				break
			}
			add(end)
			next = max(end, start)
		case (r == '.' || r == '!' || r == '?') && next < len(text) && strings.ContainsRune("\"')", rune(text[next])):
			end := skipClosers(text, next)
			if end < len(text) && isSpaceByte(text[end]) {
				add(end)
				next = max(end, start)
			}
		}
		i = next
	}
	if start < len(text) {
		add(len(text))
	}
	return out
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipClosers(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !strings.ContainsRune("”’」』）)》】\"'…。！？", r) {
			break
		}
		i += size
	}
	return i
}

func isAbbreviation(before string) bool {
	fields := strings.Fields(before)
	if len(fields) == 0 {
		return false
	}
	w := strings.ToLower(fields[len(fields)-1])
	return abbreviations[w] || utf8.RuneCountInString(w) == 1 && w[0] >= 'a' && w[0] <= 'z'
}

func endsSentence(text string) bool {
	r, _ := utf8.DecodeLastRuneInString(text)
	return strings.ContainsRune("。！？；.!?", r)
}

// hardSplit cuts a piece longer than MaxRunes, preferring a comma or space in the last
// third of each window over a cut mid-word.
func (s *splitter) hardSplit(text string) []string {
	limit := s.opts.MaxRunes
	if runeCount(text) <= limit {
		return []string{text}
	}
	var out []string
	rs := []rune(text)
	for len(rs) > limit {
		cut := limit
		for i := limit; i > limit*2/3; i-- {
			if strings.ContainsRune("，,、：:；;  ", rs[i-1]) {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimSpace(string(rs[:cut])))
		rs = rs[cut:]
	}
	if tail := strings.TrimSpace(string(rs)); tail != "" {
		out = append(out, tail)
	}
	return out
}

// flushSection packs the section's units into chunks of about TargetRunes, carrying whole
// sentences as overlap, and folds a small remainder into the previous chunk when it fits.
func (s *splitter) flushSection() {
	units := s.units
	s.units = nil
	if len(units) == 0 {
		return
	}
	var groups [][]unit
	var cur []unit
	curRunes, fresh := 0, 0
	for _, u := range units {
		add := u.runes + len(u.sep)
		if fresh > 0 && curRunes+add > s.opts.TargetRunes {
			groups = append(groups, cur)
			cur = s.overlapOf(cur, u)
			curRunes = groupRunes(cur)
			fresh = 0
			add = u.runes + len(u.sep)
		}
		cur = append(cur, u)
		curRunes += add
		fresh++
	}
	if fresh > 0 {
		// A short tail reads better appended to the chunk before it.
		tail := cur[len(cur)-fresh:]
		if n := len(groups); n > 0 && groupRunes(tail) < s.opts.TargetRunes/4 &&
			groupRunes(groups[n-1])+groupRunes(tail) <= s.opts.MaxRunes {
			groups[n-1] = append(groups[n-1], tail...)
		} else {
			groups = append(groups, cur)
		}
	}
	for _, g := range groups {
		kind := KindCode
		for _, u := range g {
			if u.kind != KindCode {
				kind = KindText
			}
		}
		s.emit(g, kind)
	}
}

// overlapOf returns the trailing sentences of prev to repeat before next: at most
// OverlapRunes, never all of prev, and never pushing the new chunk past MaxRunes.
func (s *splitter) overlapOf(prev []unit, next unit) []unit {
	budget := min(s.opts.OverlapRunes, s.opts.MaxRunes-next.runes-1)
	total := 0
	i := len(prev)
	for i > 1 && prev[i-1].overlap {
		r := prev[i-1].runes + len(prev[i-1].sep)
		if total+r > budget {
			break
		}
		total += r
		i--
	}
	return append([]unit(nil), prev[i:]...)
}

func groupRunes(units []unit) int {
	n := 0
	for i, u := range units {
		n += u.runes
		if i > 0 {
			n += len(u.sep)
		}
	}
	return n
}
