package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/internal/kb"
)

func msg(role Role, text string) Message { return Message{Role: role, Text: text} }

func TestParseJSONL(t *testing.T) {
	t.Parallel()
	in := `{"id":"T1","messages":[{"role":"客户","text":"第二句","time":"2024-05-01 10:00:05"},{"role":"客服","text":"第一句","time":"2024-05-01 10:00:01"}]}
{"ticket_id": 42, "dialog": [{"speaker":"user","content":"hello"},{"speaker":"assistant","content":"hi"},{"speaker":"system","content":"closed"}]}
{"id":"T3","messages":[{"role":"customer","text":"broken
{"id":"T4","messages":[{"role":"buyer","text":"  "},{"role":"seller","text":"ok"}]}

not json at all
`
	tickets, err := Parse(strings.NewReader(in), FormatAuto)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.Len(t, pe.Lines, 2)
	require.Equal(t, 3, pe.Lines[0].Line)
	require.Equal(t, 6, pe.Lines[1].Line)
	require.Contains(t, err.Error(), "line 3")

	require.Len(t, tickets, 3)
	require.Equal(t, "T1", tickets[0].ID)
	require.Equal(t, "第一句", tickets[0].Messages[0].Text, "sorted by time")
	require.Equal(t, RoleAgent, tickets[0].Messages[0].Role)
	require.Equal(t, RoleCustomer, tickets[0].Messages[1].Role)
	require.Equal(t, time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC), tickets[0].Messages[0].Time)

	require.Equal(t, "42", tickets[1].ID)
	require.Equal(t, []Role{RoleCustomer, RoleAgent, RoleOther}, []Role{tickets[1].Messages[0].Role, tickets[1].Messages[1].Role, tickets[1].Messages[2].Role})
	require.Len(t, tickets[2].Messages, 1, "blank messages are dropped")
}

func TestParseJSONLOneMessagePerLine(t *testing.T) {
	t.Parallel()
	in := `{"id":"A","role":"user","text":"q1","timestamp":1714557602}
{"id":"B","role":"user","text":"other"}
{"id":"A","role":"agent","text":"a1","timestamp":1714557601}`
	tickets, err := Parse(strings.NewReader(in), FormatJSONL)
	require.NoError(t, err)
	require.Len(t, tickets, 2)
	require.Equal(t, "A", tickets[0].ID)
	require.Equal(t, []string{"a1", "q1"}, []string{tickets[0].Messages[0].Text, tickets[0].Messages[1].Text})
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	in := "\ufeff工单号,角色,内容,时间\n" +
		"W1,客户,\"你好，我想问一下, 退货运费谁出？\",2024/05/01 10:00:00\n" +
		"W1,客服,\"七天无理由退货运费由买家承担；\n质量问题由我们承担。\",2024/05/01 10:02:00\n" +
		"W1,客户,在吗,2024/05/01 09:59:00\n" +
		"W2,用户,a \"quoted\" word,\n" +
		",客服,no id,\n"
	tickets, err := Parse(strings.NewReader(in), FormatAuto)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Lines, 1)
	require.Equal(t, 7, pe.Lines[0].Line, "the row after the embedded newline")

	require.Len(t, tickets, 2)
	w1 := tickets[0].Messages
	require.Len(t, w1, 3)
	require.Equal(t, "在吗", w1[0].Text, "sorted by time")
	require.Equal(t, "你好，我想问一下, 退货运费谁出？", w1[1].Text)
	require.Equal(t, "七天无理由退货运费由买家承担；\n质量问题由我们承担。", w1[2].Text)
	require.Equal(t, `a "quoted" word`, tickets[1].Messages[0].Text, "lazy quotes")
}

func TestParseCSVVariants(t *testing.T) {
	t.Parallel()
	t.Run("EnglishTabs", func(t *testing.T) {
		t.Parallel()
		in := "Ticket ID\tSender\tMessage\tCreated_At\nX\tcustomer\thow do I reset?\t\nX\tagent\thold the button\t\n"
		tickets, err := Parse(strings.NewReader(in), FormatCSV)
		require.NoError(t, err)
		require.Len(t, tickets, 1)
		require.Equal(t, "hold the button", tickets[0].Messages[1].Text)
	})
	t.Run("GB18030", func(t *testing.T) {
		t.Parallel()
		utf := "会话ID,发送方,消息内容\nG1,买家,洗衣机不脱水怎么办\n"
		gb, err := simplifiedchinese.GB18030.NewEncoder().String(utf)
		require.NoError(t, err)
		tickets, err := Parse(strings.NewReader(gb), FormatAuto)
		require.NoError(t, err)
		require.Equal(t, "洗衣机不脱水怎么办", tickets[0].Messages[0].Text)
	})
	t.Run("UnknownHeader", func(t *testing.T) {
		t.Parallel()
		_, err := Parse(strings.NewReader("a,b,c\n1,2,3\n"), FormatCSV)
		require.ErrorIs(t, err, kb.ErrInvalid)
		require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "工单号")
	})
	t.Run("UnknownFormat", func(t *testing.T) {
		t.Parallel()
		_, err := Parse(strings.NewReader("x"), Format("xml"))
		require.True(t, errors.Is(err, kb.ErrUnsupported))
	})
}

// Raw personal data planted in tickets; none may appear in any output.
var rawPII = []string{
	"13812345678", "139 1234 5678", "11010519491231002X", "440306199003071232", "zhang.san@example.com",
	"6222021234567890128", "张三丰", "李小明", "文三路90号", "202405011234567",
}

func piiTickets() []Ticket {
	return []Ticket{
		{ID: "P1", Messages: []Message{
			msg(RoleCustomer, "你好"),
			msg(RoleCustomer, "我的快递一直没到，收件人：张三丰，手机13812345678，地址：浙江省杭州市西湖区文三路90号"),
			msg(RoleAgent, "您好，请稍等"),
			msg(RoleAgent, "已为张三丰催件，快递员会联系13812345678，预计明天送达文三路90号。"),
		}},
		{ID: "P2", Messages: []Message{
			msg(RoleCustomer, "实名认证失败，身份证11010519491231002X，邮箱zhang.san@example.com"),
			msg(RoleAgent, "请核对身份证号440306199003071232是否与银行卡6222021234567890128的开户信息一致，结果会发到zhang.san@example.com。"),
		}},
		{ID: "P3", Messages: []Message{
			msg(RoleCustomer, "订单号：202405011234567 退款到哪张卡？联系人李小明 139 1234 5678"),
			msg(RoleAgent, "退款原路退回到您支付的银行卡6222021234567890128，1-3个工作日到账。"),
		}},
	}
}

func requireNoPII(t *testing.T, s string) {
	t.Helper()
	for _, raw := range rawPII {
		require.NotContains(t, s, raw)
	}
}

func TestExtractMasksPersonalData(t *testing.T) {
	t.Parallel()
	pairs := Extract(piiTickets(), ExtractOptions{})
	require.Len(t, pairs, 3)
	for _, p := range pairs {
		requireNoPII(t, p.Question)
		requireNoPII(t, p.Answer)
		requireNoPII(t, strings.Join(p.TicketIDs, ","))
	}
	require.Contains(t, pairs[0].Question, "[手机号]")
	require.Contains(t, pairs[0].Question, "[姓名]")
	require.Contains(t, pairs[1].Question, "[身份证号]")
	require.Contains(t, pairs[1].Answer, "[银行卡号]")
}

func TestParseMasksPersonalData(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("ticket_id,role,text\n")
	for _, tk := range piiTickets() {
		for _, m := range tk.Messages {
			b.WriteString(tk.ID + "," + string(m.Role) + ",\"" + m.Text + "\"\n")
		}
	}
	tickets, err := Parse(strings.NewReader(b.String()), FormatCSV)
	require.NoError(t, err)
	require.Len(t, tickets, 3)
	for _, tk := range tickets {
		for _, m := range tk.Messages {
			requireNoPII(t, m.Text)
		}
	}
	pairs := Extract(tickets, ExtractOptions{})
	require.Len(t, pairs, 3)
}

func TestExtractDropsCourtesy(t *testing.T) {
	t.Parallel()
	tk := Ticket{ID: "C1", Messages: []Message{
		msg(RoleAgent, "您好，很高兴为您服务"),
		msg(RoleCustomer, "你好"),
		msg(RoleCustomer, "在吗？"),
		msg(RoleCustomer, "你好，洗衣机显示E104是什么意思"),
		msg(RoleCustomer, "型号XR-500"),
		msg(RoleAgent, "亲，请稍等"),
		msg(RoleAgent, "正在为您查询"),
		msg(RoleAgent, "感谢您的耐心等待。E104表示电机过热，请断电冷却30分钟后再启动。还有什么可以帮您？"),
		msg(RoleCustomer, "好的，谢谢"),
		msg(RoleCustomer, "我试试"),
		msg(RoleAgent, "不客气，祝您生活愉快"),
	}}
	pairs := Extract([]Ticket{tk}, ExtractOptions{})
	require.Len(t, pairs, 1)
	require.Equal(t, "洗衣机显示E104是什么意思\n型号XR-500", pairs[0].Question)
	require.Equal(t, "E104表示电机过热，请断电冷却30分钟后再启动。", pairs[0].Answer)
	require.Equal(t, []string{"C1"}, pairs[0].TicketIDs)
	require.Equal(t, 1, pairs[0].Count)

	onlyGreetings := Ticket{ID: "C2", Messages: []Message{
		msg(RoleCustomer, "hello"), msg(RoleAgent, "Hi, please wait"), msg(RoleCustomer, "thanks!"),
	}}
	require.Empty(t, Extract([]Ticket{onlyGreetings}, ExtractOptions{}))
}

func TestExtractSeveralQuestionsAndClarification(t *testing.T) {
	t.Parallel()
	tk := Ticket{ID: "M1", Messages: []Message{
		msg(RoleCustomer, "我买的空调什么时候发货？"),
		msg(RoleAgent, "请提供一下您的订单号"),
		msg(RoleCustomer, "订单号 202405019999888"),
		msg(RoleAgent, "好的"),
		msg(RoleAgent, "您的订单已出库，预计48小时内发货，发货后会短信通知。"),
		msg(RoleCustomer, "好的"),
		msg(RoleCustomer, "另外安装要收费吗？"),
		msg(RoleAgent, "品牌官方提供免费基础安装，辅材按实际用量收费。"),
		msg(RoleAgent, "具体价目表见包装内说明书。"),
	}}
	pairs := Extract([]Ticket{tk}, ExtractOptions{})
	require.Len(t, pairs, 2)
	require.Equal(t, "我买的空调什么时候发货？", pairs[0].Question)
	require.Equal(t, "您的订单已出库，预计48小时内发货，发货后会短信通知。", pairs[0].Answer)
	require.Equal(t, "另外安装要收费吗？", pairs[1].Question)
	require.Equal(t, "品牌官方提供免费基础安装，辅材按实际用量收费。\n具体价目表见包装内说明书。", pairs[1].Answer)
}

func TestExtractEnglish(t *testing.T) {
	t.Parallel()
	tk := Ticket{ID: "E1", Messages: []Message{
		msg(RoleCustomer, "Hi"),
		msg(RoleCustomer, "Hello, how do I reset my router?"),
		msg(RoleAgent, "Let me check. Please wait."),
		msg(RoleAgent, "Hold the reset button for ten seconds until the light blinks. Anything else?"),
		msg(RoleCustomer, "Thanks"),
	}}
	pairs := Extract([]Ticket{tk}, ExtractOptions{})
	require.Len(t, pairs, 1)
	require.Equal(t, "how do I reset my router?", pairs[0].Question)
	require.Equal(t, "Hold the reset button for ten seconds until the light blinks.", pairs[0].Answer)
}

func TestExtractMergesDuplicates(t *testing.T) {
	t.Parallel()
	ask := func(id, q, a string) Ticket {
		return Ticket{ID: id, Messages: []Message{msg(RoleCustomer, q), msg(RoleAgent, a)}}
	}
	tickets := []Ticket{
		ask("D0", "发票怎么开？", "在订单详情页点击申请开票即可。"),
		ask("D1", "洗衣机显示E104怎么办？", "断电冷却。"),
		ask("D2", "你好，洗衣机显示E104怎么办", "E104表示电机过热，请断电冷却30分钟后重新启动，仍报错请联系售后。"),
		ask("D3", "请问洗衣机显示E104怎么办呀", "E104是电机过热，订单号 202405011234567 的维修已为您登记。"),
		ask("D2", "洗衣机显示 E104 怎么办?", "断电冷却后重启。"),
		ask("D4", "洗衣机显示E105怎么办", "E105是排水故障，请清理过滤器。"),
	}
	pairs := Extract(tickets, ExtractOptions{})
	require.Len(t, pairs, 3)
	top := pairs[0]
	require.Equal(t, 4, top.Count)
	require.Equal(t, []string{"D1", "D2", "D3"}, top.TicketIDs)
	require.Equal(t, "洗衣机显示E104怎么办？", top.Question, "first question kept")
	require.Equal(t, "E104表示电机过热，请断电冷却30分钟后重新启动，仍报错请联系售后。", top.Answer, "better answer kept")
	require.Equal(t, "发票怎么开？", pairs[1].Question, "ties keep first-seen order")
	require.Equal(t, "洗衣机显示E105怎么办", pairs[2].Question, "E104 and E105 stay apart")
}

func TestMergeSimilarThreshold(t *testing.T) {
	t.Parallel()
	p := func(q string) Pair { return Pair{Question: q, Answer: "a", TicketIDs: []string{q}, Count: 1} }
	// "abcdefghij" vs "abcdefghijk": 9 of 10 bigrams shared → 0.9.
	require.Len(t, merged(t, []Pair{p("abcdefghij"), p("abcdefghijk")}, 0.8), 1)
	require.Len(t, merged(t, []Pair{p("abcdefghij"), p("abcdefghijk")}, 0.95), 2)
	require.Len(t, merged(t, []Pair{p("？？"), p("？？"), p("!")}, 0.8), 2)
	// Long questions differing only in a fault code stay apart.
	require.Len(t, merged(t, []Pair{
		p("我的洗衣机在脱水的时候突然停机并且显示E101故障码请问应该怎么处理"),
		p("我的洗衣机在脱水的时候突然停机并且显示E110故障码请问应该怎么处理"),
	}, 0.8), 2)
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"customer", "User", " 客户 ", "买家", "访客"} {
		require.Equal(t, RoleCustomer, ParseRole(s), s)
	}
	for _, s := range []string{"agent", "Assistant", "客服", "商家", "人工客服"} {
		require.Equal(t, RoleAgent, ParseRole(s), s)
	}
	require.Equal(t, RoleOther, ParseRole("system"))
}

func TestTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ q, want string }{
		{"How long is the warranty? My number is [手机号]", "How long is the warranty?"},
		{"How long is the warranty?My number is [手机号]", "How long is the warranty?"},
		{"我的手机号是[手机号]。扫地机一直报E104怎么办？", "扫地机一直报E104怎么办？"},
		{"订单[订单号]\n什么时候发货", "什么时候发货"},
		{"v1.2 firmware update fails. What now?", "What now?"},
		{"[姓名] [手机号]", ""},
		{"充电座指示灯不亮", "充电座指示灯不亮"},
		{strings.Repeat("很长的问题", 20) + "吗？", strings.Repeat("很长的问题", 12) + "…"},
	} {
		require.Equal(t, tc.want, Title(tc.q, 60), tc.q)
	}
}

// merged is mergeSimilar with a context that never ends.
func merged(t *testing.T, pairs []Pair, threshold float64) []Pair {
	t.Helper()
	out, err := mergeSimilar(context.Background(), pairs, threshold)
	require.NoError(t, err)
	return out
}

// A job past its deadline stops parsing (JSONL and CSV) and mining with the context's
// error; with time left the same tickets parse and mine whole.
func TestParseAndExtractStopWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	var jsonl, csv strings.Builder
	csv.WriteString("ticket_id,role,text\n")
	for i := range 3000 {
		q, a := "我的订单 "+strings.Repeat("很", i%7)+"久没发货怎么办", "您好，已为您催促仓库，今天内发出"
		fmt.Fprintf(&jsonl, `{"id":"T%d","messages":[{"role":"customer","text":"%s"},{"role":"agent","text":"%s"}]}`+"\n", i, q, a)
		fmt.Fprintf(&csv, "C%d,customer,%s\nC%d,agent,%s\n", i, q, i, a)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for name, text := range map[string]string{"jsonl": jsonl.String(), "csv": csv.String()} {
		ts, err := ParseContext(context.Background(), strings.NewReader(text), FormatAuto)
		require.NoError(t, err, name)
		require.Len(t, ts, 3000, name)
		pairs, err := ExtractContext(ts, ExtractOptions{Context: context.Background()})
		require.NoError(t, err, name)
		require.NotEmpty(t, pairs, name)
		_, err = ParseContext(done, strings.NewReader(text), FormatAuto)
		require.ErrorIs(t, err, context.Canceled, name)
		_, err = ExtractContext(ts, ExtractOptions{Context: done})
		require.ErrorIs(t, err, context.Canceled, name)
	}
}
