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
	{"退货", "换货", "退款", "维修", "补发", "发货", "到货", "补货", "签收", "价保"},
	{"发票", "收据"},
	{"w:return", "w:exchang", "w:refund", "w:repair"},
	{"w:return", "w:exchang", "w:refund", "w:ship", "w:deliveri", "w:track"},
	{"w:invoic", "w:receipt"},
	{"w:cancel", "w:address", "w:track", "w:receipt", "w:ship"},
}

// aspects turn a question about a thing into another intent: one question naming a term
// of an aspect and the other none never group ("怎么退货" / "七天无理由退货吗", "when
// will my order ship" / "do you ship internationally").
var aspects = [][]string{
	{failed},
	{"无理由"},
	{"运费", "w:fee", "w:postag", "w:cost"},
	{"海外", "w:oversea"},
}

// contrasting reports whether two key lists differ in an aspect, or name different terms
// of one contrast set (or of the shop's topics) and none in common. Synonyms are already
// folded (swap → exchang, 差价 → 价保), so they never contrast.
func contrasting(a, b []string) bool {
	for _, m := range aspects {
		if len(termsIn(a, m)) > 0 != (len(termsIn(b, m)) > 0) {
			return true // "优惠券怎么用" asks how; "优惠券用不了" reports that it fails
		}
	}
	for _, set := range append(contrasts[:len(contrasts):len(contrasts)], topics) {
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

// features are what two questions are compared on.
type features struct {
	// grams: character bigrams of the Chinese runs (a lone character when a run has one),
	// stemmed English words, numbers and codes; framing words dropped.
	grams []string
	// words: content words (jieba's words of the Chinese runs, framing words dropped),
	// the shop's key terms found in the text itself (jieba reads 退货运费 as 退/货运费),
	// stemmed English words, each written in its canonical synonym (物流 → 快递,
	// dispatch → ship), and the failure mark.
	words []string
	// keys: the shop's key terms named (see keyTerms), English stems and the failure
	// mark; the contrasts and aspects are checked on these.
	keys []string
}

// questionFeatures computes a question's features.
func questionFeatures(q string) features {
	grams, words, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	q = canonical(segment.Normalize(q))
	for _, f := range failurePhrases {
		if strings.Contains(q, f) {
			grams[failed], words[failed], keys[failed] = true, true, true
		}
	}
	for _, t := range keysOf(q) {
		words[t], keys[t] = true, true
	}
	seg, _ := segment.Shared()
	for _, sp := range segment.Split(q) {
		switch sp.Kind {
		case segment.KindHan:
			for _, run := range zhRuns(sp.Text) {
				r := []rune(run)
				if len(r) == 1 {
					grams[run] = true
				}
				for i := 0; i+1 < len(r); i++ {
					grams[string(r[i:i+2])] = true
				}
				if seg == nil {
					continue
				}
				for _, w := range seg.Tokens(run, nil) {
					if !zhFrameWords[w] {
						words[w] = true
					}
				}
			}
		case segment.KindWord:
			w := "w:" + segment.Stem(sp.Text)
			if segment.IsStopWord(sp.Text) || enFrames[sp.Text] || genericWords[w] {
				continue
			}
			if c, ok := enSynonyms[w]; ok {
				w = c
			}
			grams[w], words[w], keys[w] = true, true, true
		default:
			grams["n:"+sp.Text], words["n:"+sp.Text] = true, true
		}
	}
	return features{grams: sortedKeys(grams), words: sortedKeys(words), keys: sortedKeys(keys)}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for f := range m {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// lexicalFeatures are a question's grams (see features).
func lexicalFeatures(q string) []string { return questionFeatures(q).grams }

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
