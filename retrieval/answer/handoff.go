package answer

import (
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/kb"
)

// Handoff reasons.
const (
	ReasonHumanRequested     = "human_requested"     // 转人工, human agent
	ReasonComplaint          = "complaint"           // 投诉, 差评, 骗子
	ReasonNegativeEmotion    = "negative_emotion"    // strong anger or distress
	ReasonRepeatedUnanswered = "repeated_unanswered" // two unanswered turns in a row
)

// handoffRule is one reason's trigger phrases, matched on the normalised message: Chinese
// phrases as substrings, English ones as whole words ("scam" does not fire on "scamper").
type handoffRule struct {
	reason  string
	phrases []string
}

// handoffRules are tried in order: a complaint wins over a plain request for a human (it is
// routed with priority), and both over an emotion.
var handoffRules = []handoffRule{
	{ReasonComplaint, []string{
		"投诉", "举报", "差评", "骗子", "欺诈", "诈骗", "骗钱", "12315", "消协", "消费者协会", "工商局", "市场监管",
		"退款不到账", "退款没到账", "退款还没到", "钱没退", "不给退款", "拒绝退款", "一直不退", "维权", "曝光你们", "起诉", "律师函",
		"我要报警", "去报警", "黑店",
		"complaint", "complain", "scam", "scammer", "scammed", "fraud", "fraudulent", "report you", "rip off", "ripoff",
		"ripped off", "sue you", "lawyer", "chargeback", "consumer protection", "never got my refund",
		"still no refund", "where is my refund",
	}},
	{ReasonHumanRequested, []string{
		"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "联系人工", "人工坐席", "人工座席", "真人", "活人",
		"找客服", "客服在吗", "叫你们经理", "找你们领导", "不想和机器人", "不想跟机器人", "别用机器人",
		"human agent", "real person", "real human", "live agent", "live person", "talk to a human", "speak to a human",
		"speak with a human", "talk to someone", "speak to someone", "speak with someone", "talk to a person",
		"customer service representative", "representative", "agent please", "speak to an agent",
		"talk to an agent", "connect me to an agent", "transfer me", "a human please", "human please", "your manager",
	}},
	{ReasonNegativeEmotion, []string{
		"垃圾产品", "垃圾客服", "垃圾服务", "垃圾东西", "垃圾公司", "垃圾店", "真垃圾", "太垃圾", "什么垃圾", "垃圾玩意",
		"气死", "太差了", "真差劲", "什么破", "破玩意", "坑人", "坑爹", "太坑", "烦死了", "真恶心", "太恶心", "无语", "受够了",
		"忍无可忍", "生气", "愤怒", "失望透顶", "太失望", "再也不买", "骗人", "他妈", "妈的", "tmd", "傻逼", "去死", "滚",
		"terrible", "the worst", "worst service", "worst product", "ridiculous", "angry", "furious", "pissed",
		"useless", "is garbage", "is trash", "is junk", "piece of junk", "piece of crap", "disgusting", "awful",
		"horrible", "unacceptable", "wtf", "fuck", "shit", "fed up", "sick of", "pathetic", "i hate",
	}},
}

// handoffMasks are ordinary words that contain a trigger ("人工智能" holds "人工", "滚刷"
// is a robot vacuum's roller brush), negated requests, and questions about a review the
// customer left rather than a complaint: a trigger inside one of them does not count.
var handoffMasks = []string{
	"人工智能", "真人秀", "真人版",
	"不用转人工", "不需要人工", "不要转人工", "无需人工", "不用人工", "不用找客服",
	"差评怎么删", "删差评", "删除差评", "差评怎么改", "修改差评", "差评能删", "撤回差评", "追加差评", "差评可以删", "改差评",
	"滚刷", "滚筒", "滚轮", "滚动", "滚子", "滚珠", "滚梳", "滚烫",
	"防诈骗", "防骗",
	"worst case", "no need for a human", "don't need a human",
}

// phraseEntry is one trigger (rule ≥ 0, an index into handoffRules) or mask (rule -1).
type phraseEntry struct {
	phrase string
	rule   int
}

// handoffIndex maps a phrase's first rune to the phrases starting with it, so a message is
// scanned once instead of once per phrase (measured 11 µs → ~1 µs).
var handoffIndex = func() map[rune][]phraseEntry {
	idx := map[rune][]phraseEntry{}
	add := func(p string, rule int) {
		r, _ := utf8.DecodeRuneInString(p)
		idx[r] = append(idx[r], phraseEntry{p, rule})
	}
	for i, rule := range handoffRules {
		for _, p := range rule.phrases {
			add(p, i)
		}
	}
	for _, p := range handoffMasks {
		add(p, -1)
	}
	return idx
}()

// positiveWords keep exclamation marks from reading as anger ("谢谢!!!").
var positiveWords = []string{"谢谢", "感谢", "好的", "太好了", "棒", "赞", "thank", "great", "awesome", "love", "perfect"}

// DetectHandoff reports whether the customer's message asks for a human, or shows a
// complaint or strong negative emotion, with the reason. It matches phrase lists on the
// normalised message (so 轉人工 and ＴＡＬＫ ＴＯ Ａ ＨＵＭＡＮ match too), after masking
// look-alikes such as 人工智能, 滚刷 and "删差评"; three or more exclamation marks, or an
// English message shouted in capitals, count as negative emotion.
func DetectHandoff(q string) (reason string, ok bool) {
	n := Normalize(q)
	type span struct{ start, end, rule int }
	var buf [8]span
	spans := buf[:0]
	for i, r := range n {
		for _, e := range handoffIndex[r] {
			end := i + len(e.phrase)
			if strings.HasPrefix(n[i:], e.phrase) && boundaryOK(n, i, end, e.phrase) {
				spans = append(spans, span{i, end, e.rule})
			}
		}
	}
	best := len(handoffRules)
	for _, t := range spans {
		if t.rule < 0 || t.rule >= best {
			continue
		}
		masked := false
		for _, m := range spans {
			if m.rule < 0 && t.start < m.end && m.start < t.end {
				masked = true
				break
			}
		}
		if !masked {
			best = t.rule
		}
	}
	if best < len(handoffRules) {
		return handoffRules[best].reason, true
	}
	if strings.Count(q, "!")+strings.Count(q, "！") >= 3 && !containsAny(n, positiveWords) {
		return ReasonNegativeEmotion, true
	}
	if shouting(q) {
		return ReasonNegativeEmotion, true
	}
	return "", false
}

func boundaryOK(text string, i, end int, p string) bool {
	if isASCIIAlnum(p[0]) && i > 0 && isASCIIAlnum(text[i-1]) {
		return false
	}
	if isASCIIAlnum(p[len(p)-1]) && end < len(text) && isASCIIAlnum(text[end]) {
		return false
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
}

func containsAny(text string, words []string) bool {
	for _, w := range words {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// shouting reports an English message written mostly in capitals: at least three words of
// two or more letters, and at least 12 letters, nearly all upper case. Acronyms in a normal
// sentence ("Does the USB-C port work?") stay well below that.
func shouting(q string) bool {
	upper, lower, words, wordLen := 0, 0, 0, 0
	for i := 0; i <= len(q); i++ {
		var c byte = ' '
		if i < len(q) {
			c = q[i]
		}
		switch {
		case c >= 'A' && c <= 'Z':
			upper++
			wordLen++
		case c >= 'a' && c <= 'z':
			lower++
			wordLen++
		case c >= utf8.RuneSelf:
			return false // not an English message
		default:
			if wordLen >= 2 {
				words++
			}
			wordLen = 0
		}
	}
	return words >= 3 && upper >= 12 && upper >= 9*lower
}

// FallbackMessage is the polite "I don't know" in lang.
func FallbackMessage(lang string) string {
	if lang == kb.LanguageEn {
		return "Sorry, I couldn't find an answer to that in our help materials. I can connect you with a human agent if you like."
	}
	return "抱歉，暂时没有找到相关答案，已为您记录。如需帮助，可以为您转接人工客服。"
}

// HandoffMessage tells the customer a human takes over, in lang; a complaint or an upset
// customer is acknowledged first.
func HandoffMessage(lang, reason string) string {
	if lang == kb.LanguageEn {
		switch reason {
		case ReasonComplaint:
			return "I'm sorry about this. I'm passing your complaint to a human agent, who will follow up with you shortly."
		case ReasonNegativeEmotion:
			return "I'm sorry for the trouble. Let me connect you with a human agent right away."
		case ReasonRepeatedUnanswered:
			return "Sorry I couldn't help with that. Let me connect you with a human agent."
		}
		return "Sure, I'm transferring you to a human agent now. Please hold on."
	}
	switch reason {
	case ReasonComplaint:
		return "非常抱歉给您带来不好的体验，已为您转接人工客服处理您的投诉，请稍候。"
	case ReasonNegativeEmotion:
		return "非常抱歉给您带来困扰，马上为您转接人工客服，请稍候。"
	case ReasonRepeatedUnanswered:
		return "抱歉没能解决您的问题，正在为您转接人工客服，请稍候。"
	}
	return "好的，正在为您转接人工客服，请稍候。"
}
