package chunk

import (
	"strings"

	"github.com/zhiku/zhiku/ingest/document"
)

// addTable emits a table whole when it fits MaxRunes, otherwise in pieces of whole rows
// filled to TargetRunes, each starting with the header row.
func (s *splitter) addTable(b document.Block) {
	var rows []string
	if len(b.Rows) > 0 {
		for _, cells := range b.Rows {
			trimmed := make([]string, len(cells))
			empty := true
			for i, c := range cells {
				trimmed[i] = cleanLine(c)
				empty = empty && trimmed[i] == ""
			}
			if !empty {
				rows = append(rows, strings.Join(trimmed, " | "))
			} else if len(rows) == 0 && b.HasHeader {
				rows = append(rows, "") // keep the header slot
			}
		}
	} else {
		rows = nonEmptyLines(b.Text)
	}
	header := ""
	if b.HasHeader && len(rows) > 0 {
		header, rows = rows[0], rows[1:]
	}
	if len(rows) == 0 {
		if header != "" {
			s.emit([]unit{{text: header, page: b.Page, runes: runeCount(header)}}, KindTable)
		}
		return
	}
	headerUnit := unit{text: header, page: b.Page, runes: runeCount(header)}
	var body []unit
	total := headerUnit.runes
	for _, row := range rows {
		// A row is cut only when it alone exceeds MaxRunes, leaving room for the header.
		for _, piece := range splitRunes(row, max(s.opts.MaxRunes-headerUnit.runes-1, s.opts.MaxRunes/2)) {
			body = append(body, unit{text: piece, sep: "\n", page: b.Page, runes: runeCount(piece)})
			total += runeCount(piece) + 1
		}
	}
	if total <= s.opts.MaxRunes {
		s.emit(withHeader(headerUnit, body), KindTable)
		return
	}
	var cur []unit
	curRunes := headerUnit.runes
	for _, u := range body {
		if len(cur) > 0 && curRunes+u.runes+1 > s.opts.TargetRunes {
			s.emit(withHeader(headerUnit, cur), KindTable)
			cur, curRunes = nil, headerUnit.runes
		}
		cur = append(cur, u)
		curRunes += u.runes + 1
	}
	s.emit(withHeader(headerUnit, cur), KindTable)
}

func withHeader(header unit, body []unit) []unit {
	if header.text == "" {
		return body
	}
	out := make([]unit, 0, len(body)+1)
	out = append(out, header)
	return append(out, body...)
}

func splitRunes(text string, limit int) []string {
	rs := []rune(text)
	if len(rs) <= limit {
		return []string{text}
	}
	var out []string
	for len(rs) > limit {
		out = append(out, string(rs[:limit]))
		rs = rs[limit:]
	}
	return append(out, string(rs))
}
