package answer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

const manualFaults = `## 故障代码
| 代码 | 含义 | 处理方法 |
|---|---|---|
| E101 | 左轮卡住 | 清理左轮缠绕物后重启 |
| E104 | 电机过热 | 关机冷却 30 分钟后重启，仍报错请联系售后 |
| E107 | 尘盒未安装 | 装好尘盒 |`

const manualCharging = `扫地机器人首次使用前请充满电。充电时指示灯闪烁，充满后常亮。
电量低于 15% 时机器会自动返回充电座。请勿在潮湿环境中充电；充电座周围 0.5 米内不要放置杂物。
电池续航约 150 分钟，视清扫模式而定。`

const manualEn = `Wi-Fi setup
The XR-500 connects to 2.4GHz Wi-Fi networks only. It does not support 5GHz networks. Open the app and tap Add Device. Hold the power button for 3 seconds until the light blinks.
The battery lasts about 150 minutes in standard mode.`

func TestExtract(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		q        string
		hits     []kb.Hit
		lang     string
		want     []string // substrings the answer holds
		wantNot  []string
		cited    []int
		maxRunes int
	}{
		{
			name: "fault code row", q: "E104 怎么办", lang: kb.LanguageZh,
			hits:    []kb.Hit{{Kind: kb.KindManual, Content: manualFaults, Score: 0.8, MatchedTerms: []string{"e104"}}},
			want:    []string{"E104", "电机过热", "冷却 30 分钟"},
			wantNot: []string{"E101", "E107", "故障代码"},
			cited:   []int{0},
		},
		{
			name: "faq answer part", q: "退货运费谁承担", lang: kb.LanguageZh,
			hits: []kb.Hit{
				{Kind: kb.KindFAQ, Content: "问：退货运费谁出？\n答：商品质量问题由我们承担运费；无理由退货由买家承担。", Score: 0.9},
				{Kind: kb.KindManual, Content: manualCharging, Score: 0.3},
			},
			want:    []string{"商品质量问题由我们承担运费"},
			wantNot: []string{"问：", "答："},
			cited:   []int{0},
		},
		{
			name: "english faq", q: "who pays return shipping", lang: kb.LanguageEn,
			hits:    []kb.Hit{{Kind: kb.KindTickets, Content: "Q: Who pays for return shipping?\nA: We cover it for defective items.", Score: 0.7}},
			want:    []string{"We cover it for defective items."},
			wantNot: []string{"Q:"},
			cited:   []int{0},
		},
		{
			name: "best sentences in order", q: "电量低了会自动回充吗", lang: kb.LanguageZh,
			hits:    []kb.Hit{{Kind: kb.KindManual, Content: manualCharging, Score: 0.6}},
			want:    []string{"电量低于 15% 时机器会自动返回充电座。"},
			wantNot: []string{"首次使用前"},
			cited:   []int{0}, maxRunes: 300,
		},
		{
			name: "english sentence", q: "Does the XR-500 support 5GHz Wi-Fi?", lang: kb.LanguageEn,
			hits:    []kb.Hit{{Kind: kb.KindManual, Content: manualEn, Score: 0.7, MatchedTerms: []string{"xr-500", "5ghz", "wi-fi"}}},
			want:    []string{"It does not support 5GHz networks."},
			wantNot: []string{"battery", "power button"},
			cited:   []int{0},
		},
		{
			name: "second passage when it holds the answer", q: "续航多久", lang: kb.LanguageZh,
			hits: []kb.Hit{
				{Kind: kb.KindManual, Content: manualFaults, Score: 0.5},
				{Kind: kb.KindManual, Content: manualCharging, Score: 0.45},
			},
			want:  []string{"电池续航约 150 分钟"},
			cited: []int{1},
		},
		{
			name: "weak passage is not used", q: "续航多久", lang: kb.LanguageZh,
			hits: []kb.Hit{
				{Kind: kb.KindManual, Content: "XR-500 续航 150 分钟。", Score: 0.9},
				{Kind: kb.KindManual, Content: manualCharging, Score: 0.2},
			},
			want:    []string{"XR-500 续航 150 分钟。"},
			wantNot: []string{"电池"},
			cited:   []int{0},
		},
		{
			name: "no overlap falls back to the top passage's opening", q: "发票怎么开", lang: kb.LanguageZh,
			hits:  []kb.Hit{{Kind: kb.KindManual, Content: manualCharging, Score: 0.4}},
			want:  []string{"扫地机器人首次使用前请充满电。"},
			cited: []int{0},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text, cited := Extract(c.q, c.hits, c.lang)
			for _, w := range c.want {
				require.Contains(t, text, w)
			}
			for _, w := range c.wantNot {
				require.NotContains(t, text, w)
			}
			require.Equal(t, c.cited, cited)
			if c.maxRunes > 0 {
				require.LessOrEqual(t, runeLen(text), c.maxRunes)
			}
		})
	}
}

func TestExtractKeepsWithinBudgetWithoutCuttingSentences(t *testing.T) {
	t.Parallel()
	sentence := "充电座周围请保持通风并远离热源，避免阳光直射与潮湿，充电时请勿移动机器人以免接触不良导致充电失败。"
	content := strings.Repeat(sentence, 12)
	text, _ := Extract("充电座 充电 注意", []kb.Hit{{Kind: kb.KindManual, Content: content, Score: 0.5}}, kb.LanguageZh)
	require.LessOrEqual(t, runeLen(text), 300)
	require.True(t, strings.HasSuffix(text, "。"), text)
	require.Zero(t, runeLen(text)%runeLen(sentence), "whole sentences only")

	words := strings.Repeat("The charging dock must stay in a dry, ventilated place away from heat and direct sunlight at all times. ", 10)
	en, _ := Extract("charging dock", []kb.Hit{{Kind: kb.KindManual, Content: words, Score: 0.5}}, kb.LanguageEn)
	require.LessOrEqual(t, len(strings.Fields(en)), 60)
	require.True(t, strings.HasSuffix(en, "times."), en)
}

func TestExtractEmpty(t *testing.T) {
	t.Parallel()
	text, cited := Extract("anything", nil, kb.LanguageEn)
	require.Empty(t, text)
	require.Nil(t, cited)
}

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"你好。", "请问“在吗？”", "好的"}, splitSentences("你好。请问“在吗？”好的"))
	require.Equal(t, []string{"Version 2.4 is out.", "Try it!", "Done"}, splitSentences("Version 2.4 is out. Try it! Done"))
}

func BenchmarkExtract(b *testing.B) {
	hits := []kb.Hit{
		{Kind: kb.KindManual, Content: manualFaults, Score: 0.8, MatchedTerms: []string{"e104"}},
		{Kind: kb.KindManual, Content: manualCharging, Score: 0.6},
		{Kind: kb.KindManual, Content: manualEn, Score: 0.5},
	}
	_, _ = Extract("E104 怎么办", hits, kb.LanguageZh) // load jieba outside the timing
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Extract("E104 怎么办", hits, kb.LanguageZh)
	}
}
