package embedding

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestLocalParaphraseIsCloser(t *testing.T) {
	t.Parallel()
	e, err := NewLocal(LocalOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	vs, err := e.EmbedDocuments(ctx, []string{
		"收到的商品有质量问题怎么申请退货",
		"今天北京的天气很好，适合出去散步",
	})
	require.NoError(t, err)
	q, err := e.EmbedQuery(ctx, "商品质量有问题，如何退货？")
	require.NoError(t, err)
	require.Greater(t, dot(q, vs[0]), dot(q, vs[1])+0.2)
}

func TestLocalCodesMatchWhole(t *testing.T) {
	t.Parallel()
	e, err := NewLocal(LocalOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	vs, err := e.EmbedDocuments(ctx, []string{"故障码 E104 的处理方法", "故障码 E105 的处理方法"})
	require.NoError(t, err)
	q, err := e.EmbedQuery(ctx, "e104")
	require.NoError(t, err)
	require.Greater(t, dot(q, vs[0]), dot(q, vs[1]))
}

func TestLocalVectorsAreUnitAndDeterministic(t *testing.T) {
	t.Parallel()
	e, err := NewLocal(LocalOptions{Dimension: 256})
	require.NoError(t, err)
	require.Equal(t, 256, e.Dimension())
	require.Equal(t, "zhiku-hash-v1", e.Model())
	ctx := context.Background()
	vs, err := e.EmbedDocuments(ctx, []string{"Returns within 30 days 七天无理由退货", "", "!!!"})
	require.NoError(t, err)
	require.Len(t, vs[0], 256)
	require.InDelta(t, 1.0, math.Sqrt(dot(vs[0], vs[0])), 1e-5)
	require.Zero(t, dot(vs[1], vs[1]))
	require.Zero(t, dot(vs[2], vs[2]))

	again, err := NewLocal(LocalOptions{Dimension: 256})
	require.NoError(t, err)
	v2, err := again.EmbedQuery(ctx, "Returns within 30 days 七天无理由退货")
	require.NoError(t, err)
	require.Equal(t, vs[0], v2)
}

func TestLocalRejectsBadDimension(t *testing.T) {
	t.Parallel()
	for _, d := range []int{-1, 100, 5000} {
		_, err := NewLocal(LocalOptions{Dimension: d})
		require.Error(t, err, "dimension %d", d)
	}
}

func TestLocalHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	e, err := NewLocal(LocalOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.EmbedDocuments(ctx, []string{"a"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = e.EmbedQuery(ctx, "a")
	require.ErrorIs(t, err, context.Canceled)
}

func BenchmarkLocalEmbed(b *testing.B) {
	e, err := NewLocal(LocalOptions{})
	require.NoError(b, err)
	text := strings.Repeat(benchText, 2) // ~1.5 KB, a typical chunk
	b.SetBytes(int64(len(text)))
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.EmbedDocuments(ctx, []string{text}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchText is realistic mixed customer-service text.
const benchText = `您好，关于订单号 SKU-2231 的退货问题：商品签收后7天内支持无理由退货，请在“我的订单”中申请售后。
如果手机出现故障码E104，请先重启设备；若仍无法开机，可联系客服安排上门维修。XR-500 扫地机器人的滤网建议每三个月更换一次。
Returns are accepted within 30 days of delivery. Please contact customer service with your order number and the serial number of the RTX4090 graphics card.
本店所有商品均为正品，支持七天无理由退换货。满299元包邮，偏远地区除外。发票将在确认收货后三个工作日内开具。`
