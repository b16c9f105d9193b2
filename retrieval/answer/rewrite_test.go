package answer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func user(s string) Turn { return Turn{Role: "user", Content: s} }
func bot(s string) Turn  { return Turn{Role: "assistant", Content: s} }

func TestRewriteFollowUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		history  []Turn
		q        string
		want     string   // exact rewrite, when set
		contains []string // else substrings of the rewrite
		ok       bool
	}{
		{name: "zh anaphor carries the product", history: []Turn{user("XR-500 扫地机器人多少钱"), bot("售价 1299 元。")},
			q: "那这个能退吗?", contains: []string{"XR-500", "退"}, ok: true},
		{name: "zh pronoun", history: []Turn{user("这款扫地机器人XR-500续航多久"), bot("约 150 分钟。")},
			q: "它防水吗", contains: []string{"XR-500", "防水", "扫地机器人"}, ok: true},
		{name: "zh same-kind code replaces the earlier code", history: []Turn{user("扫地机显示E103是什么意思"), bot("E103 表示边刷卡住。")},
			q: "E104呢", want: "扫地机显示E104是什么意思", ok: true},
		{name: "zh model swap with 那…呢", history: []Turn{user("XR-500 保修多久")},
			q: "那XR-300呢", want: "XR-300 保修多久", ok: true},
		{name: "zh topic swap", history: []Turn{user("退货流程是什么")},
			q: "那换货呢", want: "换货流程是什么", ok: true},
		{name: "zh elliptical question", history: []Turn{user("XR-500 扫地机器人多少钱")},
			q: "有货吗", contains: []string{"XR-500", "有货吗"}, ok: true},
		{name: "en pronoun", history: []Turn{user("Does the XR-500 support 5GHz Wi-Fi?"), bot("No, only 2.4GHz.")},
			q: "is it waterproof?", contains: []string{"XR-500", "waterproof"}, ok: true},
		{name: "en what about", history: []Turn{user("How long is the warranty on the XR-500?"), bot("Two years.")},
			q: "what about the XR-300?", want: "How long is the warranty on the XR-300?", ok: true},
		{name: "en noun phrase without a code", history: []Turn{user("How do I clean the robot vacuum filter?")},
			q: "how often should I replace it?", want: "how often should I replace the robot vacuum filter?", ok: true},
		{name: "en possessive", history: []Turn{user("Is the XR-500 in stock?")},
			q: "what is its battery life?", want: "what is the XR-500's battery life?", ok: true},
		{name: "earlier user turn when the last names nothing", history: []Turn{user("XR-700P 有什么颜色"), bot("只有白色。"), user("好的谢谢")},
			q: "它能拖地吗", contains: []string{"XR-700P", "拖地"}, ok: true},
		{name: "standalone question", history: []Turn{user("XR-500 扫地机器人多少钱"), bot("1299 元。")},
			q: "退货运费谁承担", want: "退货运费谁承担", ok: false},
		{name: "standalone with its own product", history: []Turn{user("XR-500 扫地机器人多少钱")},
			q: "XR-300 防水吗", want: "XR-300 防水吗", ok: false},
		{name: "standalone english", history: []Turn{user("Does the XR-500 support 5GHz Wi-Fi?")},
			q: "What is your return policy for opened items?", want: "What is your return policy for opened items?", ok: false},
		{name: "dummy it", history: []Turn{user("Does the XR-500 support 5GHz Wi-Fi?")},
			q: "Is it possible to change my delivery address after ordering?", want: "Is it possible to change my delivery address after ordering?", ok: false},
		{name: "time word is not an anaphor", history: []Turn{user("XR-500 多少钱")},
			q: "这个月底之前能发货到上海吗", want: "这个月底之前能发货到上海吗", ok: false},
		{name: "no history", q: "它防水吗", want: "它防水吗", ok: false},
		{name: "history names nothing", history: []Turn{user("你好"), bot("您好，请问有什么可以帮您？")},
			q: "它防水吗", want: "它防水吗", ok: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := RewriteFollowUp(c.q, c.history)
			require.Equal(t, c.ok, ok, "rewrite: %q", got)
			if c.want != "" {
				require.Equal(t, c.want, got)
			}
			for _, s := range c.contains {
				require.Contains(t, got, s)
			}
			require.LessOrEqual(t, runeLen(got), rewriteMaxRunes)
		})
	}
}

func BenchmarkRewriteFollowUp(b *testing.B) {
	history := []Turn{user("这款扫地机器人XR-500续航多久"), bot("约 150 分钟。")}
	_, _ = RewriteFollowUp("它防水吗", history) // load jieba outside the timing
	for _, q := range []string{"它防水吗", "退货运费谁承担"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = RewriteFollowUp(q, history)
			}
		})
	}
}
