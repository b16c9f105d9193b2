package tickets

import (
	"fmt"
	"testing"
)

// benchTickets builds n realistic dialogues: greetings, a question drawn from 50 topics
// (so merging has work to do), boilerplate, an answer and personal data to mask.
func benchTickets(n int) []Ticket {
	out := make([]Ticket, n)
	for i := range out {
		topic := i % 50
		out[i] = Ticket{ID: fmt.Sprintf("T%06d", i), Messages: []Message{
			msg(RoleCustomer, "你好，在吗"),
			msg(RoleCustomer, fmt.Sprintf("我的XR-%d洗衣机显示E1%02d故障码，请问怎么处理？订单号：2024%011d", 500+topic, topic, i)),
			msg(RoleAgent, "亲，请稍等，正在为您查询"),
			msg(RoleAgent, fmt.Sprintf("感谢您的耐心等待。E1%02d表示电机过热，请断电冷却30分钟后重新启动；如仍报错，请联系售后并提供购买凭证。", topic)),
			msg(RoleCustomer, fmt.Sprintf("好的，收件人：王小%c，手机138%08d", rune('一'+topic), i)),
			msg(RoleAgent, "还有什么可以帮您？"),
			msg(RoleCustomer, "没有了，谢谢"),
		}}
	}
	return out
}

func BenchmarkExtractTickets(b *testing.B) {
	tickets := benchTickets(2000)
	pairs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		pairs = len(Extract(tickets, ExtractOptions{}))
	}
	b.ReportMetric(float64(len(tickets))*float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
	b.ReportMetric(float64(pairs), "pairs")
}
