package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
)

const catalogCSV = "货号,商品名称,价格,库存,类目,品牌,描述\n" +
	"XR-500,智净 XR-500 扫地机器人,\"1,299.00\",35,扫地机,智净,\"激光导航，2700Pa 吸力\n支持 App 远程控制\"\n" +
	"XR-300,智净 XR-300 扫地机器人,899,0,扫地机,智净,入门款\n" +
	",无货号商品,10,1,配件,智净,缺少货号\n"

const faqCSV = "问题,答案,相似问题,分类,标签\n" +
	"退货运费谁承担？,七天无理由退货的运费由买家承担，质量问题由商家承担。,退货要自己出运费吗|退回运费谁付,售后,退货;运费\n" +
	"多久发货？,付款后 48 小时内发货。,什么时候发货,物流,发货\n"

const ticketsJSONL = `{"id":"T1","messages":[{"role":"customer","text":"你好"},{"role":"customer","text":"扫地机显示E104是什么问题？我的电话13812345678"},{"role":"agent","text":"请稍等"},{"role":"agent","text":"E104 表示电机过热，请关机冷却十分钟并清理滚刷上缠绕的毛发后再启动。"}]}
{"id":"T2","messages":[{"role":"customer","text":"扫地机显示E104是什么问题？我的电话 139-1234-5678"},{"role":"agent","text":"E104 表示电机过热，请关机冷却十分钟并清理滚刷上缠绕的毛发后再启动。"}]}
`

func read(t *testing.T, name, data string, opts ingest.FileOptions) ingest.FileResult {
	t.Helper()
	opts.NoExternalTools = true
	res, err := ingest.ReadFile(context.Background(), name, []byte(data), opts)
	require.NoError(t, err)
	return res
}

func TestReadFileSniffsKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, kind string }{
		{"products.csv", catalogCSV, kb.KindCatalog},
		{"products.txt", catalogCSV, kb.KindCatalog},
		{"faq.csv", faqCSV, kb.KindFAQ},
		{"dump.jsonl", ticketsJSONL, kb.KindTickets},
		{"flat.csv", "工单号,角色,内容,时间\nT9,客户,怎么退货,2024-01-01 10:00\nT9,客服,在订单页点申请退货即可,2024-01-01 10:01\n", kb.KindTickets},
		{"records.jsonl", `{"id":"r1","title":"t","text":"hello"}` + "\n", kb.KindRecords},
		{"records.csv", "id,title,text\nr1,t,hello\n", kb.KindRecords},
		{"guide.txt", "扫地机器人使用说明。\n\n请先充电四小时，然后按下开关。\n", kb.KindManual},
		{"guide", "# XR-500\n\n## Charging\n\nCharge for four hours.\n", kb.KindManual},
		{"page.html", "<html><body><h1>Returns</h1><p>Within 7 days.</p></body></html>", kb.KindManual},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kind, err := ingest.SniffKind(tc.name, []byte(tc.data))
			require.NoError(t, err)
			require.Equal(t, tc.kind, kind)
			res := read(t, tc.name, tc.data, ingest.FileOptions{})
			require.Equal(t, tc.kind, res.Kind)
			require.NotEmpty(t, res.Units)
		})
	}
}

func TestReadFileCatalog(t *testing.T) {
	t.Parallel()
	res := read(t, "products.csv", catalogCSV, ingest.FileOptions{Kind: kb.KindCatalog, Metadata: map[string]any{"shop": "旗舰店"}})
	require.Equal(t, "catalog:products.csv", res.ReplaceScope)
	require.Len(t, res.Units, 2)
	require.Len(t, res.Warnings, 1, "the row without a SKU is reported")
	u := res.Units[0]
	require.Equal(t, "sku:XR-500", u.Doc.ExternalID)
	require.Equal(t, "智净 XR-500 扫地机器人", u.Doc.Title)
	require.Equal(t, 1299.0, u.Doc.Metadata["price"])
	require.Equal(t, int64(35), u.Doc.Metadata["stock"])
	require.Equal(t, "扫地机", u.Doc.Metadata["category"])
	require.Equal(t, "旗舰店", u.Doc.Metadata["shop"])
	require.Equal(t, "products.csv", u.Doc.SourceName)
	require.Len(t, u.Passages, 1)
	require.Contains(t, u.Passages[0].Content, "XR-500")
	require.Contains(t, u.Passages[0].Content, "激光导航，2700Pa 吸力\n支持 App 远程控制", "quoted comma and newline kept")

	again := read(t, "products.csv", catalogCSV, ingest.FileOptions{Kind: kb.KindCatalog, Metadata: map[string]any{"shop": "旗舰店"}})
	require.Equal(t, u.Doc.ContentHash, again.Units[0].Doc.ContentHash)
	other := read(t, "products.csv", catalogCSV, ingest.FileOptions{Kind: kb.KindCatalog, Metadata: map[string]any{"shop": "二店"}})
	require.NotEqual(t, u.Doc.ContentHash, other.Units[0].Doc.ContentHash, "changed upload metadata is a new version")
}

func TestReadFileFAQ(t *testing.T) {
	t.Parallel()
	res := read(t, "faq.csv", faqCSV, ingest.FileOptions{})
	require.Len(t, res.Units, 2)
	u := res.Units[0]
	require.True(t, strings.HasPrefix(u.Doc.ExternalID, "faq:"))
	require.Equal(t, kb.KindFAQ, u.Doc.Kind)
	require.Equal(t, "问：退货运费谁承担？\n答：七天无理由退货的运费由买家承担，质量问题由商家承担。", u.Passages[0].Content)
	require.Contains(t, u.Passages[0].IndexText, "退回运费谁付")
	require.Equal(t, []string{"退货要自己出运费吗", "退回运费谁付"}, u.Doc.Metadata["similar_questions"])
	require.Equal(t, "售后", u.Doc.Metadata["category"])
	// The id survives punctuation and width changes in the question.
	other := read(t, "faq.csv", strings.Replace(faqCSV, "退货运费谁承担？", "退货 运费谁承担?", 1), ingest.FileOptions{})
	require.Equal(t, u.Doc.ExternalID, other.Units[0].Doc.ExternalID)
}

func TestReadFileTicketsAreMaskedAndHeldForReview(t *testing.T) {
	t.Parallel()
	res := read(t, "dump.jsonl", ticketsJSONL, ingest.FileOptions{})
	require.Len(t, res.Units, 1, "the two tickets ask the same question")
	u := res.Units[0]
	require.Equal(t, kb.StatusReview, u.Doc.Status)
	require.True(t, strings.HasPrefix(u.Doc.ExternalID, "ticket:"))
	require.Equal(t, 2, u.Doc.Metadata["count"])
	require.Equal(t, []string{"T1", "T2"}, u.Doc.Metadata["ticket_ids"])
	require.True(t, strings.HasPrefix(u.Passages[0].Content, "问："))
	require.Contains(t, u.Passages[0].Content, "\n答：E104 表示电机过热")
	require.NotContains(t, u.Passages[0].Content, "13812345678")
	require.Equal(t, "扫地机显示E104是什么问题？", u.Doc.Title, "the question, without the masked rest of the turn")

	en := read(t, "en.jsonl", `{"id":"TK-0030","messages":[{"role":"customer","text":"How long is the warranty?My number is +86 18331912845"},{"role":"agent","text":"The robot has a 1-year warranty; batteries and brushes are covered for 6 months."}]}`, ingest.FileOptions{})
	require.Len(t, en.Units, 1)
	require.Equal(t, "How long is the warranty?", en.Units[0].Doc.Title)
}

func TestReadFileManual(t *testing.T) {
	t.Parallel()
	md := "# XR-500 用户手册\n\n## 第3章 故障排除\n\n### E104 电机过热\n\n请关机冷却十分钟。\n"
	res := read(t, "xr500.md", md, ingest.FileOptions{})
	require.Equal(t, "markdown", res.Method)
	u := res.Units[0]
	require.Equal(t, "xr500.md", u.Doc.ExternalID)
	require.Equal(t, "XR-500 用户手册", u.Doc.Title)
	require.Equal(t, "markdown", u.Doc.Metadata["parse_method"])
	require.Equal(t, "parsed with markdown", u.Doc.StatusDetail)
	require.Equal(t, "解析方式：markdown", u.Doc.StatusDetailZh)
	require.Equal(t, "text/markdown", u.Doc.MimeType)
	require.NotEmpty(t, u.Passages)
	last := u.Passages[len(u.Passages)-1]
	require.Equal(t, []string{"XR-500 用户手册", "第3章 故障排除", "E104 电机过热"}, last.SectionPath)
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := ingest.ReadFile(ctx, "big.txt", []byte(strings.Repeat("x", 2000)), ingest.FileOptions{Limits: ingest.Limits{MaxBytes: 1000}})
	require.ErrorIs(t, err, kb.ErrTooLarge)
	require.ErrorContains(t, err, "big.txt")
	require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "超过大小上限")

	_, err = ingest.ReadFile(ctx, "products.csv", []byte(catalogCSV), ingest.FileOptions{Kind: kb.KindCatalog, Limits: ingest.Limits{MaxRows: 1}})
	require.ErrorIs(t, err, kb.ErrTooLarge)

	_, err = ingest.ReadFile(ctx, "x.bin", []byte("\x00\x01\x02\x03binary\x00\x00"), ingest.FileOptions{})
	require.ErrorIs(t, err, kb.ErrUnsupported)

	_, err = ingest.ReadFile(ctx, "x.csv", []byte("颜色,尺寸\n红,大\n"), ingest.FileOptions{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.ErrorContains(t, err, "--kind")

	_, err = ingest.ReadFile(ctx, "x.txt", []byte("hello"), ingest.FileOptions{Kind: "poems"})
	require.ErrorIs(t, err, kb.ErrInvalid)

	_, err = ingest.ReadFile(ctx, "empty.txt", nil, ingest.FileOptions{})
	require.ErrorIs(t, err, kb.ErrInvalid)

	// A reader's message that already names the file is not prefixed with it again, in
	// either language.
	_, err = ingest.ReadFile(ctx, "docs.jsonl", []byte("\n\n"), ingest.FileOptions{Kind: kb.KindRecords})
	require.ErrorIs(t, err, kb.ErrInvalid)
	en, zh := kb.Texts(err)
	require.Equal(t, 1, strings.Count(en, "docs.jsonl"), en)
	require.Equal(t, 1, strings.Count(zh, "docs.jsonl"), zh)

	// A reader stopped by the job's deadline in its row loop says it took too long.
	var big strings.Builder
	for i := range 200000 {
		fmt.Fprintf(&big, "{\"id\":\"r%d\",\"text\":\"text %d\"}\n", i, i)
	}
	_, err = ingest.ReadFile(ctx, "huge.jsonl", []byte(big.String()), ingest.FileOptions{Kind: kb.KindRecords, Limits: ingest.Limits{Timeout: time.Millisecond}})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.ErrorContains(t, err, "huge.jsonl: reading took longer than 1ms")
}

// A plain-text file of sibling sections has no title heading: it is titled by its name,
// and each chunk's path is that title and its own section, not the first section's.
func TestReadFilePlainTextSectionsAreTheirOwnTitles(t *testing.T) {
	t.Parallel()
	txt := "第一章 安装\n将机器放在平整的地面上，接通电源。\n\n第二章 清洁\n每周清洁一次滚刷和滤网。\n\n第三章 保修\n整机保修两年。\n"
	u := read(t, "扫地机说明.txt", txt, ingest.FileOptions{}).Units[0]
	require.Equal(t, "扫地机说明", u.Doc.Title)
	var paths [][]string
	for _, p := range u.Passages {
		paths = append(paths, p.SectionPath)
	}
	require.Equal(t, [][]string{{"扫地机说明", "第一章 安装"}, {"扫地机说明", "第二章 清洁"}, {"扫地机说明", "第三章 保修"}}, paths)

}
