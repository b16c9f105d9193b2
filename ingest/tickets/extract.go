package tickets

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/zhiku/zhiku/ingest/pii"
	"github.com/zhiku/zhiku/internal/kb"
)

// ExtractOptions tunes Extract. The zero value uses the defaults.
type ExtractOptions struct {
	// PII is applied to every question and answer before anything is returned.
	PII pii.Options
	// Similarity is the character-bigram Jaccard similarity of normalised questions at or
	// above which two pairs are merged. Defaults to 0.8.
	Similarity float64
	// MinQuestionRunes drops questions shorter than this after greetings are removed.
	// Defaults to 2.
	MinQuestionRunes int
	// MaxAnswerTurns caps how many agent turns make up one answer. Defaults to 3.
	MaxAnswerTurns int
	// Context, when set, stops the extraction once it is done (checked every 1024 tickets
	// and pairs): ExtractContext returns the context's error, Extract no pairs.
	Context context.Context
}

func (o ExtractOptions) withDefaults() ExtractOptions {
	if o.Similarity <= 0 || o.Similarity > 1 {
		o.Similarity = 0.8
	}
	if o.MinQuestionRunes <= 0 {
		o.MinQuestionRunes = 2
	}
	if o.MaxAnswerTurns <= 0 {
		o.MaxAnswerTurns = 3
	}
	return o
}

// Pair is a customer question with the answer agents gave, merged over all tickets that
// asked it.
type Pair struct {
	Question  string
	Answer    string
	TicketIDs []string // every ticket the question came from, in first-seen order
	Count     int      // how many times it was asked
}

// Extract turns tickets into question/answer pairs, masked, with near-duplicate questions
// merged. Pairs are ordered by Count, most asked first, then by first appearance.
//
// Within a ticket, consecutive customer turns form one question and the agent turns that
// follow form its answer: the longest informative turn plus any other turn at least a third
// as long. A later customer turn that reads like a new question starts a new pair; short
// follow-ups ("好的我试试") and replies to an agent's request for details do not.
func Extract(tickets []Ticket, opts ExtractOptions) []Pair {
	pairs, _ := ExtractContext(tickets, opts)
	return pairs
}

// ExtractContext is Extract that reports whether opts.Context ended it early.
func ExtractContext(tickets []Ticket, opts ExtractOptions) ([]Pair, error) {
	opts = opts.withDefaults()
	var pairs []Pair
	for i, t := range tickets {
		if err := kb.Stopped(opts.Context, i+1); err != nil {
			return nil, err
		}
		t.Messages = maskMessages(t.Messages, opts.PII)
		for _, p := range extractTicket(t, opts) {
			p.Question, _ = pii.Mask(p.Question, opts.PII)
			p.Answer, _ = pii.Mask(p.Answer, opts.PII)
			pairs = append(pairs, p)
		}
	}
	return mergeSimilar(opts.Context, pairs, opts.Similarity)
}

type segment struct {
	question     []string
	answers      []string
	awaitingInfo bool // the agent asked for details; the next customer turn supplies them
}

func extractTicket(t Ticket, opts ExtractOptions) []Pair {
	var out []Pair
	var cur segment
	closeSegment := func() {
		q := strings.Join(cur.question, "\n")
		a := pickAnswer(cur.answers, opts.MaxAnswerTurns)
		if utf8.RuneCountInString(q) >= opts.MinQuestionRunes && a != "" {
			out = append(out, Pair{Question: q, Answer: a, TicketIDs: []string{t.ID}, Count: 1})
		}
		cur = segment{}
	}
	for _, m := range t.Messages {
		switch m.Role {
		case RoleCustomer:
			q := stripCourtesy(m.Text, customerCourtesy)
			if q == "" {
				continue
			}
			switch {
			case len(cur.answers) > 0:
				if !looksLikeQuestion(q) {
					continue // a follow-up or acknowledgement of the answer
				}
				closeSegment()
				cur.question = []string{q}
			case cur.awaitingInfo && !hasQuestionMarker(q):
				// Details the agent asked for (an order number, a model): not the question.
			default:
				cur.question = append(cur.question, q)
			}
		case RoleAgent:
			if len(cur.question) == 0 {
				continue // the agent's opening before anyone asked anything
			}
			a := stripCourtesy(m.Text, agentBoilerplate)
			if a == "" {
				continue
			}
			if isRequestForDetails(a) {
				cur.awaitingInfo = true
				continue
			}
			cur.answers = append(cur.answers, a)
		}
	}
	closeSegment()
	return out
}

// pickAnswer keeps the longest turn and the turns at least a third as long, in order.
func pickAnswer(answers []string, maxTurns int) string {
	longest := 0
	for _, a := range answers {
		longest = max(longest, utf8.RuneCountInString(a))
	}
	var kept []string
	for _, a := range answers {
		if utf8.RuneCountInString(a)*3 >= longest && len(kept) < maxTurns {
			kept = append(kept, a)
		}
	}
	return strings.Join(kept, "\n")
}

// Phrases that carry no content. They are removed from a clause; a clause with nothing
// left but particles is courtesy. Longer phrases come first so they win.
var customerCourtesy = []string{
	"早上好", "下午好", "晚上好", "您好", "你好", "hellothere", "hithere", "hello", "hey", "hi",
	"goodmorning", "在不在", "在吗", "有人吗", "有人在吗", "客服", "亲", "谢谢你", "谢谢您", "谢谢啦", "谢谢",
	"多谢", "感谢", "thankyousomuch", "thankyou", "thanks", "thx", "好的", "ok", "okay", "嗯嗯", "嗯",
	"收到", "明白了", "明白", "知道了", "了解了", "了解", "没问题", "没有了", "没了", "再见", "拜拜", "bye",
	"goodbye", "麻烦了", "辛苦了", "不客气", "是的", "好", "行", "请问", "哦", "噢",
}

var agentBoilerplate = []string{
	"感谢您的耐心等待", "感谢耐心等待", "让您久等了", "久等了", "请您稍等", "请稍等", "稍等一下", "稍等片刻", "稍等",
	"正在为您查询", "正在为您核实", "正在帮您查询", "正在查询", "我帮您查一下", "我这边帮您查询一下", "帮您查询一下",
	"帮您查一下", "这边帮您看一下", "我看一下", "请问还有什么可以帮您", "还有什么可以帮您", "还有什么可以帮到您",
	"还有其他可以帮您", "还有其他问题吗", "还有其他问题", "还有什么问题", "很高兴为您服务", "为您服务", "欢迎光临",
	"我是客服", "客服", "祝您生活愉快", "祝您购物愉快", "感谢您的支持", "感谢您的理解", "感谢您的咨询", "不客气",
	"亲爱的", "亲亲", "亲", "您好", "你好", "在的", "在呢", "的呢", "好的", "pleasewait", "letmecheck",
	"onemoment", "thanksforwaiting", "thankyouforyourpatience", "isthereanythingelseicanhelpyouwith",
	"anythingelseicanhelpwith", "anythingelse", "haveaniceday", "hello", "hi", "thanks", "thankyou",
	"麻烦您", "请问", "哦", "呢",
}

// Particles and filler that remain of a courtesy clause.
const fillers = "的了吧呀啊哈呢哦嘛啦哟嗯~～"

// stripCourtesy drops leading and trailing clauses that are pure courtesy and returns the
// rest of the original text, or "" when nothing of substance is left.
func stripCourtesy(text string, phrases []string) string {
	clauses := splitClauses(text)
	first, last := -1, -1
	for i, c := range clauses {
		if !isCourtesy(text[c[0]:c[1]], phrases) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return ""
	}
	// Inner courtesy clauses ("E104是过热。请稍等。请断电") are dropped too; each clause
	// carries its own closing punctuation, so the rest still reads naturally.
	var b strings.Builder
	for _, c := range clauses[first : last+1] {
		if !isCourtesy(text[c[0]:c[1]], phrases) {
			b.WriteString(text[c[0]:c[1]])
		}
	}
	return strings.TrimSpace(b.String())
}

// splitClauses returns byte ranges of clauses, each including its closing punctuation.
func splitClauses(text string) [][2]int {
	var out [][2]int
	start := 0
	for i, r := range text {
		if strings.ContainsRune("，,。！!？?；;～~\n…、", r) || r == ' ' && i > start && asciiBefore(text, i) ||
			r == '.' && (i+1 == len(text) || text[i+1] == ' ') {
			end := i + utf8.RuneLen(r)
			if strings.TrimSpace(text[start:end]) != "" {
				out = append(out, [2]int{start, end})
			}
			start = end
		}
	}
	if strings.TrimSpace(text[start:]) != "" {
		out = append(out, [2]int{start, len(text)})
	}
	for i := range out {
		// Trim surrounding spaces so re-joining does not double them.
		s, e := out[i][0], out[i][1]
		for s < e && text[s] == ' ' {
			s++
		}
		out[i] = [2]int{s, e}
	}
	return out
}

// asciiBefore reports whether a space at i follows Chinese text: "在吗 请问…" splits there,
// "my washer shows E104" does not.
func asciiBefore(text string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return r >= 0x2E80
}

func isCourtesy(clause string, phrases []string) bool {
	s := compact(clause)
	for _, p := range phrases {
		s = strings.ReplaceAll(s, p, "")
	}
	s = strings.Trim(s, fillers)
	return s == ""
}

// compact lower-cases and keeps only letters, digits and Han characters.
func compact(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

var questionMarkers = []string{"?", "？", "吗", "么", "呢", "怎", "如何", "为什么", "为啥", "能不能", "能否", "可不可以",
	"是否", "多少", "多久", "哪", "什么", "几", "有没有", "会不会", "要不要", "可以", "请问", "想问", "咨询",
	"how", "what", "why", "when", "where", "which", "can ", "could ", "does ", "is there", "do you"}

// looksLikeQuestion tells a new question from a follow-up such as "好的我试试": it asks
// something, or it is long enough to describe a new problem.
func looksLikeQuestion(s string) bool {
	return utf8.RuneCountInString(s) >= 15 || hasQuestionMarker(s)
}

func hasQuestionMarker(s string) bool {
	l := strings.ToLower(s)
	for _, m := range questionMarkers {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

var detailRequests = []string{"请提供", "麻烦提供", "提供一下", "请发一下", "发一下", "发给我", "请告诉我", "告诉我一下",
	"请问您的", "您的订单号", "您的手机号", "请您提供", "please provide", "could you provide", "can you share",
	"could you share", "can you send", "your order number"}

// isRequestForDetails reports an agent turn that only asks the customer for information.
func isRequestForDetails(a string) bool {
	if utf8.RuneCountInString(a) > 60 {
		return false
	}
	l := strings.ToLower(a)
	for _, p := range detailRequests {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}
