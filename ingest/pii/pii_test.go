package pii

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMask(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want string
	}{
		// mobiles
		{"mobile plain", "我的手机13812345678，请回电", "我的手机[手机号]，请回电"},
		{"mobile spaced", "电话 138 1234 5678 谢谢", "电话 [手机号] 谢谢"},
		{"mobile dashed", "call 139-1234-5678.", "call [手机号]."},
		{"mobile +86", "+86 13812345678", "[手机号]"},
		{"mobile 86 prefix", "联系8613812345678", "联系[手机号]"},
		{"two numbers side by side", "4111111111111111 13812345678", "[银行卡号] [手机号]"},
		{"12 digits is no mobile", "编号138123456789", "编号138123456789"},
		{"mobile glued to letters is a code", "SN13812345678A", "SN13812345678A"},
		{"mobile run into an e-mail address", "电话 138 1234 5678@qq.com 谢谢", "电话 [邮箱] 谢谢"},
		// landlines
		{"landline beijing", "座机010-12345678", "座机[电话]"},
		{"landline 4-digit area", "0755-1234567转分机", "[电话]转分机"},
		{"landline parens", "请拨(021)12345678", "请拨[电话]"},
		{"landline full-width parens", "请拨（021）12345678", "请拨[电话]"},
		{"hotline is not personal", "客服热线400-123-4567", "客服热线400-123-4567"},
		// e-mail
		{"email", "邮箱 zhang.san+shop@example.com.cn 收", "邮箱 [邮箱] 收"},
		// ID numbers
		{"id valid X", "身份证11010519491231002X", "身份证[身份证号]"},
		{"id valid lowercase x", "id 11010519491231002x ok", "id [身份证号] ok"},
		{"id valid digit", "证件号：440306199003071232。", "证件号：[身份证号]。"},
		{"id bad checksum", "号码440306199003071233", "号码440306199003071233"},
		{"id bad date", "号码440306199013071232", "号码440306199013071232"},
		{"id 15 digit", "旧证件 110105491231002", "旧证件 [身份证号]"},
		{"id grouped", "身份证 320102 19851120 4566", "身份证 [身份证号]"},
		// bank cards
		{"card luhn ok", "卡号6222021234567890128", "卡号[银行卡号]"},
		{"card grouped", "卡号 6217 0012 3456 7890 122 尾号", "卡号 [银行卡号] 尾号"},
		{"card luhn bad", "卡号6222021234567890127", "卡号6222021234567890127"},
		{"card visa", "card 4111-1111-1111-1111", "card [银行卡号]"},
		{"luhn ok but product code prefix", "编码1234567812345670", "编码1234567812345670"},
		// order numbers
		{"order label", "订单号：202310011234567890", "订单号：[订单号]"},
		{"order label letters", "订单编号 TB2023ABC998877", "订单编号 [订单号]"},
		{"order after 订单", "我的订单 2023100112345 还没到", "我的订单 [订单号] 还没到"},
		{"order english", "Order No. 88776655 is late", "Order No. [订单号] is late"},
		{"order word without digits", "order number is missing", "order number is missing"},
		// names
		{"name after 收件人", "收件人：张三，电话13812345678", "收件人：[姓名]，电话[手机号]"},
		{"name glued to phone word", "收件人李小明电话13912345678", "收件人[姓名]电话[手机号]"},
		{"name 联系人", "联系人 欧阳娜娜", "联系人 [姓名]"},
		{"name english", "Name: John Smith", "Name: [姓名]"},
		{"name label no name", "收件人信息填错了", "收件人信息填错了"},
		// addresses
		{"address labelled", "收货地址：浙江省杭州市西湖区文三路90号东部软件园3幢502室，谢谢", "收货地址：[地址]，谢谢"},
		{"address unlabelled", "寄到广东省深圳市南山区科技园路1号想问多久到", "寄到[地址]想问多久到"},
		{"address city district", "我住深圳市南山区粤海街道科苑路15号", "我住[地址]"},
		{"beijing time is no address", "北京时间3号发货", "北京时间3号发货"},
		{"address word without address", "地址填错了怎么改", "地址填错了怎么改"},
		// must stay
		{"price", "这款299元，满1000减100", "这款299元，满1000减100"},
		{"model codes", "XR-500 报 E104 和 F-03", "XR-500 报 E104 和 F-03"},
		{"dates", "2023-10-01 12:30 下单，2023年10月1日", "2023-10-01 12:30 下单，2023年10月1日"},
		{"sku", "SKU-20231001-0001 与 SKU-6222021234567890128", "SKU-20231001-0001 与 SKU-6222021234567890128"},
		{"decimal", "重量 13812345678.5 克", "重量 13812345678.5 克"},
		{"already masked", "电话[手机号]，收件人[姓名]", "电话[手机号]，收件人[姓名]"},
		{"empty", "", ""},
		{"mobile +86 dashed", "Tel: +86-138-1234-5678", "Tel: [手机号]"},
		{"millisecond timestamp", "ts=1714557602123", "ts=1714557602123"},
		{"quantity list", "尺寸 120 150 180 200 220 240 cm", "尺寸 120 150 180 200 220 240 cm"},
		{"price with yuan sign", "￥1399.00，原价¥1599", "￥1399.00，原价¥1599"},
		{"year and count", "2024年销量13812345件", "2024年销量13812345件"},
		{"version", "固件 v2.13.8 版本", "固件 v2.13.8 版本"},
		{"order amount is no order number", "订单金额299元", "订单金额299元"},
		{"address after 送达", "预计明天送达文三路90号。", "预计明天送达[地址]。"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, findings := Mask(tc.in, Options{})
			require.Equal(t, tc.want, got)
			if tc.want == tc.in {
				require.Empty(t, findings)
			} else {
				require.NotEmpty(t, findings)
			}
		})
	}
}

func TestMaskFindings(t *testing.T) {
	t.Parallel()
	in := "张先生 邮箱 a@b.cn 手机 13812345678"
	got, findings := Mask(in, Options{})
	require.Equal(t, "张先生 邮箱 [邮箱] 手机 [手机号]", got)
	require.Len(t, findings, 2)
	require.Equal(t, Email, findings[0].Kind)
	require.Equal(t, "a@b.cn", in[findings[0].Start:findings[0].End])
	require.Equal(t, Mobile, findings[1].Kind)
	require.Equal(t, "13812345678", in[findings[1].Start:findings[1].End])
}

func TestMaskOptions(t *testing.T) {
	t.Parallel()
	t.Run("Keep", func(t *testing.T) {
		t.Parallel()
		got, _ := Mask("收件人：张三 13812345678", Options{Keep: []Kind{Name}})
		require.Equal(t, "收件人：张三 [手机号]", got)
	})
	t.Run("CustomOrderPattern", func(t *testing.T) {
		t.Parallel()
		opts := Options{OrderPatterns: []*regexp.Regexp{regexp.MustCompile(`JD\d{8,}`)}}
		got, _ := Mask("京东单 JD123456789 已签收，订单号：1234567890", opts)
		require.Equal(t, "京东单 [订单号] 已签收，订单号：1234567890", got)
	})
}

func TestMaskIdempotent(t *testing.T) {
	t.Parallel()
	in := "收件人：王五，地址：上海市浦东新区世纪大道100号，手机13912345678，卡6222021234567890128"
	once, _ := Mask(in, Options{})
	twice, findings := Mask(once, Options{})
	require.Equal(t, once, twice)
	require.Empty(t, findings)
	for _, raw := range []string{"王五", "世纪大道", "13912345678", "6222021234567890128"} {
		require.NotContains(t, once, raw)
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	require.True(t, validIDCard("11010519491231002X"))
	require.False(t, validIDCard("110105194912310021"))
	require.False(t, validIDCard("910105194912310021"), "region code 9x does not exist")
	require.True(t, validBankCard("6222021234567890128"))
	require.False(t, validBankCard("6222021234567890129"))
	require.True(t, validMobile("8613812345678"))
	require.False(t, validMobile("12812345678"))
	require.True(t, validLandline("01012345678"))
	require.False(t, validLandline("01012345"))
}
