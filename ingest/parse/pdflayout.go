package parse

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// layoutLines groups a page's text runs, in content-stream order, into visual lines. A new
// line starts when the baseline moves by more than half the font size; within a line, a
// gap wider than a fifth of an em becomes a space and a gap wider than three ems starts a
// new cell (a table column).
func layoutLines(runs []textRun, page int) []textLine {
	var lines []textLine
	var cur struct {
		y, lastEnd, prevY float64
		cells             []strings.Builder
		sizes             map[float64]int
		open, hasPrev     bool
	}
	flush := func() {
		if !cur.open {
			return
		}
		var cells []string
		for i := range cur.cells {
			if t := strings.TrimSpace(cur.cells[i].String()); t != "" {
				cells = append(cells, t)
			}
		}
		size := dominantSize(cur.sizes)
		if len(cells) > 0 {
			l := textLine{text: strings.Join(cells, "  "), size: size, page: page}
			if len(cells) >= 2 {
				l.cells = cells
			}
			if cur.hasPrev {
				gap := cur.prevY - cur.y
				l.breakBefore = gap > 1.8*size || gap < -size
			}
			lines = append(lines, l)
			cur.prevY, cur.hasPrev = cur.y, true
		}
		cur.open = false
	}
	for _, r := range runs {
		if strings.TrimSpace(r.text) == "" && !cur.open {
			continue
		}
		size := math.Max(r.size, 1)
		if cur.open && (math.Abs(r.y-cur.y) > size/2 || r.x < cur.lastEnd-3*size) {
			flush()
		}
		if !cur.open {
			cur.open, cur.y = true, r.y
			cur.cells = []strings.Builder{{}}
			cur.sizes = map[float64]int{}
		} else {
			gap := r.x - cur.lastEnd
			switch {
			case gap > 3*size:
				cur.cells = append(cur.cells, strings.Builder{})
			case gap > size/5:
				cur.cells[len(cur.cells)-1].WriteByte(' ')
			}
		}
		cur.cells[len(cur.cells)-1].WriteString(strings.Map(controlToSpace, r.text))
		cur.sizes[math.Round(size*2)/2] += len([]rune(r.text))
		cur.lastEnd = math.Max(r.endX, r.x)
	}
	flush()
	return lines
}

func controlToSpace(r rune) rune {
	if r < 0x20 || r == 0x7F {
		return ' '
	}
	return r
}

func dominantSize(sizes map[float64]int) float64 {
	best, bestN := 0.0, -1
	for s, n := range sizes {
		if n > bestN || n == bestN && s > best {
			best, bestN = s, n
		}
	}
	return best
}

// sizeHeadings returns a heading-level function for a document's lines: lines set at least
// 15% larger than the body text, and short, are headings; the largest such size is level 1.
func sizeHeadings(lines []textLine) func(size float64, runes int) int {
	weights := map[float64]int{}
	for _, l := range lines {
		weights[l.size] += len([]rune(l.text))
	}
	body := dominantSize(weights)
	if body <= 0 {
		return nil
	}
	var big []float64
	for s := range weights {
		if s >= body*1.15 {
			big = append(big, s)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(big)))
	return func(size float64, runes int) int {
		if runes > 80 {
			return 0
		}
		for i, s := range big {
			if size == s {
				return min(i+1, 6)
			}
		}
		return 0
	}
}

// garbleRatio estimates how much of a page's text is mojibake: replacement and control
// characters, private-use code points, and Latin-1 letters in quantities no real language
// uses (the signature of CJK bytes decoded as WinAnsi).
func garbleRatio(s string) float64 {
	var total, bad, latinExt int
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		total++
		switch {
		case r == unicode.ReplacementChar, r < 0x20, r >= 0x7F && r < 0xA0, r >= 0xE000 && r <= 0xF8FF:
			bad++
		case r >= 0xA0 && r < 0x250:
			latinExt++
		}
	}
	if total == 0 {
		return 0
	}
	ratio := float64(bad) / float64(total)
	if latinExt*10 >= total*4 {
		ratio = math.Max(ratio, float64(latinExt)/float64(total))
	}
	return ratio
}

// garbled reports whether a page's text is too broken to index.
func garbled(s string) bool { return garbleRatio(s) > 0.15 }
