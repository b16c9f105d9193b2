package pii

import (
	"strings"
	"testing"
)

func BenchmarkMask(b *testing.B) {
	text := strings.Repeat("你好，我的XR-500洗衣机显示E104，订单号：202405011234567，收件人：张三，手机13812345678，"+
		"地址：浙江省杭州市西湖区文三路90号。这款299元的滤网什么时候到货？", 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Mask(text, Options{})
	}
}
