package segment

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func sharedSeg(t *testing.T) *Segmenter {
	t.Helper()
	s, err := Shared()
	require.NoError(t, err)
	return s
}

func TestTokensKeepCodesWhole(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	toks := s.Tokens("故障码E104，请查询SKU-2231和XR-500的库存；型号A1B2-C3、iPhone15、RTX4090。", nil)
	for _, want := range []string{"e104", "sku-2231", "xr-500", "a1b2-c3", "iphone15", "rtx4090"} {
		require.Contains(t, toks, want)
	}
	// Useful parts come along, so "SKU 2231" and "XR500" still match.
	for _, want := range []string{"2231", "sku2231", "xr500", "500", "104", "4090"} {
		require.Contains(t, toks, want)
	}
	for _, bad := range []string{"e", "sku-", "-2231"} {
		require.NotContains(t, toks, bad)
	}
}

func TestTokensNormaliseAndStem(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	toks := s.Tokens("ＡＢＣ１２３ Returns are PROCESSED within 7 days", nil)
	require.Equal(t, []string{"abc123", "abc", "123", "return", "process", "within", "7", "day"}, toks)
}

func TestTokensChineseSearchMode(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	toks := s.Tokens("中华人民共和国的退货政策", nil)
	require.Contains(t, toks, "中华人民共和国")
	require.Contains(t, toks, "人民") // sub-word from search mode
	require.Contains(t, toks, "退货")
	require.NotContains(t, toks, "的")
}

func TestTokensAreLexemeSafe(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	for _, q := range []string{`-&!"(`, "", "   \t\n", "!!! ??? ，。、", "a | b & !c:* 'x' \\ <->", "Ｅ１０４　退 货"} {
		for _, tok := range s.QueryTokens(q, nil) {
			require.NotEmpty(t, tok)
			for _, r := range tok {
				require.False(t, unicode.IsSpace(r), "token %q has whitespace", tok)
				require.True(t, safeRune(r), "token %q has %q", tok, r)
			}
		}
	}
	require.Empty(t, s.QueryTokens(`-&!"(`, nil))
	require.Empty(t, s.Tokens("", nil))
}

func TestDictCustomWordsAndSynonyms(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	d := NewDict([]string{"小天才", "Galaxy S24 Ultra"}, [][]string{{"退货", "退款退货", "return"}, {"手机", "phone"}})

	toks := s.Tokens("小天才电话手表和Galaxy S24 Ultra", d)
	require.Contains(t, toks, "小天才")
	require.Contains(t, toks, "galaxys24ultra")
	require.NotContains(t, toks, "galaxi")

	// Without the dictionary the same text splits: the shared instance is untouched.
	require.NotContains(t, s.Tokens("小天才电话手表和Galaxy S24 Ultra", nil), "galaxys24ultra")

	q := s.QueryTokens("手机怎么退货", d)
	require.Contains(t, q, "退货")
	require.Contains(t, q, "退款退货")
	require.Contains(t, q, "return")
	require.Contains(t, q, "phone")

	groups := s.QueryGroups("Returns", d)
	require.Equal(t, [][]string{{"return", "退货", "退款退货"}}, groups)

	// "mate" is a custom word but must not match inside "template".
	d2 := NewDict([]string{"mate x", "华为mate"}, nil)
	require.NotContains(t, s.Tokens("template xyz", d2), "matex")
	require.Contains(t, s.Tokens("我买了华为Mate 60", d2), "华为mate")
}

func TestSharedIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	want := s.Tokens("请问这款手机支持无线充电吗", nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				require.Equal(t, want, s.Tokens("请问这款手机支持无线充电吗", nil))
			}
		}()
	}
	wg.Wait()
}

func TestNewFailsClearlyWithoutDictionary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := New(Options{DictDir: dir})
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(dir, "jieba.dict.utf8"))
	require.Contains(t, err.Error(), DictDirEnv)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestSplitKinds(t *testing.T) {
	t.Parallel()
	var got []string
	for _, sp := range Split("价格1.5元，e-commerce与400-820-8820") {
		got = append(got, sp.Text+"/"+string("?HWNC"[sp.Kind]))
	}
	require.Equal(t, "价格/H 1.5/N 元/H e/W commerce/W 与/H 400-820-8820/C", strings.Join(got, " "))
}

func BenchmarkTokens(b *testing.B) {
	s, err := Shared()
	require.NoError(b, err)
	text := strings.Repeat(benchText, 4)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		s.Tokens(text, nil)
	}
}

// benchText is realistic mixed customer-service text.
const benchText = `您好，关于订单号 SKU-2231 的退货问题：商品签收后7天内支持无理由退货，请在“我的订单”中申请售后。
如果手机出现故障码E104，请先重启设备；若仍无法开机，可联系客服安排上门维修。XR-500 扫地机器人的滤网建议每三个月更换一次。
Returns are accepted within 30 days of delivery. Please contact customer service with your order number and the serial number of the RTX4090 graphics card.
本店所有商品均为正品，支持七天无理由退换货。满299元包邮，偏远地区除外。发票将在确认收货后三个工作日内开具。`
