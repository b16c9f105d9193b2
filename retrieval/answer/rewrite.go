package answer

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
)

// Follow-up limits.
const (
	followUpZhRunes   = 4   // a Chinese message of at most this many Han characters and no code is elliptical ("能退吗")
	followUpZhNe      = 6   // "…呢" marks a follow-up up to this many Han characters
	followUpEnWords   = 3   // an English message of at most this many words is elliptical ("waterproof?")
	followUpUserTurns = 3   // earlier user turns searched for what a follow-up refers to
	rewriteMaxRunes   = 120 // a longer rewrite is not shown; the query is left as it is
)

// Anaphora and markers. Chinese ones match as substrings, English ones as words.
var (
	zhAnaphora = []string{"这个", "那个", "这款", "那款", "这台", "那台", "这件", "那件", "这种", "那种", "此款", "该款",
		"该产品", "该商品", "这东西", "这玩意", "它们", "它"}
	zhAnaphoraMasks = []string{"其它", "这个月", "这个星期", "这个周", "这个时候", "这个时间", "这个问题", "那个时候"}
	zhLead          = []string{"那么", "那", "还有", "另外", "然后"}
	enAnaphora      = []string{"this one", "that one", "the same one", "this", "that", "it", "its", "them", "they"}
	enAnaphoraMasks = []string{"is it possible", "it is possible", "it's possible", "is it ok", "is it okay", "that's all", "is that all"}
	enLead          = []string{"and what about", "what about", "how about", "and for", "and"}
)

// topicWords are order and after-sales topics a follow-up may switch between ("退货呢").
var topicWords = []string{
	"退货", "退款", "换货", "发票", "物流", "快递", "保修", "安装", "运费", "售后", "维修", "发货", "价格", "库存",
	"refund", "return", "returns", "exchange", "invoice", "shipping", "delivery", "warranty", "installation",
	"repair", "price", "stock",
}

// nonNounWords never name the product: question words, common verbs, attributes and topics.
var nonNounWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`多少 钱 多少钱 多久 多长 怎么 怎么办 怎样 如何 什么 为什么 意思 是 是不是 显示 能 能不能 可以 可不可以
		吗 呢 支持 请问 问 续航 价格 售价 防水 噪音 功率 吸力 颜色 尺寸 重量 容量 电池 有没有 有 没有 有货 库存 几 哪 哪里 哪个
		时间 我 你 我的 你们 他 买 购买 下单 用 使用 了 的 会 要 想 需要 一下 还 和 跟 与 吧 啊 怎么样 好 不 没 运行 工作 坏 坏了 出现 报
		这款 那款 这个 那个 这台 它 该 款 台 个 谁 承担 自己 一直
		你好 您好 谢谢 感谢 好的 嗯 哦 在 在吗 收到 明白 知道 知道了 客服 亲`) {
		m[w] = true
	}
	for _, w := range topicWords {
		m[w] = true
	}
	return m
}()

// enStopNoun ends an English noun phrase.
var enStopNoun = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`is are was were be do does did can could will would should on of for with to in at from by and or
		but if when how what why where which who support supports work works have has had need get got use used it this that`) {
		enStopNoun[w] = true
	}
}

// RewriteFollowUp turns a short follow-up ("那这个能退吗?", "它防水吗", "E104呢") into a
// standalone query by carrying the product, SKU, order topic or fault code of the earlier
// turns; ok is false when q already stands alone.
//
// A follow-up has an anaphor (这个, 它, 那款, "it", "this one"), a leading 那/还有/"what
// about", a short "…呢", or is too short to name anything ("能退吗", "waterproof?"). What
// it refers to comes from the latest of the last three user turns that names something (a
// code such as XR-500, SKU-2231 or E104, a product noun, or a topic), else from the last
// assistant turn's codes. A code or topic of the same kind as one in that turn replaces
// it there: after "扫地机显示E103是什么意思", "E104呢" becomes "扫地机显示E104是什么意思".
// Otherwise the product (code and noun, "XR-500 扫地机器人") replaces the anaphor, or leads
// the follow-up. Measured (BenchmarkRewriteFollowUp, 2 cores): 12–40 µs for a follow-up
// (one jieba pass over the earlier turn), 1–3 µs for a question that stands alone.
func RewriteFollowUp(q string, history []Turn) (rewritten string, ok bool) {
	q = strings.TrimSpace(q)
	if q == "" || len(history) == 0 {
		return q, false
	}
	en := DetectLanguage(q) == kb.LanguageEn
	qCodes := codesOf(q)
	// Cheap checks first: most questions stand alone and never reach the segmenter.
	switch {
	case len(qCodes) > 1:
		return q, false
	case len(qCodes) == 0 && !isFollowUp(q, en):
		return q, false
	}
	prev, noun := referent(history)
	if prev == "" {
		return q, false
	}
	if out, done := substitute(q, prev); done {
		return finish(q, out)
	}
	if len(qCodes) > 0 {
		return q, false // it names its own product or code
	}
	phrase := productPhrase(prev, noun, en)
	if phrase == "" {
		return q, false
	}
	if en {
		return finish(q, carryEn(q, phrase))
	}
	return finish(q, carryZh(q, phrase))
}

func finish(q, out string) (string, bool) {
	out = strings.TrimSpace(out)
	if out == "" || out == q || runeLen(out) > rewriteMaxRunes {
		return q, false
	}
	return out, true
}

// referent returns the earlier message a follow-up most likely refers to, and its product
// noun when it is Chinese.
func referent(history []Turn) (text, noun string) {
	users := 0
	for i := len(history) - 1; i >= 0 && users < followUpUserTurns; i-- {
		t := history[i]
		if t.Role != "user" {
			continue
		}
		users++
		c := strings.TrimSpace(t.Content)
		if c == "" {
			continue
		}
		var n string
		if DetectLanguage(c) == kb.LanguageZh {
			n = productNoun(c)
		}
		if n != "" || len(codesOf(c)) > 0 || topicOf(Normalize(c)) != "" || englishNoun(c) != "" {
			return c, n
		}
	}
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == "assistant" {
			if cs := codesOf(history[i].Content); len(cs) > 0 {
				return strings.ToUpper(cs[0]), ""
			}
		}
	}
	return "", ""
}

func topicOf(norm string) string {
	for _, w := range topicWords {
		if containsPhrase(norm, w) {
			return w
		}
	}
	return ""
}

// substitute handles "E104呢", "what about the XR-300?", "那换货呢": q holds one code (or
// topic) of the same kind as one in prev and little else, so it is prev with that swapped.
func substitute(q, prev string) (string, bool) {
	nq := Normalize(q)
	codes := codesOf(q)
	var from, to string
	switch {
	case len(codes) == 1:
		for _, c := range codesOf(prev) {
			if c != codes[0] && codePrefix(c) == codePrefix(codes[0]) {
				from, to = c, codes[0]
				break
			}
		}
		if i := indexFold(q, to); i >= 0 {
			to = q[i : i+len(to)]
		} else {
			to = strings.ToUpper(to)
		}
	case len(codes) == 0:
		t, p := topicOf(nq), topicOf(Normalize(prev))
		if t == "" || p == "" || t == p {
			return "", false
		}
		from, to = p, t
	default:
		return "", false
	}
	if from == "" || !onlyMarkersBesides(nq, strings.ToLower(to)) {
		return "", false
	}
	i := indexFold(prev, from)
	if i < 0 {
		return "", false
	}
	return prev[:i] + to + prev[i+len(from):], true
}

// onlyMarkersBesides reports whether normalised q holds nothing but word, follow-up
// markers and particles: "e104呢", "那xr-300呢", "what about the xr-300".
func onlyMarkersBesides(nq, word string) bool {
	i := strings.Index(nq, word)
	if i < 0 {
		return false
	}
	rest := nq[:i] + " " + nq[i+len(word):]
	for _, m := range []string{"and what about", "what about", "how about", "and", "the", "for", "那么", "那", "还有", "另外", "呢", "吗", "的", "怎么样"} {
		rest = strings.ReplaceAll(rest, m, " ")
	}
	for _, r := range rest {
		if isHanRune(r) || r < utf8.RuneSelf && isASCIIAlnum(byte(r)) {
			return false
		}
	}
	return true
}

// isFollowUp reports whether a message without a code of its own leans on earlier turns.
func isFollowUp(q string, en bool) bool {
	n := Normalize(q)
	if en {
		n = maskAll(n, enAnaphoraMasks)
		if findWord(n, enAnaphora) >= 0 || hasLead(n, enLead, true) {
			return true
		}
		return len(strings.Fields(n)) <= followUpEnWords
	}
	n = maskAll(n, zhAnaphoraMasks)
	han := 0
	for _, r := range n {
		if isHanRune(r) {
			han++
		}
	}
	switch {
	case containsAny(n, zhAnaphora), hasLead(n, zhLead, false):
		return true
	case strings.HasSuffix(n, "呢") && han <= followUpZhNe:
		return true
	}
	return han <= followUpZhRunes
}

func maskAll(s string, masks []string) string {
	for _, m := range masks {
		if strings.Contains(s, m) {
			s = strings.ReplaceAll(s, m, "_")
		}
	}
	return s
}

func hasLead(n string, leads []string, words bool) bool {
	for _, l := range leads {
		if strings.HasPrefix(n, l) && (!words || len(n) == len(l) || !isASCIIAlnum(n[len(l)])) {
			return true
		}
	}
	return false
}

// findWord returns the byte index of the first of words found in s as a whole word, or -1;
// earlier entries win at the same index.
func findWord(s string, words []string) int {
	best := -1
	for _, w := range words {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], w)
			if i < 0 {
				break
			}
			i += from
			if boundaryOK(s, i, i+len(w), w) {
				if best < 0 || i < best {
					best = i
				}
				break
			}
			from = i + 1
		}
	}
	return best
}

// productPhrase names what prev is about: its first code as written and, in Chinese, the
// product noun ("XR-500 扫地机器人"); in English "the XR-500" or the first noun phrase.
func productPhrase(prev, noun string, en bool) string {
	code := ""
	if cs := codesOf(prev); len(cs) > 0 {
		code = strings.ToUpper(cs[0])
		if i := indexFold(prev, cs[0]); i >= 0 {
			code = prev[i : i+len(cs[0])]
		}
	}
	if en {
		if code != "" {
			return "the " + code
		}
		return englishNoun(prev)
	}
	switch {
	case code != "" && noun != "":
		return code + " " + noun
	case code != "":
		return code
	}
	return noun
}

// productNoun is the longest run of adjacent content words of the Chinese text s ("扫地机器人"
// in "XR-500 扫地机器人多少钱"), leaving out question words, verbs, attributes and topics.
func productNoun(s string) string {
	n := Normalize(s)
	type tok struct{ start, end int }
	var toks []tok
	terms := queryTerms(n)
	for _, t := range terms {
		if !hasHan(t) || nonNounWords[t] {
			continue
		}
		maximal := true
		for _, o := range terms {
			if len(o) > len(t) && strings.Contains(o, t) && !nonNounWords[o] {
				maximal = false
				break
			}
		}
		if !maximal {
			continue
		}
		if i := strings.Index(n, t); i >= 0 {
			toks = append(toks, tok{i, i + len(t)})
		}
	}
	sort.Slice(toks, func(a, b int) bool { return toks[a].start < toks[b].start })
	best, bestLen := "", 0
	for i := 0; i < len(toks); {
		j := i
		for j+1 < len(toks) && toks[j+1].start == toks[j].end {
			j++
		}
		if phrase := n[toks[i].start:toks[j].end]; runeLen(phrase) >= 2 && runeLen(phrase) > bestLen {
			best, bestLen = phrase, runeLen(phrase)
		}
		i = j + 1
	}
	return best
}

// englishNoun is the first noun phrase after a determiner ("the robot vacuum filter").
func englishNoun(s string) string {
	words := strings.FieldsFunc(Normalize(s), func(r rune) bool {
		return !(r < utf8.RuneSelf && (isASCIIAlnum(byte(r)) || r == '-' || r == '\''))
	})
	for i, w := range words {
		if w != "the" && w != "a" && w != "an" && w != "my" && w != "your" {
			continue
		}
		j := i + 1
		for j < len(words) && j-i <= 3 && !enStopNoun[words[j]] && !segment.IsStopWord(words[j]) {
			j++
		}
		if j > i+1 {
			return "the " + strings.Join(words[i+1:j], " ")
		}
	}
	return ""
}

// carryZh puts phrase into a Chinese follow-up: in place of its anaphor, else in front.
func carryZh(q, phrase string) string {
	rest := q
	for _, l := range zhLead {
		if strings.HasPrefix(rest, l) {
			rest = strings.TrimSpace(rest[len(l):])
			break
		}
	}
	masked := maskAll(rest, zhAnaphoraMasks)
	for _, a := range zhAnaphora {
		if i := strings.Index(masked, a); i >= 0 && len(masked) == len(rest) {
			return joinText(joinText(rest[:i], phrase), rest[i+len(a):])
		}
	}
	return joinText(phrase, rest)
}

// carryEn puts phrase into an English follow-up: in place of its pronoun, after "what
// about X", else before the closing punctuation.
func carryEn(q, phrase string) string {
	lower := strings.ToLower(q)
	masked := maskAll(lower, enAnaphoraMasks)
	if len(masked) == len(lower) {
		if i := findWord(masked, enAnaphora); i >= 0 {
			for _, a := range enAnaphora {
				if strings.HasPrefix(masked[i:], a) && boundaryOK(masked, i, i+len(a), a) {
					repl := phrase
					if a == "its" {
						repl += "'s"
					}
					return q[:i] + repl + q[i+len(a):]
				}
			}
		}
	}
	body := strings.TrimRight(q, "?!. ")
	return body + " for " + phrase + q[len(body):]
}

// joinText joins two pieces of text, with a space only between Latin and Chinese or two
// Latin words.
func joinText(a, b string) string {
	a, b = strings.TrimRight(a, " "), strings.TrimLeft(b, " ")
	if a == "" || b == "" {
		return a + b
	}
	last, _ := utf8.DecodeLastRuneInString(a)
	first, _ := utf8.DecodeRuneInString(b)
	if isHanRune(last) && isHanRune(first) || isSentenceEnd(first) || !isHanRune(last) && !isWordRune(last) {
		return a + b
	}
	return a + " " + b
}

func isWordRune(r rune) bool { return r < utf8.RuneSelf && isASCIIAlnum(byte(r)) || isHanRune(r) }
