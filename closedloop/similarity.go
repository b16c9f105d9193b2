package closedloop

import (
	"math"
	"sort"
	"strings"

	"github.com/zhiku/zhiku/internal/segment"
)

// Chinese phrases that frame a question without saying what it is about ("请问怎么…",
// "…是什么"): removed before the character bigrams are taken, and treated as a break, so
// "退货流程是什么" and "怎么退货" compare on 退货, not on 什么 or 是什.
var zhFrames = func() []string {
	list := strings.Fields(`请问 你好 您好 怎么办 怎么样 怎么 怎样 如何 什么 为什么 是不是 能不能 可不可以 可以 能否 是否
		一下 我想 我要 想要 你们 我们 有没有 在哪里 在哪儿 在哪 哪里 哪儿 多少 一般 大概 还能 还可以 吗 呢 吧 啊 呀 了 的 么 嘛 啦 哦 是 我 你 您`)
	// Longest first, so "怎么办" is removed before "怎么".
	sort.SliceStable(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	return list
}()

// Words for "when / how long" frame a question like "怎么" does: the question is what
// happens when (发货, 到账), not the asking.
var zhWhen = []string{"什么时候", "啥时候", "多长时间", "多久", "几天", "何时"}

// contrasts are sets of key terms that name different intents although the questions
// around them read alike ("怎么退货" / "怎么换货", "发货" / "到货", "发票" / "收据"): two
// questions that each name a term of one set, but no term in common, never group. The
// grouping's precision on near-miss intents rests on these lists.
var contrasts = [][]string{
	{"退货", "换货", "退款", "维修", "补发", "退换", "发货", "到货", "补货", "签收", "发出", "价保", "差价"},
	{"发票", "收据", "小票"},
	{"w:return", "w:exchang", "w:refund", "w:repair", "w:swap"},
	{"w:return", "w:exchang", "w:refund", "w:ship", "w:deliveri", "w:arriv", "w:track", "w:dispatch"},
	{"w:invoic", "w:receipt"},
	{"w:cancel", "w:address", "w:track", "w:receipt", "w:ship"},
}

// contrasting reports whether two feature lists name different terms of one contrast set
// and none in common.
func contrasting(a, b []string) bool {
	if len(termsIn(a, []string{failed})) != len(termsIn(b, []string{failed})) {
		return true // "优惠券怎么用" asks how; "优惠券用不了" reports that it fails
	}
	for _, set := range contrasts {
		ina, inb := termsIn(a, set), termsIn(b, set)
		if len(ina) == 0 || len(inb) == 0 {
			continue
		}
		shared := false
		for t := range ina {
			shared = shared || inb[t]
		}
		if !shared {
			return true
		}
	}
	return false
}

func termsIn(feats, set []string) map[string]bool {
	out := map[string]bool{}
	for _, t := range set {
		if i := sort.SearchStrings(feats, t); i < len(feats) && feats[i] == t {
			out[t] = true
		}
	}
	return out
}

// failurePhrases report that something does not work: a question with one and a question
// without are different intents ("how do I use a coupon" / "my coupon does not work").
var failurePhrases = []string{"用不了", "无法使用", "不能用", "不可用", "没有减", "没减", "失败", "not working", "isn't working",
	"doesn't work", "does not work", "invalid", "can't apply", "cannot apply", "not applied"}

// failed is the feature of a question holding a failure phrase.
const failed = "x:failed"

// generic words name the shop's things in most questions (订单, order): no evidence that
// two questions share an intent.
var genericWords = map[string]bool{"w:order": true, "w:item": true, "w:product": true, "w:buy": true, "w:bought": true}

// English words that frame a question; segment.IsStopWord covers articles and auxiliaries.
var enFrames = map[string]bool{
	"i": true, "my": true, "me": true, "you": true, "your": true, "we": true, "our": true, "us": true,
	"please": true, "how": true, "what": true, "when": true, "where": true, "why": true, "which": true,
	"hi": true, "hello": true, "want": true, "need": true, "get": true, "still": true, "yet": true,
}

// lexicalFeatures are the units two questions are compared on: character bigrams of the
// Chinese runs (a lone character when a run has one), stemmed English words, numbers
// and codes; framing words dropped. Sorted, without repeats.
func lexicalFeatures(q string) []string {
	set := map[string]bool{}
	q = segment.Normalize(q)
	for _, p := range [][2]string{{"shipping address", "address"}, {"delivery address", "address"}} {
		q = strings.ReplaceAll(q, p[0], p[1])
	}
	for _, f := range failurePhrases {
		if strings.Contains(q, f) {
			set[failed] = true
		}
	}
	for _, sp := range segment.Split(q) {
		switch sp.Kind {
		case segment.KindHan:
			for _, run := range zhRuns(sp.Text) {
				r := []rune(run)
				if len(r) == 1 {
					set[run] = true
				}
				for i := 0; i+1 < len(r); i++ {
					set[string(r[i:i+2])] = true
				}
			}
		case segment.KindWord:
			w := "w:" + segment.Stem(sp.Text)
			if segment.IsStopWord(sp.Text) || enFrames[sp.Text] || genericWords[w] {
				continue
			}
			set[w] = true
		default:
			set["n:"+sp.Text] = true
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// zhRuns cuts a Chinese run at its framing phrases.
func zhRuns(s string) []string {
	for _, w := range zhWhen {
		s = strings.ReplaceAll(s, w, " ")
	}
	for _, w := range []string{"订单", "下单", "东西", "商品", "买的"} { // generic: in most questions
		s = strings.ReplaceAll(s, w, " ")
	}
	for _, f := range zhFrames {
		s = strings.ReplaceAll(s, f, " ")
	}
	return strings.Fields(s)
}

// dice is the Dice coefficient of two sorted feature lists: 2|A∩B| / (|A|+|B|).
func dice(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	common, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			common++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}

// cosine of two vectors; 0 when either is empty, zero or of another length.
func cosine(a, b []float32) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
