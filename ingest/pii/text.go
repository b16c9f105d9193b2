package pii

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Names are only recognised after a label: a bare two-character Han word is far more often
// an ordinary word than a name.
var (
	nameLabelRE = regexp.MustCompile(`(?:收件人|收货人|联系人|寄件人|客户姓名|姓名|持卡人|户名|我叫)\s*(?:是|为|叫)?\s*[:：]?\s*(\p{Han}{2,4})`)
	nameEnRE    = regexp.MustCompile(`\b(?:[Nn]ame|NAME|[Cc]ontact|[Rr]ecipient)\s*[:：]\s*([A-Z][a-z]+(?: [A-Z][a-z]+){0,2}|\p{Han}{2,4})`)
)

// Words that follow a name without punctuation ("收件人张三电话…") and cut it short.
var nameStops = []string{"电话", "手机", "地址", "联系", "号码", "先生", "女士", "小姐", "收件", "收货", "的", "是", "和", "在", "已", "说"}

// Words a label is followed by when no name is given ("姓名填错了").
var notNames = []string{"信息", "电话", "地址", "姓名", "填写", "修改", "写错", "填错", "不对", "错了", "没有", "什么", "不是", "栏", "需要", "可以"}

// nameHints are substrings every name match contains; checking them first skips the
// regexps for most messages.
var nameHints = []string{"收件人", "收货人", "联系人", "寄件人", "姓名", "持卡人", "户名", "我叫", "ame", "AME", "ontact", "ecipient"}

func findNames(text string) []Finding {
	if !containsAny(text, nameHints) {
		return nil
	}
	var out []Finding
	for _, re := range []*regexp.Regexp{nameLabelRE, nameEnRE} {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			start, end := m[2], m[3]
			name := text[start:end]
			if hasPrefixAny(name, notNames) {
				continue
			}
			// Look past the captured runes: "李小明电话" captures only "李小明电".
			window := text[start:min(len(text), end+len("电话"))]
			for _, stop := range nameStops {
				if i := strings.Index(window, stop); i >= 0 && i < len(name) {
					name = name[:i]
				}
			}
			if utf8.RuneCountInString(name) < 2 {
				continue
			}
			out = append(out, Finding{Kind: Name, Start: start, End: start + len(name)})
		}
	}
	return out
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

var (
	addressLabelRE = regexp.MustCompile(`(?:收货地址|收件地址|送货地址|家庭地址|详细地址|地址|住址|寄到|送到|送达|发到|寄往|派送到|配送到|住在)\s*(?:是|为|改为|改成)?\s*[:：]?\s*`)
	provinceRE     = regexp.MustCompile(`(?:北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆)`)
	cityRE         = regexp.MustCompile(`\p{Han}{2,3}市\p{Han}{1,4}?[区县]`)
)

// Address text runs until punctuation or whitespace.
func isAddressRune(r rune) bool {
	return r >= 0x4e00 && r <= 0x9fff || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' ||
		r >= 'A' && r <= 'Z' || r == '-' || r == '#' || r == '－' || r == '＃'
}

// Street-level markers: an address needs one, so "北京时间" or "广东省内" stay.
var streetMarkers = []string{"路", "街", "巷", "弄", "胡同", "大道", "号", "小区", "栋", "幢", "室", "单元", "村", "大厦", "花园", "公寓", "苑"}

// Where an address may end: after the last marker, plus trailing digits of a unit number.
var addressEnds = []string{"路", "街", "巷", "弄", "胡同", "大道", "道", "号", "小区", "栋", "幢", "楼", "室", "单元", "层", "座", "村", "大厦", "花园", "公寓", "苑", "区", "县", "镇", "乡"}

// Leading function words a city anchor may have swallowed ("我在深圳市…").
const addressLeadTrim = "我在到是往寄送住的从于去"

func findAddresses(text string) []Finding {
	var out []Finding
	covered := 0
	emit := func(start int, needAdmin bool) {
		if start < covered {
			return
		}
		end := start
		n := 0
		for end < len(text) && n < 80 {
			r, size := utf8.DecodeRuneInString(text[end:])
			if !isAddressRune(r) {
				break
			}
			end += size
			n++
		}
		value := text[start:end]
		if !containsAny(value, streetMarkers) || needAdmin && !strings.ContainsAny(value, "省市区县") {
			return
		}
		cut := lastEndOf(value)
		if cut <= 0 {
			return
		}
		out = append(out, Finding{Kind: Address, Start: start, End: start + cut})
		covered = start + cut
	}
	// Every address has a street marker; most messages have none, so skip the regexps.
	if !containsAny(text, streetMarkers) {
		return nil
	}
	for _, m := range addressLabelRE.FindAllStringIndex(text, -1) {
		emit(m[1], false)
	}
	var anchors [][]int
	anchors = append(anchors, provinceRE.FindAllStringIndex(text, -1)...)
	if strings.Contains(text, "市") {
		anchors = append(anchors, cityRE.FindAllStringIndex(text, -1)...)
	}
	sort.Slice(anchors, func(i, j int) bool { return anchors[i][0] < anchors[j][0] })
	for _, m := range anchors {
		start := m[0]
		for {
			r, size := utf8.DecodeRuneInString(text[start:])
			if !strings.ContainsRune(addressLeadTrim, r) || start+size >= m[1] {
				break
			}
			start += size
		}
		emit(start, true)
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lastEndOf returns the byte offset just past the last address-ending marker in v, with any
// unit digits or letters that follow it ("…8号楼3单元502" ends after 502).
func lastEndOf(v string) int {
	best := -1
	for _, m := range addressEnds {
		if i := strings.LastIndex(v, m); i >= 0 && i+len(m) > best {
			best = i + len(m)
		}
	}
	if best < 0 {
		return best
	}
	for best < len(v) && (isAlnum(v[best]) || v[best] == '-' || v[best] == '#') {
		best++
	}
	return best
}
