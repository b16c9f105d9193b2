package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/segment"
)

// kbGen writes a synthetic e-commerce customer-service knowledge base and the questions
// customers ask about it, deterministically from a seed.
//
// What it models, and why. The vector index's recall depends on the geometry of the corpus
// and of the queries, so the generator must reproduce the geometry of a real knowledge base,
// not its prose. A real shop's knowledge base is
//   - topical: hundreds of products, grouped in categories, each product's manual, FAQ, spec
//     sheet and troubleshooting pages using that product's own vocabulary and the
//     category's; chunks of one product are near each other, of one category less so;
//   - skewed: a few best-sellers have many pages, most products few (Zipf over products);
//   - multi-sentence: chunks are 200–500 characters of varied sentences, not one template;
//   - partly boilerplate: after-sales policies (returns, warranty, invoices) are pasted into
//     many chunks of every product;
//   - full of identifiers: model numbers, fault codes, SKUs, specs with numbers and units.
//
// Words come from jieba's dictionary (shipped in the gojieba module the segmenter already
// loads, so nothing outside the module is read): each category and each product draws its
// own vocabulary from it, weighted by corpus frequency, with a Zipf distribution inside the
// topic. Sentences are everyday function-word frames ("如果…出现…，请先…") filled with a
// mixture of product, category and general words. The text is not meaningful Chinese, but
// its character n-gram statistics — what the local embedder sees — have the real structure.
//
// Queries are what a customer types: a few of a target chunk's content words, often the
// product's name, sometimes a model or fault code, a noise word or two, and a question tail
// ("怎么办", "能退吗"). Neither extreme that misleads an HNSW benchmark is present: not a few
// templates over tiny word lists (the previous generator, where the exact top 10 is a
// near-tie), nor words without topics (uniformly spread points, HNSW's worst case).
type kbGen struct {
	rng      *rand.Rand
	general  wordPool
	cats     []genCategory
	products []genProduct
	popular  []float64 // cumulative Zipf weights over products
}

type genCategory struct {
	name  string
	words wordPool
}

type genProduct struct {
	cat           int
	brand, series string
	words         wordPool
	models        []string
	faults        []genFault
}

type genFault struct {
	code string
	desc string
}

// wordPool samples words by weight.
type wordPool struct {
	words []string
	cum   []float64
}

func (p wordPool) pick(rng *rand.Rand) string {
	x := rng.Float64() * p.cum[len(p.cum)-1]
	return p.words[sort.SearchFloat64s(p.cum, x)]
}

func newWordPool(words []string, weights []float64) wordPool {
	p := wordPool{words: words, cum: make([]float64, len(weights))}
	var s float64
	for i, w := range weights {
		s += w
		p.cum[i] = s
	}
	return p
}

// genCategories are the shop's product categories.
var genCategories = []string{
	"扫地机器人", "空气炸锅", "净水器", "智能手表", "电饭煲", "吹风机", "洗碗机", "加湿器", "蓝牙耳机", "电动牙刷",
	"洗衣机", "冰箱", "空调", "电视", "笔记本电脑", "平板电脑", "手机", "充电宝", "路由器", "打印机",
	"显示器", "机械键盘", "无线鼠标", "投影仪", "电热水器", "油烟机", "微波炉", "咖啡机", "破壁机", "电磁炉",
	"空气净化器", "除湿机", "电风扇", "取暖器", "按摩椅", "体脂秤", "剃须刀", "卷发棒", "婴儿推车", "安全座椅",
	"行李箱", "跑步鞋", "冲锋衣", "保湿面霜", "洗发水", "猫粮", "山地自行车", "电动车", "露营帐篷", "登山包",
}

// genSections are the kinds of pages a product has, as chunk headings.
var genSections = []string{"故障排查", "使用指南", "规格参数", "常见问题", "售后服务", "保养维护", "安装说明", "活动说明", "配件说明", "安全须知"}

// genFrames are sentence skeletons; each {} takes a content word.
var genFrames = []string{
	"{}时请注意{}，避免{}。",
	"如果{}出现{}，请先{}，再检查{}。",
	"{}的{}与{}有关，一般{}即可恢复。",
	"建议定期{}{}，可以延长{}的使用寿命。",
	"本机支持{}和{}，在{}模式下会自动{}。",
	"首次使用前，请{}并{}，确认{}正常。",
	"部分用户反馈{}，这通常是因为{}没有{}。",
	"{}完成后，{}会自动{}，无需手动{}。",
	"请勿在{}的环境中{}，否则可能导致{}。",
	"在App中打开{}页面，选择{}即可{}。",
	"{}与{}不兼容时，可以尝试{}。",
	"若{}持续{}，请联系客服并提供{}和{}。",
	"{}能不能{}？可以，{}之后{}就行。",
	"{}、{}和{}都属于正常现象，不影响{}。",
	"长时间{}以后，{}可能会{}，属于{}。",
	"通过{}可以{}，同时减少{}。",
	"{}的{}由{}决定，不同{}略有差异。",
	"配合{}使用{}，{}的效果更好。",
	"出厂默认开启{}，如需{}，请在{}中修改。",
	"清洁{}时先{}，再用{}擦拭{}。",
	"{}指示灯闪烁表示{}，待{}后恢复。",
	"包装内含{}、{}、{}各一件。",
}

// genPolicies are after-sales boilerplate, pasted into chunks of every product.
var genPolicies = []string{
	"本商品支持七天无理由退货，商品需保持完好且配件齐全。",
	"签收后十五天内出现非人为性能故障，可申请换货。",
	"整机保修一年，主要部件保修三年，保修期自签收之日起计算。",
	"退货运费由运费险承担，理赔金额以保险公司审核为准。",
	"电子发票将在确认收货后二十四小时内发送至预留邮箱。",
	"购买后三十天内如遇降价，可联系客服申请价保退差。",
	"以旧换新需先完成旧机评估，补贴金额以评估结果为准。",
	"支持信用卡及花呗分期，分期手续费以页面展示为准。",
	"人为损坏、私自拆机或进液不在免费保修范围内。",
	"上门安装服务覆盖全国大部分城市，偏远地区可能收取远程费。",
	"客服工作时间为每天九点至二十一点，节假日照常服务。",
	"赠品随主商品一同发出，退货时需一并退回。",
	"订单付款后四十八小时内发货，预售商品以页面约定时间为准。",
	"申请售后时请提供订单号、故障照片或视频，以便尽快处理。",
	"维修期间可申请备用机，维修完成后寄回即可。",
	"会员积分可在下单时抵扣现金，每一百积分抵扣一元。",
}

var genUnits = []string{"瓦", "毫升", "升", "克", "千克", "厘米", "毫米", "小时", "分钟", "档", "毫安时", "英寸", "分贝", "平方米"}

var genTails = []string{"怎么办", "怎么回事", "是什么原因", "怎么设置", "能退吗", "多少钱", "在哪里", "正常吗", "吗", "", "？", "有什么区别", "怎么用"}

// jiebaWords reads jieba's dictionary: Han words of two to four characters of the parts of
// speech a product text is made of (nouns, verbs, adjectives, adverbs; no names or places),
// with their corpus frequency.
func jiebaWords() ([]string, []float64, error) {
	seg, err := segment.Shared()
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(filepath.Join(seg.DictDir(), "jieba.dict.utf8"))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: generator vocabulary: %w", err)
	}
	defer f.Close()
	keep := map[string]bool{"n": true, "nz": true, "v": true, "vn": true, "a": true, "an": true, "ad": true, "d": true, "b": true}
	var words []string
	var freqs []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || !keep[fs[2]] {
			continue
		}
		n := utf8.RuneCountInString(fs[0])
		if n < 2 || n > 4 || strings.IndexFunc(fs[0], func(r rune) bool { return !unicode.Is(unicode.Han, r) }) >= 0 {
			continue
		}
		fr, err := strconv.ParseFloat(fs[1], 64)
		if err != nil || fr < 5 {
			continue
		}
		words = append(words, fs[0])
		freqs = append(freqs, fr)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("bench: generator vocabulary: %w", err)
	}
	if len(words) < 10000 {
		return nil, nil, fmt.Errorf("bench: generator vocabulary: only %d words in %s", len(words), f.Name())
	}
	return words, freqs, nil
}

// newKBGen builds the shop: categories and products with their vocabularies. Products grow
// with the corpus (a shop with ten times the pages sells more products): n/100, 300..3000.
func newKBGen(seed uint64, n int) (*kbGen, error) {
	words, freqs, err := jiebaWords()
	if err != nil {
		return nil, err
	}
	g := &kbGen{rng: rand.New(rand.NewPCG(seed, 7))}
	g.general = newWordPool(words, freqs)
	// Topic words are drawn with weight freq^0.5, so that topics use mid-frequency words
	// too and not only the most common ones; inside a topic, word r of its list has weight
	// 1/(r+1) (Zipf), so each topic has its own characteristic words.
	tw := make([]float64, len(freqs))
	for i, f := range freqs {
		tw[i] = math.Sqrt(f)
	}
	topicPool := newWordPool(words, tw)
	topic := func(k int) wordPool {
		seen := map[string]bool{}
		var ws []string
		var wt []float64
		for len(ws) < k {
			w := topicPool.pick(g.rng)
			if seen[w] {
				continue
			}
			seen[w] = true
			ws = append(ws, w)
			wt = append(wt, 1/float64(len(ws)))
		}
		return newWordPool(ws, wt)
	}
	for _, name := range genCategories {
		g.cats = append(g.cats, genCategory{name: name, words: topic(300)})
	}
	brands := make([]string, 120)
	for i := range brands {
		if i%4 == 3 {
			brands[i] = g.latinName()
		} else {
			brands[i] = g.general.pick(g.rng)
		}
	}
	nProducts := min(max(n/100, 300), 3000)
	for range nProducts {
		p := genProduct{cat: g.rng.IntN(len(g.cats)), brand: brands[g.rng.IntN(len(brands))], words: topic(60)}
		p.series = fmt.Sprintf("%c%d", 'A'+rune(g.rng.IntN(26)), 1+g.rng.IntN(20))
		if s := g.rng.IntN(4); s > 0 {
			p.series += " " + []string{"", "Pro", "Max", "Lite"}[s]
		}
		prefix := fmt.Sprintf("%c%c", 'A'+rune(g.rng.IntN(26)), 'A'+rune(g.rng.IntN(26)))
		for range 2 + g.rng.IntN(4) {
			p.models = append(p.models, fmt.Sprintf("%s-%d%02d", prefix, 1+g.rng.IntN(9), g.rng.IntN(100)))
		}
		for range 5 + g.rng.IntN(20) {
			p.faults = append(p.faults, genFault{
				code: fmt.Sprintf("%c%02d", "EFH"[g.rng.IntN(3)], g.rng.IntN(100)),
				desc: p.words.pick(g.rng) + g.cats[p.cat].words.pick(g.rng),
			})
		}
		g.products = append(g.products, p)
	}
	// Popularity: Zipf (s = 0.8) over the products (which are drawn independently, so
	// index order is a random order).
	g.popular = make([]float64, nProducts)
	var s float64
	for r := range g.popular {
		s += 1 / math.Pow(float64(r+1), 0.8)
		g.popular[r] = s
	}
	return g, nil
}

func (g *kbGen) latinName() string {
	const cons, vows = "bdfgklmnprstvz", "aeiou"
	b := []byte{cons[g.rng.IntN(len(cons))] - 32, vows[g.rng.IntN(len(vows))], cons[g.rng.IntN(len(cons))], vows[g.rng.IntN(len(vows))]}
	return string(b)
}

// genPassage is a chunk and the words a customer could ask it with.
type genPassage struct {
	text    string
	product int
	terms   []string // content words of the product and category used in it
	codes   []string // model, fault codes and SKUs in it
}

// passage writes one chunk: a heading, then sentences until its target length (200–500
// characters), mixing product (45%), category (30%) and general (25%) words, with specs,
// codes and pasted policy sentences.
func (g *kbGen) passage() genPassage {
	r := g.rng.Float64() * g.popular[len(g.popular)-1]
	pi := sort.SearchFloat64s(g.popular, r)
	p := &g.products[pi]
	cat := &g.cats[p.cat]
	out := genPassage{product: pi}
	var b strings.Builder
	section := genSections[g.rng.IntN(len(genSections))]
	fmt.Fprintf(&b, "%s %s%s · %s\n", p.brand, p.series, cat.name, section)
	target := 200 + g.rng.IntN(301)
	word := func() string {
		switch x := g.rng.Float64(); {
		case x < 0.45:
			w := p.words.pick(g.rng)
			out.terms = append(out.terms, w)
			return w
		case x < 0.75:
			w := cat.words.pick(g.rng)
			out.terms = append(out.terms, w)
			return w
		default:
			return g.general.pick(g.rng)
		}
	}
	for utf8.RuneCountInString(b.String()) < target {
		switch x := g.rng.Float64(); {
		case x < 0.12:
			b.WriteString(genPolicies[g.rng.IntN(len(genPolicies))])
		case x < 0.22:
			f := p.faults[g.rng.IntN(len(p.faults))]
			fmt.Fprintf(&b, "显示故障码%s表示%s，请%s后%s。", f.code, f.desc, word(), word())
			out.codes = append(out.codes, f.code)
			out.terms = append(out.terms, f.desc)
		case x < 0.32:
			m := p.models[g.rng.IntN(len(p.models))]
			fmt.Fprintf(&b, "型号%s的%s为%d%s，%s为%d%s。", m, word(), 1+g.rng.IntN(2000), genUnits[g.rng.IntN(len(genUnits))], word(), 1+g.rng.IntN(500), genUnits[g.rng.IntN(len(genUnits))])
			out.codes = append(out.codes, m)
		case x < 0.36:
			sku := fmt.Sprintf("SKU%08d", g.rng.IntN(100000000))
			fmt.Fprintf(&b, "%s（%s）到手价%d元，%s。", sku, word(), 49+g.rng.IntN(5000), word())
			out.codes = append(out.codes, sku)
		default:
			frame := genFrames[g.rng.IntN(len(genFrames))]
			for {
				i := strings.Index(frame, "{}")
				if i < 0 {
					break
				}
				b.WriteString(frame[:i])
				b.WriteString(word())
				frame = frame[i+2:]
			}
			b.WriteString(frame)
		}
	}
	out.text = b.String()
	return out
}

// query asks about a passage as a customer would: often the product's name, two to four of
// the passage's content words, sometimes one of its codes, maybe a word of noise, and a
// question tail.
func (g *kbGen) query(ps genPassage) string {
	p := &g.products[ps.product]
	var parts []string
	switch x := g.rng.Float64(); {
	case x < 0.3:
		parts = append(parts, g.cats[p.cat].name)
	case x < 0.5:
		parts = append(parts, p.brand+g.cats[p.cat].name)
	case x < 0.6:
		parts = append(parts, p.brand+" "+p.series)
	}
	for range 2 + g.rng.IntN(3) {
		if len(ps.terms) > 0 {
			parts = append(parts, ps.terms[g.rng.IntN(len(ps.terms))])
		}
	}
	if len(ps.codes) > 0 && g.rng.Float64() < 0.25 {
		parts = append(parts, ps.codes[g.rng.IntN(len(ps.codes))])
	}
	for range g.rng.IntN(3) {
		parts = append(parts, g.general.pick(g.rng))
	}
	g.rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	sep := []string{"", " ", "，"}[g.rng.IntN(3)]
	return strings.Join(parts, sep) + genTails[g.rng.IntN(len(genTails))]
}
