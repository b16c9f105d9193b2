package pii

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// FuzzMask puts a valid mainland mobile number, written as customers write it, between
// arbitrary text and asserts that the masked output keeps no run of its digits: not the
// number, and not its last 8 digits (what a partial mask would leave). Findings are in
// bounds, in order and do not overlap; valid UTF-8 stays valid.
func FuzzMask(f *testing.F) {
	f.Fuzz(func(t *testing.T, before, after string, n uint64, style int) {
		digits := fmt.Sprintf("1%d%09d", 3+n%7, n%1_000_000_000)
		phone := digits
		switch abs(style) % 4 {
		case 1:
			phone = digits[:3] + " " + digits[3:7] + " " + digits[7:]
		case 2:
			phone = digits[:3] + "-" + digits[3:7] + "-" + digits[7:]
		case 3:
			phone = "+86 " + digits
		}
		// The number stands alone: what touches it is not a digit, letter or joiner that
		// would make it part of a longer code.
		edge := func(r rune) bool {
			return unicode.IsDigit(r) || unicode.IsLetter(r) || r == '-' || r == '_' || r == '+' || r == '.' || r == '/'
		}
		if r, _ := utf8.DecodeLastRuneInString(before); before != "" && edge(r) {
			before += " "
		}
		if r, _ := utf8.DecodeRuneInString(after); after != "" && edge(r) {
			after = " " + after
		}
		text := before + phone + after
		out, findings := Mask(text, Options{})
		squeeze := strings.NewReplacer(" ", "", "-", "").Replace
		plain, context := squeeze(out), squeeze(before)+"|"+squeeze(after)
		for _, needle := range []string{digits, digits[3:]} {
			if strings.Contains(plain, needle) && !strings.Contains(context, needle) {
				t.Fatalf("phone %s survives masking of %q: %q", digits, text, out)
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("masking broke UTF-8: %q", out)
		}
		last := 0
		for _, fd := range findings {
			if fd.Start < last || fd.End <= fd.Start || fd.End > len(text) {
				t.Fatalf("finding %+v out of order or bounds (len %d)", fd, len(text))
			}
			last = fd.End
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzMask", "zh", "收件人张三丰，电话", "，地址浙江省杭州市西湖区文三路90号", uint64(38123456), 0)
	fuzzseed.Write(t, "FuzzMask", "en", "How long is the warranty? My number is", "", uint64(83319128), 3)
	fuzzseed.Write(t, "FuzzMask", "order-next", "订单号 2024052112345678 ", " 邮箱 a@b.cn", uint64(1), 1)
	fuzzseed.Write(t, "FuzzMask", "idcard-next", "身份证 11010519491231002X 手机", "", uint64(999999999), 2)
}
