package pii

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// digitRunRE finds runs of digit groups joined by single spaces or dashes ("138 1234 5678",
// "6222-0212-3456-7890", "110105 19491231 002X"). Runs are classified piecewise below, so
// two numbers written side by side ("4111… 138…") are still found separately.
var digitRunRE = regexp.MustCompile(`\d+(?:[ -]\d+)*[Xx]?`)

// landlineParenRE is the one number shape the run scanner cannot see: "(021)12345678".
var landlineParenRE = regexp.MustCompile(`[(（]0\d{2,3}[)）]\s?[1-9]\d{6,7}`)

type digitSegment struct{ start, end int }

// findNumbers classifies digit runs as ID numbers, bank cards, mobiles and landlines. For
// each run it takes, from left to right, the longest stretch of whole groups that one of
// the validators accepts.
func findNumbers(text string) []Finding {
	var out []Finding
	for _, run := range digitRunRE.FindAllStringIndex(text, -1) {
		segs := splitSegments(text, run[0], run[1])
		for i := 0; i < len(segs); {
			matched := false
			for j := len(segs) - 1; j >= i; j-- {
				start, end := segs[i].start, segs[j].end
				if j > i && !groupedLikeANumber(segs[i:j+1]) {
					continue
				}
				// A leading "+" belongs to "+86 …".
				if start > 0 && text[start-1] == '+' {
					start--
				}
				if !standsAlone(text, start, end) {
					continue
				}
				if k, ok := classifyNumber(digitsOnly(text[start:end]), shapeOf(segs[i:j+1])); ok {
					out = append(out, Finding{Kind: k, Start: start, End: end})
					i = j + 1
					matched = true
					break
				}
			}
			if !matched {
				i++
			}
		}
	}
	for _, m := range landlineParenRE.FindAllStringIndex(text, -1) {
		if standsAlone(text, m[0], m[1]) {
			out = append(out, Finding{Kind: Landline, Start: m[0], End: m[1]})
		}
	}
	return out
}

func splitSegments(text string, start, end int) []digitSegment {
	var segs []digitSegment
	segStart := start
	for i := start; i < end; i++ {
		if c := text[i]; c == ' ' || c == '-' {
			segs = append(segs, digitSegment{segStart, i})
			segStart = i + 1
		}
	}
	return append(segs, digitSegment{segStart, end})
}

// groupedLikeANumber rejects stretches such as "3 4 5 6 …" or "2023-10-01": numbers written
// in groups use groups of at least three digits after an optional country code.
func groupedLikeANumber(segs []digitSegment) bool {
	if segs[0].end-segs[0].start < 2 {
		return false
	}
	for _, s := range segs[1:] {
		if s.end-s.start < 3 {
			return false
		}
	}
	return true
}

func shapeOf(segs []digitSegment) []int {
	shape := make([]int, len(segs))
	for i, s := range segs {
		shape[i] = s.end - s.start
	}
	return shape
}

// classifyNumber validates the digits d, written in groups of the given lengths. A number
// split into groups must be split the way that kind is usually written, so a list such as
// "120 150 180 200 220" is not read as an ID number.
func classifyNumber(d string, shape []int) (Kind, bool) {
	single := len(shape) == 1
	switch {
	case validIDCard(d) && (single || shapeIs(shape, 6, 8, 4) || shapeIs(shape, 6, 6, 3)):
		return IDCard, true
	case validBankCard(d) && (single || cardShape(shape)):
		return BankCard, true
	case validMobile(d) && mobileShape(shape):
		return Mobile, true
	case validLandline(d) && (single || len(shape) == 2 && shape[0] >= 3 && shape[0] <= 4):
		return Landline, true
	}
	return "", false
}

func shapeIs(shape []int, want ...int) bool { return slices.Equal(shape, want) }

// cardShape: groups of four, the last group holding the remaining one to seven digits.
func cardShape(shape []int) bool {
	for _, n := range shape[:len(shape)-1] {
		if n != 4 {
			return false
		}
	}
	last := shape[len(shape)-1]
	return last >= 1 && last <= 7
}

// mobileShape: an optional 86/0086 group, then 11 digits as one group, 3-4-4, 4-3-4 or 3-8.
func mobileShape(shape []int) bool {
	if len(shape) == 1 {
		return true
	}
	if len(shape) > 1 && (shape[0] == 2 || shape[0] == 4) {
		shape = shape[1:]
	}
	return shapeIs(shape, 11) || shapeIs(shape, 3, 4, 4) || shapeIs(shape, 4, 3, 4) || shapeIs(shape, 3, 8)
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// validIDCard accepts 18-digit resident ID numbers whose GB 11643 check character matches,
// and 15-digit pre-1999 numbers with a valid birth date; both need a plausible region code.
func validIDCard(d string) bool {
	if len(d) != 18 && len(d) != 15 || d[0] < '1' || d[0] > '8' {
		return false
	}
	for i := 0; i < len(d)-1; i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	if len(d) == 15 {
		return d[14] >= '0' && d[14] <= '9' && validDate("19"+d[6:12])
	}
	if !validDate(d[6:14]) {
		return false
	}
	sum := 0
	for i, w := range idWeights {
		sum += int(d[i]-'0') * w
	}
	return strings.EqualFold(string(idCheckChars[sum%11]), d[17:])
}

func validDate(yyyymmdd string) bool {
	t, err := time.Parse("20060102", yyyymmdd)
	return err == nil && t.Year() >= 1900 && t.Year() <= 2100
}

// validBankCard accepts 16–19 digits passing the Luhn check and starting like a card issued
// in China (UnionPay 62, old debit 9, Visa 4, Mastercard 5, Amex/JCB 3). The Luhn check keeps
// most order numbers and product codes out; the prefix halves what slips through.
func validBankCard(d string) bool {
	if len(d) < 16 || len(d) > 19 || !strings.ContainsRune("34569", rune(d[0])) {
		return false
	}
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		n := int(c - '0')
		if (len(d)-1-i)%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// validMobile accepts mainland mobile numbers, 1[3-9] plus nine digits, optionally behind
// 86 or 0086.
func validMobile(d string) bool {
	d = strings.TrimPrefix(d, "00")
	if len(d) == 13 && strings.HasPrefix(d, "86") {
		d = d[2:]
	}
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' && allDigits(d)
}

// validLandline accepts an area code (010, 02x, or 0xxx) followed by a 7–8 digit local
// number that does not start with 0.
func validLandline(d string) bool {
	if len(d) < 10 || len(d) > 12 || d[0] != '0' || d[1] == '0' || !allDigits(d) {
		return false
	}
	area := 4
	if d[1] == '1' || d[1] == '2' {
		area = 3
	}
	local := d[area:]
	return len(local) >= 7 && len(local) <= 8 && local[0] != '0'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
