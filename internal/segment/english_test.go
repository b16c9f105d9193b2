package segment

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnglishStopWordsStemsAndNegations(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	require.Equal(t, []string{"glacier", "cave", "form"}, s.Tokens("How are glacier caves formed?", nil),
		"question words and auxiliaries are stop words; plurals and tenses stem")
	require.Equal(t, []string{"phone", "not", "charg"}, s.Tokens("My phone doesn't charge", nil),
		"a contraction keeps its negation")
	require.Equal(t, []string{"not", "connect", "wifi"}, s.Tokens("I can't connect to WiFi", nil))
	require.Equal(t, []string{"no", "refund"}, s.Tokens("no refunds", nil))
}

func TestPossessives(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	require.Equal(t, []string{"samsung", "warranti"}, s.Tokens("Samsung's warranty", nil))
	require.Equal(t, []string{"samsung", "warranti"}, s.Tokens("Samsung’s warranty", nil), "curly apostrophe")
	require.Equal(t, []string{"custom", "order"}, s.Tokens("customers' orders", nil))
}

func TestModelNumbersAndUnits(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	toks := s.Tokens("1/3 HP motor for the WF-45 washer, 220 V, 5000mAh", nil)
	for _, want := range []string{"1/3", "1/3hp", "hp", "motor", "wf-45", "wf45", "wf", "45", "washer", "220", "220v", "5000mah", "5000", "mah"} {
		require.Contains(t, toks, want)
	}
	// Written together or apart, a number with its unit meets the other spelling.
	require.Contains(t, s.QueryTokens("220v", nil), "220v")
	require.Contains(t, s.QueryTokens("1/3hp motor", nil), "1/3")
	require.Contains(t, s.QueryTokens("1/3 hp", nil), "1/3hp")
	// Dates and decimals are not fractions.
	require.NotContains(t, s.Tokens("due 1/3/2024", nil), "1/3")
	require.Contains(t, s.Tokens("version 2.5 build", nil), "2.5")
}

func TestChineseKeepsSegmentationAndCodes(t *testing.T) {
	t.Parallel()
	s := sharedSeg(t)
	toks := s.Tokens("我的SKU-2231怎么退货？220V电压", nil)
	for _, want := range []string{"sku-2231", "sku2231", "退货", "220v", "电压"} {
		require.Contains(t, toks, want)
	}
	require.NotContains(t, toks, "的")
}
