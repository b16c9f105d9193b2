package catalog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// Column value types, as recorded in Column.Type.
const (
	TypeText   = "text"
	TypeNumber = "number"
	TypeDate   = "date"
	TypeBool   = "bool"
	TypeList   = "list" // a JSON array cell
)

// ParseNumber reads a price-like or count-like number: currency marks (¥ ￥ $ RMB CNY 元)
// and thousands separators are stripped, so "¥1,299.00" is 1299. Codes with leading zeros
// ("00123"), exponents and ranges are not numbers.
func ParseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for _, p := range []string{"¥", "￥", "$", "RMB", "CNY", "rmb", "cny"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, suf := range []string{"元", "RMB", "CNY"} {
		s = strings.TrimSuffix(s, suf)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if strings.ContainsRune(s, ',') {
		if !groupedThousands(s) {
			return 0, false
		}
		s = strings.ReplaceAll(s, ",", "")
	}
	digits, dots := 0, 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		case (r == '-' || r == '+') && i == 0:
		default:
			return 0, false
		}
	}
	if digits == 0 || dots > 1 {
		return 0, false
	}
	unsigned := strings.TrimLeft(s, "+-")
	if len(unsigned) > 1 && unsigned[0] == '0' && unsigned[1] != '.' {
		return 0, false // "00123" is a code, not a number
	}
	if digits > 15 {
		return 0, false // beyond float64 precision: a barcode or id
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// groupedThousands reports whether s is digits grouped by commas in threes, e.g. 1,299.00.
func groupedThousands(s string) bool {
	s = strings.TrimLeft(s, "+-")
	intPart, _, _ := strings.Cut(s, ".")
	groups := strings.Split(intPart, ",")
	if len(groups[0]) < 1 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

var dateLayouts = []string{
	"2006-01-02", "2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日", "20060102",
	"2006-1-2 15:04:05", "2006-1-2 15:04", "2006/1/2 15:04:05", "2006/1/2 15:04",
	"2006年1月2日 15:04:05", "2006年1月2日 15:04", "2006-01-02T15:04:05", time.RFC3339,
}

// ParseDate reads common date spellings (2024-11-11, 2024/11/11, 2024.11.11, 2024年11月11日,
// optionally with a time, or RFC 3339) and returns ISO 8601: "2024-11-11" when there is no
// time of day, "2024-11-11T20:00:00" (with the zone when given) otherwise.
func ParseDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 6 || s[0] < '0' || s[0] > '9' {
		return "", false
	}
	for _, l := range dateLayouts {
		if l == "20060102" && len(s) != 8 {
			continue
		}
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if l == "20060102" && (t.Year() < 1900 || t.Year() > 2200) {
			return "", false
		}
		switch {
		case l == time.RFC3339:
			return t.Format(time.RFC3339), true
		case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
			return t.Format("2006-01-02"), true
		default:
			return t.Format("2006-01-02T15:04:05"), true
		}
	}
	return "", false
}

// SerialDate converts an Excel serial day number (45607 → "2024-11-11") for columns whose
// header says they hold dates. Only serials between 1954 and 2119 count, so a small count
// in a date-named column is not mistaken for 1900.
func SerialDate(v float64) (string, bool) {
	if v < 20000 || v > 80000 {
		return "", false
	}
	t, err := excelize.ExcelDateToTime(v, false)
	if err != nil {
		return "", false
	}
	if v == float64(int64(v)) {
		return t.Format("2006-01-02"), true
	}
	return t.Format("2006-01-02T15:04:05"), true
}

// ParseBool reads 是/否, yes/no and true/false in any case.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "是", "yes", "true":
		return true, true
	case "否", "no", "false":
		return false, true
	}
	return false, false
}

// classify returns the type a single cell looks like.
func classify(s string, dateHint bool) string {
	if _, ok := ParseNumber(s); ok {
		if dateHint {
			v, _ := ParseNumber(s)
			if _, ok := SerialDate(v); ok {
				return TypeDate
			}
		}
		return TypeNumber
	}
	if _, ok := ParseDate(s); ok {
		return TypeDate
	}
	if _, ok := ParseBool(s); ok {
		return TypeBool
	}
	if strings.HasPrefix(s, "[") && json.Valid([]byte(s)) {
		return TypeList
	}
	return TypeText
}

// typed converts a cell to a value of the column's type, or keeps the text when the cell
// does not fit: numbers are float64, dates ISO strings, booleans bool, lists []any.
func typed(s, typ string, dateHint bool) any {
	switch typ {
	case TypeNumber:
		if v, ok := ParseNumber(s); ok {
			return v
		}
	case TypeDate:
		if d, ok := ParseDate(s); ok {
			return d
		}
		if v, ok := ParseNumber(s); ok && dateHint {
			if d, ok := SerialDate(v); ok {
				return d
			}
		}
	case TypeBool:
		if b, ok := ParseBool(s); ok {
			return b
		}
	case TypeList:
		var list []any
		if json.Unmarshal([]byte(s), &list) == nil {
			return list
		}
	}
	return s
}

// dateWords mark headers of date columns, where a bare number is an Excel serial date.
var dateWords = []string{"date", "time", "日期", "时间", "上架", "下架", "生产", "到期", "有效期"}

func isDateHeader(h string) bool {
	h = strings.ToLower(h)
	for _, w := range dateWords {
		if strings.Contains(h, w) {
			return true
		}
	}
	return false
}

// columnType picks a column's type from its cells: the type of at least 90% of the
// non-empty cells, else text. A stray "面议" in a price column does not make it text.
func columnType(cells []string, dateHint bool) string {
	counts := map[string]int{}
	n := 0
	for _, c := range cells {
		if c == "" {
			continue
		}
		n++
		counts[classify(c, dateHint)]++
	}
	if n == 0 {
		return TypeText
	}
	for _, t := range []string{TypeNumber, TypeDate, TypeBool, TypeList} {
		if counts[t]*10 >= n*9 {
			return t
		}
	}
	return TypeText
}
