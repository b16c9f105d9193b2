package answer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestDetectHandoff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		q      string
		reason string // "" means no handoff
	}{
		// asks for a human
		{"转人工", ReasonHumanRequested},
		{"我要人工客服", ReasonHumanRequested},
		{"轉人工！", ReasonHumanRequested},
		{"能不能找人工", ReasonHumanRequested},
		{"有没有真人啊", ReasonHumanRequested},
		{"我不想跟机器人聊了", ReasonHumanRequested},
		{"I want to talk to a human", ReasonHumanRequested},
		{"Can I speak to someone?", ReasonHumanRequested},
		{"agent please", ReasonHumanRequested},
		{"Connect me with a customer service representative", ReasonHumanRequested},
		{"is there a REAL PERSON there", ReasonHumanRequested},
		// complaints
		{"我要投诉", ReasonComplaint},
		{"我要投诉你们的快递员，态度太差", ReasonComplaint},
		{"再不处理我就打12315", ReasonComplaint},
		{"你们就是骗子", ReasonComplaint},
		{"退款不到账怎么回事", ReasonComplaint},
		{"我要人工客服，我要投诉", ReasonComplaint},
		{"给你们差评", ReasonComplaint},
		{"I want to file a complaint", ReasonComplaint},
		{"this is a scam", ReasonComplaint},
		{"I'll report you to consumer protection", ReasonComplaint},
		// negative emotion
		{"什么破机器，气死我了", ReasonNegativeEmotion},
		{"垃圾产品", ReasonNegativeEmotion},
		{"烦死了", ReasonNegativeEmotion},
		{"滚", ReasonNegativeEmotion},
		{"到底什么时候发货！！！", ReasonNegativeEmotion},
		{"This is ridiculous", ReasonNegativeEmotion},
		{"worst service ever", ReasonNegativeEmotion},
		{"I am so angry right now", ReasonNegativeEmotion},
		{"WHERE IS MY ORDER I PAID TWO WEEKS AGO", ReasonNegativeEmotion},
		// ordinary questions that merely look alike
		{"你们的人工智能客服能做什么", ""},
		{"这个差评怎么删", ""},
		{"滚刷多久换一次", ""},
		{"扫地机器人能吸大颗粒垃圾吗", ""},
		{"尘盒里的垃圾怎么清理", ""},
		{"扫地机器人一直报警怎么办", ""},
		{"不用转人工，我自己看看", ""},
		{"客服电话是多少", ""},
		{"退货运费谁承担", ""},
		{"谢谢！！！太好了！！！", ""},
		{"Does the XR-500 support 5GHz Wi-Fi?", ""},
		{"what is the worst case battery life", ""},
		{"Does the USB-C port support PD charging?", ""},
		{"Is there a scampi recipe in the manual?", ""},
		{"How do I complete my order?", ""},
	}
	for _, c := range cases {
		reason, ok := DetectHandoff(c.q)
		require.Equal(t, c.reason, reason, "DetectHandoff(%q)", c.q)
		require.Equal(t, c.reason != "", ok, "DetectHandoff(%q) ok", c.q)
	}
}

func TestHandoffMessagesFollowLanguageAndReason(t *testing.T) {
	t.Parallel()
	reasons := []string{ReasonHumanRequested, ReasonComplaint, ReasonNegativeEmotion, ReasonRepeatedUnanswered}
	seen := map[string]bool{}
	for _, r := range reasons {
		zh, en := HandoffMessage(kb.LanguageZh, r), HandoffMessage(kb.LanguageEn, r)
		require.Equal(t, kb.LanguageZh, DetectLanguage(zh), zh)
		require.Equal(t, kb.LanguageEn, DetectLanguage(en), en)
		require.Contains(t, zh, "人工")
		require.Contains(t, en, "human agent")
		seen[zh], seen[en] = true, true
	}
	require.Len(t, seen, 2*len(reasons), "each reason has its own wording")
	require.Equal(t, kb.LanguageZh, DetectLanguage(FallbackMessage(kb.LanguageZh)))
	require.Equal(t, kb.LanguageEn, DetectLanguage(FallbackMessage(kb.LanguageEn)))
}

func BenchmarkDetectHandoff(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DetectHandoff("扫地机器人显示E104是什么意思？")
	}
}
