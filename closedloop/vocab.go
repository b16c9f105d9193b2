package closedloop

import (
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// zhSynonyms is a small table of the shop's vocabulary: each line is a canonical term and
// the ways customers say it. Questions are compared after every variant is rewritten to
// its canonical term, so "物流信息在哪里查" and "怎么查快递" share 快递. A line maps a
// variant to itself when a shorter variant inside it must not be rewritten (优惠券 holds
// 券). Keep it to words any shop uses; a knowledge base's own words are not here.
var zhSynonyms = [][]string{
	{"快递", "物流", "包裹", "快件"},
	{"运费", "邮费", "快递费", "运输费"},
	{"退款", "退钱", "钱退", "返款"},
	{"退货", "退回", "寄回"},
	{"退货 换货", "退换"},
	{"发票", "开票"},
	{"收据", "小票", "购物小票"},
	{"发货", "发出"},
	{"换货", "换一个", "换个", "换一件", "调换", "换成", "换大", "换小"},
	{"付款", "支付", "付钱", "买单"},
	{"付款方式", "支付宝", "微信支付", "信用卡", "银行卡", "云闪付", "付款渠道", "支付方式"},
	{"货到付款", "到付"},
	{"人工客服", "人工服务", "真人客服", "人工", "真人"},
	{"保修", "质保", "保质"},
	{"维修", "修理", "返修"},
	{"尺码", "尺寸", "码数", "多大码", "什么码", "码子"},
	{"地址", "收货地址", "送货地址"},
	{"优惠券", "满减券", "代金券", "折扣券", "优惠码", "券"},
	{"缺货", "没货", "无货", "断货", "卖完"},
	{"破损", "损坏", "压坏", "摔坏", "碎了", "破了", "裂"},
	{"发错", "寄错", "发成"},
	{"少发", "漏发", "少了", "缺件"},
	{"正品", "假货", "真货", "正版", "防伪", "山寨"},
	{"手机号", "手机号码"},
	{"更换绑定", "换绑", "改绑"},
	{"海外", "国外", "国际", "境外", "出国"},
	{"礼品", "礼物", "礼盒"},
	{"价保", "价格保护", "保价", "补差价", "差价"},
	{"定金", "订金"},
	{"会员", "vip"},
}

// canonical rewrites a normalized question's variants to their canonical terms.
var canonical = func() func(string) string {
	var pairs [][2]string
	for _, line := range zhSynonyms {
		for _, v := range line {
			pairs = append(pairs, [2]string{v, line[0]})
		}
	}
	for _, p := range enPhrases {
		pairs = append(pairs, p)
	}
	// Longest variant first: strings.Replacer prefers the earlier of two matches at one
	// position.
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p[0], " "+p[1]+" ")
	}
	r := strings.NewReplacer(args...)
	return func(q string) string {
		// Keep Chinese runs whole: a canonical term is a word of its run.
		return strings.Join(strings.Fields(r.Replace(q)), " ")
	}
}()

// enPhrases are English phrases said one way: the rest of English is compared on stems
// (enSynonyms).
var enPhrases = [][2]string{
	{"shipping address", "address"}, {"delivery address", "address"},
	{"discount code", "coupon"}, {"promo code", "coupon"}, {"coupon code", "coupon"}, {"voucher code", "coupon"},
	{"send it back", "return"}, {"send back", "return"}, {"send them back", "return"}, {"ship it back", "return"},
	{"send out", "ship"}, {"sent out", "ship"},
	{"tracking number", "tracking"},
}

// enSynonyms map a word stem to its canonical stem.
var enSynonyms = map[string]string{
	"w:dispatch": "w:ship", "w:arriv": "w:deliveri", "w:deliv": "w:deliveri", "w:parcel": "w:packag",
	"w:swap": "w:exchang", "w:voucher": "w:coupon", "w:promo": "w:coupon", "w:discount": "w:coupon",
	"w:intern": "w:oversea", "w:abroad": "w:oversea", "w:countri": "w:oversea", "w:worldwid": "w:oversea", "w:outsid": "w:oversea",
	"w:money": "w:refund", "w:reimburs": "w:refund",
}

// keyTerms are found in a question's text itself, whatever jieba makes of it: the
// contrast terms and the canonical terms.
var keyTerms = func() []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if !seen[t] && !strings.HasPrefix(t, "w:") && !strings.HasPrefix(t, "x:") {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, set := range contrasts {
		for _, t := range set {
			add(t)
		}
	}
	for _, line := range zhSynonyms {
		for _, t := range strings.Fields(line[0]) {
			add(t)
		}
	}
	for _, t := range topics {
		add(t)
	}
	for _, set := range aspects {
		for _, t := range set {
			add(t)
		}
	}
	// Longest first: keysOf takes the longest term at each position.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}()

// implied are topics a key term brings along: 定金 and 尾款 are both about a presale.
var implied = map[string]string{"定金": "预售", "尾款": "预售"}

// keysOf returns the key terms of a canonical question, longest first at each position
// and without overlaps, so 货到付款 names that and not also 付款.
func keysOf(q string) []string {
	var out []string
	for i := 0; i < len(q); {
		n := 0
		for _, t := range keyTerms {
			if strings.HasPrefix(q[i:], t) {
				n = len(t)
				out = append(out, t)
				if x, ok := implied[t]; ok {
					out = append(out, x)
				}
				break
			}
		}
		if n == 0 {
			_, n = utf8.DecodeRuneInString(q[i:])
		}
		i += n
	}
	return out
}

// zhFrameWords are jieba words that frame a question or carry grammar, not its subject.
var zhFrameWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`能 要 还 想 给 有 在 会 让 帮 把 被 就 都 也 又 再 才 这 那 个 说 后 时 里 内 好 不 没 已 已经 还是
		收到 支持 申请 一个 这个 那个 这款 一直 现在 自己 需要 应该 请 麻烦 谢谢 一般 大概 东西 商品 订单 下单 买 购买`) {
		m[w] = true
	}
	return m
}()

// topics are the shop's subjects: two questions that each name some but none in common
// are about different things (付款方式 / 货到付款, 保修 / 价保).
var topics = func() []string {
	out := []string{}
	for _, line := range zhSynonyms {
		out = append(out, strings.Fields(line[0])...)
	}
	out = append(out, strings.Fields(`发货单 取消 积分 会员 密码 尾款 预售 分期 收据 小票 发票 退货 换货 退款 维修 补发 发货 到货 补货 签收`)...)
	sort.Strings(out)
	return slices.Compact(out)
}()

// enShopStems are English stems of the shop's vocabulary, besides those of contrasts,
// aspects and enSynonyms.
var enShopStems = strings.Fields(`w:cancel w:address w:coupon w:size w:warranti w:password w:account w:payment w:pay
	w:instal w:member w:point w:invoic w:receipt w:return w:exchang w:refund w:ship w:deliveri w:track`)

// shopTerms are the key terms whose sharing lets two questions' content words count
// (see GroupOptions.KeyedThreshold).
var shopTerms = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range keyTerms {
		m[t] = !broadTerms[t]
	}
	for _, t := range enShopStems {
		m[t] = true
	}
	for _, t := range enSynonyms {
		m[t] = true
	}
	for _, set := range contrasts {
		for _, t := range set {
			m[t] = true
		}
	}
	return m
}()

// broadTerms are canonical terms too wide to vouch for an intent on their own: many
// questions about an Alipay account, a gift or a courier company are not about paying,
// gift wrapping or a delivery (measured on lcqmc_zh, where they grouped hard negatives).
var broadTerms = map[string]bool{"付款方式": true, "付款": true, "礼品": true, "快递": true, "手机号": true}

// sharesShopTerm reports whether two sorted key lists have a shop term in common.
func sharesShopTerm(a, b []string) bool {
	for _, t := range a {
		if shopTerms[t] {
			if i := sort.SearchStrings(b, t); i < len(b) && b[i] == t {
				return true
			}
		}
	}
	return false
}
