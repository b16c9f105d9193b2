package pii

import (
	"regexp"
	"sort"
	"strings"
)

// Kind names a category of personal data.
type Kind string

// Kinds Mask detects. When matches overlap, e-mails win over order numbers, order numbers
// over the numeric kinds, and those over names and addresses.
const (
	Email    Kind = "email"
	Order    Kind = "order"
	IDCard   Kind = "id_card"
	BankCard Kind = "bank_card"
	Mobile   Kind = "mobile"
	Landline Kind = "landline"
	Name     Kind = "name"
	Address  Kind = "address"
)

// Placeholder is the text that replaces a match of kind k, e.g. "[手机号]".
func Placeholder(k Kind) string {
	switch k {
	case Email:
		return "[邮箱]"
	case Order:
		return "[订单号]"
	case IDCard:
		return "[身份证号]"
	case BankCard:
		return "[银行卡号]"
	case Mobile:
		return "[手机号]"
	case Landline:
		return "[电话]"
	case Name:
		return "[姓名]"
	case Address:
		return "[地址]"
	}
	return "[" + string(k) + "]"
}

// kinds lists every Kind, for HasPlaceholder.
var kinds = []Kind{Email, Order, IDCard, BankCard, Mobile, Landline, Name, Address}

// HasPlaceholder reports whether s contains a placeholder Mask writes, such as "[手机号]".
func HasPlaceholder(s string) bool {
	if !strings.Contains(s, "[") {
		return false
	}
	for _, k := range kinds {
		if strings.Contains(s, Placeholder(k)) {
			return true
		}
	}
	return false
}

// RemovePlaceholders deletes every placeholder Mask writes from s.
func RemovePlaceholders(s string) string {
	for _, k := range kinds {
		s = strings.ReplaceAll(s, Placeholder(k), "")
	}
	return s
}

// Options tunes Mask. The zero value masks every kind with the default order-number patterns.
type Options struct {
	// OrderPatterns find order numbers. When a pattern has a capture group only group 1 is
	// masked (so the label "订单号：" stays readable), otherwise the whole match; a match
	// without any digit is ignored. Nil means DefaultOrderPatterns.
	OrderPatterns []*regexp.Regexp
	// Keep lists kinds to leave unmasked, e.g. Address when addresses are not sensitive in
	// a deployment. Empty masks everything.
	Keep []Kind
}

// DefaultOrderPatterns match order numbers after a Chinese or English label, and long digit
// runs shortly after 订单.
var DefaultOrderPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?:订单号|订单编号|订单号码|单号|运单号|快递单号|物流单号)\s*(?:是|为)?[:：#\s]*([A-Za-z0-9][A-Za-z0-9-]{4,39})`),
	regexp.MustCompile(`(?i)\border\s*(?:no\.?|number|num|id|#)\s*(?:is\s*)?[:：#\s]*([A-Za-z0-9][A-Za-z0-9-]{4,39})`),
	regexp.MustCompile(`订单[^\d\n。！？]{0,8}?(\d{10,30})`),
}

// Finding reports one masked span. Offsets are byte offsets into the original text; the
// value itself is deliberately not kept so findings can be logged safely.
type Finding struct {
	Kind  Kind
	Start int
	End   int
}

// Mask replaces personal data in text with placeholders and reports what it replaced, in
// text order. Text without personal data is returned unchanged.
func Mask(text string, opts Options) (string, []Finding) {
	if text == "" {
		return text, nil
	}
	keep := map[Kind]bool{}
	for _, k := range opts.Keep {
		keep[k] = true
	}
	orderPatterns := opts.OrderPatterns
	if orderPatterns == nil {
		orderPatterns = DefaultOrderPatterns
	}

	var spans []Finding // candidates in priority order
	add := func(k Kind, found []Finding) {
		if !keep[k] {
			spans = append(spans, found...)
		}
	}
	add(Email, findRegexp(text, emailRE, Email, nil))
	add(Order, findOrders(text, orderPatterns, opts.OrderPatterns == nil))
	for _, f := range findNumbers(text) {
		add(f.Kind, []Finding{f})
	}
	add(Name, findNames(text))
	add(Address, findAddresses(text))
	if len(spans) == 0 {
		return text, nil
	}

	// Earlier kinds win overlaps: a validated ID number beats the mobile-looking digits
	// inside it, a labelled order number beats a Luhn-valid card reading. A later finding
	// that only partly overlaps an earlier one is other personal data sharing characters
	// with it (a mobile number run into an e-mail address: "138 0013 8000@x.cn"); masking
	// the earlier alone would leave the rest of the later readable, so the earlier's mask
	// grows to cover both.
	var accepted []Finding
	for _, s := range spans {
		var rest []Finding
		union, inside, clashed := s, false, false
		for _, a := range accepted {
			if s.End <= a.Start || a.End <= s.Start {
				rest = append(rest, a)
				continue
			}
			if a.Start <= s.Start && s.End <= a.End {
				inside = true
				break
			}
			if !clashed {
				union.Kind, clashed = a.Kind, true
			}
			union.Start, union.End = min(union.Start, a.Start), max(union.End, a.End)
		}
		switch {
		case inside:
		case clashed:
			accepted = append(rest, union)
		default:
			accepted = append(accepted, s)
		}
	}
	sort.Slice(accepted, func(i, j int) bool { return accepted[i].Start < accepted[j].Start })

	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range accepted {
		b.WriteString(text[last:f.Start])
		b.WriteString(Placeholder(f.Kind))
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), accepted
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
)

func findRegexp(text string, re *regexp.Regexp, k Kind, valid func(string) bool) []Finding {
	var out []Finding
	for _, m := range re.FindAllStringIndex(text, -1) {
		if valid == nil || valid(text[m[0]:m[1]]) {
			out = append(out, Finding{Kind: k, Start: m[0], End: m[1]})
		}
	}
	return out
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func standsAlone(text string, start, end int) bool {
	if start > 0 {
		c := text[start-1]
		if isAlnum(c) || (c == '-' || c == '_' || c == '.') && start > 1 && isAlnum(text[start-2]) {
			return false
		}
	}
	if end < len(text) {
		c := text[end]
		if isAlnum(c) || (c == '-' || c == '_') && end+1 < len(text) && isAlnum(text[end+1]) {
			return false
		}
		// "13812345678.5" is a number with decimals, not a phone number.
		if c == '.' && end+1 < len(text) && text[end+1] >= '0' && text[end+1] <= '9' {
			return false
		}
	}
	return true
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == 'X' || c == 'x' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func findOrders(text string, patterns []*regexp.Regexp, defaults bool) []Finding {
	// Each default pattern needs 单 or "order"; skip them for other text.
	if defaults && !strings.Contains(text, "单") &&
		!strings.Contains(strings.ToLower(text), "order") {
		return nil
	}
	var out []Finding
	for _, re := range patterns {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			start, end := m[0], m[1]
			if len(m) >= 4 && m[2] >= 0 {
				start, end = m[2], m[3]
			}
			if !strings.ContainsAny(text[start:end], "0123456789") {
				continue
			}
			out = append(out, Finding{Kind: Order, Start: start, End: end})
		}
	}
	return out
}
