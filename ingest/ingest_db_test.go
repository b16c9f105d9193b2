package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
)

// dbBundle is a fresh database with one knowledge base, the real pipeline and the real
// search engine, both on the local embedder.
type dbBundle struct {
	db     *storetest.DB
	kb     kb.KnowledgeBase
	pipe   *ingest.Pipeline
	engine *retrieval.Engine
	local  *embedding.Local
}

func setupDB(t testing.TB) *dbBundle {
	t.Helper()
	ctx := context.Background()
	// Load the segmenter's dictionaries up front (once per process, ~0.6 s, as serve
	// does at start), so benchmarks time ingestion, not start-up.
	require.NoError(t, segment.Load())
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenant.ID, Name: "kb1", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(t, err)
	return &dbBundle{
		db: db, kb: k, local: local,
		pipe:   ingest.NewPipeline(db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return local, embedding.LocalModel, nil }, ingest.Options{}),
		engine: retrieval.New(db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return local, nil }, nil, retrieval.Options{StatsTTL: 1}),
	}
}

// ingest reads and writes one file and returns the result and outcomes; every unit must land.
func (b *dbBundle) ingest(t testing.TB, name string, data []byte, opts ingest.FileOptions) (ingest.FileResult, []ingest.Outcome) {
	t.Helper()
	opts.NoExternalTools = true
	res, err := ingest.ReadFile(context.Background(), name, data, opts)
	require.NoError(t, err)
	outs, err := b.pipe.Write(context.Background(), b.kb, res.Units, nil)
	require.NoError(t, err)
	for _, o := range outs {
		require.NoError(t, o.Err, o.ExternalID)
	}
	return res, outs
}

func (b *dbBundle) search(t testing.TB, q string, topK int) []kb.Hit {
	t.Helper()
	hits, err := b.engine.Search(context.Background(), retrieval.Request{KB: b.kb, Query: q, TopK: topK})
	require.NoError(t, err)
	return hits
}

func counts(outs []ingest.Outcome) (added, updated, unchanged int) {
	for _, o := range outs {
		switch {
		case o.Result.Unchanged:
			unchanged++
		case o.Result.Replaced > 0:
			updated++
		default:
			added++
		}
	}
	return
}

func TestManualPDFWithPredefinedCMapIsSearchable(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	data, err := os.ReadFile("../testdata/demo/xr500-manual.pdf")
	require.NoError(t, err)
	require.NotContains(t, string(data), "ToUnicode", "the fixture relies on a predefined CMap")
	res, _ := b.ingest(t, "xr500-manual.pdf", data, ingest.FileOptions{})
	require.Equal(t, kb.KindManual, res.Kind)
	require.Equal(t, 5, res.Pages)

	doc, err := b.db.Store.GetDocument(context.Background(), b.kb.ID, "xr500-manual.pdf")
	require.NoError(t, err)
	require.Equal(t, "parsed with pdf+cmap", doc.StatusDetail)
	require.Equal(t, "解析方式：pdf+cmap", doc.StatusDetailZh)
	require.Equal(t, "pdf+cmap", doc.Metadata["parse_method"])
	require.Equal(t, "application/pdf", doc.MimeType)
	require.Equal(t, kb.StatusReady, doc.Status)

	hits := b.search(t, "E104 电机过热怎么办", 3)
	require.NotEmpty(t, hits)
	require.Equal(t, "xr500-manual.pdf", hits[0].ExternalID)
	require.Equal(t, 4, hits[0].Page)
	require.Contains(t, hits[0].Content, "E104 | 电机过热 | Motor overheated | 关机冷却 10 分钟后重启")
	require.Contains(t, strings.Join(hits[0].SectionPath, " > "), "第3章 故障排除")

	hits = b.search(t, "how long does the warranty last", 3)
	require.NotEmpty(t, hits)
	require.Equal(t, 5, hits[0].Page)
}

func TestUnreadablePDFsFailClearly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	read := func(path string, opts ingest.FileOptions) error {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		opts.NoExternalTools = true
		_, err = ingest.ReadFile(ctx, path[strings.LastIndex(path, "/")+1:], data, opts)
		return err
	}
	err := read("testdata/scanned.pdf", ingest.FileOptions{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.ErrorContains(t, err, "scanned")
	require.ErrorContains(t, err, "scanned.pdf")

	err = read("parse/testdata/user-secret-aes128.pdf", ingest.FileOptions{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.ErrorContains(t, err, "needs a password")
	require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "PDF 已加密")
	require.NoError(t, read("parse/testdata/user-secret-aes128.pdf", ingest.FileOptions{Password: "secret"}))
	require.NoError(t, read("parse/testdata/empty-user-aes128.pdf", ingest.FileOptions{}), "an empty user password opens transparently")

	data, err := os.ReadFile("../testdata/demo/xr500-manual.pdf")
	require.NoError(t, err)
	_, err = ingest.ReadFile(ctx, "truncated.pdf", data[:len(data)/3], ingest.FileOptions{NoExternalTools: true})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.ErrorContains(t, err, "truncated.pdf")

	_, err = ingest.ReadFile(ctx, "long.pdf", data, ingest.FileOptions{Limits: ingest.Limits{MaxPages: 2}, NoExternalTools: true})
	require.ErrorIs(t, err, kb.ErrTooLarge)
}

func TestGBKTextManual(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	text := "退换货说明\n\n签收后七天内可无理由退货，商品需保持完好，退货运费由买家承担。\n\n质量问题可在十五天内换货，运费由商家承担。\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	res, _ := b.ingest(t, "退换货.txt", gbk, ingest.FileOptions{})
	require.Equal(t, kb.KindManual, res.Kind)
	require.Equal(t, "text/gb18030", res.Method)
	hits := b.search(t, "质量问题换货运费", 1)
	require.Len(t, hits, 1)
	require.Contains(t, hits[0].Content, "质量问题可在十五天内换货")
}

func TestSameManualUnderAnotherNameIsStoredOnce(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	text := []byte("保修政策\n\n整机保修一年，电机保修三年。人为损坏不在保修范围内。\n")
	_, first := b.ingest(t, "保修.txt", text, ingest.FileOptions{})
	require.Empty(t, first[0].Result.DuplicateOf)
	_, again := b.ingest(t, "warranty-copy.txt", text, ingest.FileOptions{})
	require.Equal(t, "保修.txt", again[0].Result.DuplicateOf)
	require.True(t, again[0].Result.Unchanged)

	var docs int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE kb_id = $1`, b.kb.ID).Scan(&docs))
	require.Equal(t, 1, docs, "the copy is not stored")
	require.Len(t, b.search(t, "电机保修几年", 5), 1, "and the search finds one passage, not two")

	// Other metadata makes it another document (e.g. the same manual for another product line).
	_, other := b.ingest(t, "warranty-copy.txt", text, ingest.FileOptions{Metadata: map[string]any{"product": "XR-550"}})
	require.Empty(t, other[0].Result.DuplicateOf)
	require.False(t, other[0].Result.Unchanged)
}

func TestPassageSharedByTwoManualsIsServedOnce(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	safety := "## 安全须知\n\n请勿在潮湿地面或有积水的区域使用本产品，以免触电。\n\n"
	b.ingest(t, "xr500.md", []byte("# XR-500 说明书\n\n"+safety+"## 参数\n\n激光导航，续航 180 分钟。\n"), ingest.FileOptions{})
	b.ingest(t, "xr550.md", []byte("# XR-550 说明书\n\n"+safety+"## 参数\n\n视觉导航，续航 150 分钟。\n"), ingest.FileOptions{})
	count := func() int {
		n := 0
		for _, h := range b.search(t, "潮湿地面积水 触电", 10) {
			if strings.Contains(h.Content, "以免触电") {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, count(), "the shared safety passage is one result, not two")
	_, err := b.db.Store.DeleteDocument(context.Background(), b.kb.ID, "xr500.md")
	require.NoError(t, err)
	require.Equal(t, 1, count(), "and stays found through the other manual")
}

// productsCSV writes n products; the description has quoted commas and an embedded newline.
func productsCSV(n int, price func(i int) float64) []byte {
	var buf bytes.Buffer
	buf.WriteString("\ufeff货号,商品名称,价格,库存,类目,品牌,描述\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&buf, "ZJ-%d,智净 扫地机器人 %d 号,%.2f,%d,扫地机,智净,\"激光导航, %dPa 吸力\n支持 App 控制\"\n", 1000+i, i, price(i), i*3, 2000+i*10)
	}
	return buf.Bytes()
}

func TestCatalogReimportAndReplace(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	ctx := context.Background()
	base := func(i int) float64 { return 1000 + float64(i) }
	res, outs := b.ingest(t, "catalog.csv", productsCSV(30, base), ingest.FileOptions{})
	require.Equal(t, kb.KindCatalog, res.Kind)
	added, _, _ := counts(outs)
	require.Equal(t, 30, added)

	doc, err := b.db.Store.GetDocument(ctx, b.kb.ID, "sku:ZJ-1007")
	require.NoError(t, err)
	require.Equal(t, 1007.0, doc.Metadata["price"])
	require.EqualValues(t, 21, doc.Metadata["stock"])
	require.Equal(t, "激光导航, 2070Pa 吸力\n支持 App 控制", doc.Metadata["描述"], "quoted comma and newline survive")

	// Exact SKU queries find their product first, among 30 near-identical products.
	for _, sku := range []string{"ZJ-1017", "zj-1003", "ZJ-1030"} {
		hits := b.search(t, sku, 5)
		require.NotEmpty(t, hits, sku)
		require.Equal(t, "sku:"+strings.ToUpper(sku), hits[0].ExternalID, sku)
	}

	// Re-import with two prices changed: only those two are rewritten.
	changed := func(i int) float64 {
		if i == 4 || i == 9 {
			return 1.5 * base(i)
		}
		return base(i)
	}
	_, outs = b.ingest(t, "catalog.csv", productsCSV(30, changed), ingest.FileOptions{})
	added, updated, unchanged := counts(outs)
	require.Equal(t, [3]int{0, 2, 28}, [3]int{added, updated, unchanged})
	doc, err = b.db.Store.GetDocument(ctx, b.kb.ID, "sku:ZJ-1004")
	require.NoError(t, err)
	require.Equal(t, 1506.0, doc.Metadata["price"])
	require.Equal(t, 2, doc.Version)

	// --replace with the last three rows gone prunes exactly those SKUs of this source.
	b.ingest(t, "other.csv", []byte("货号,商品名称\nOT-1,别的店的商品\n"), ingest.FileOptions{})
	res, _ = b.ingest(t, "catalog.csv", productsCSV(27, changed), ingest.FileOptions{})
	gone, err := ingest.Prune(ctx, b.db.Store, b.kb.ID, res)
	require.NoError(t, err)
	require.Equal(t, []string{"sku:ZJ-1028", "sku:ZJ-1029", "sku:ZJ-1030"}, gone)
	_, err = b.db.Store.GetDocument(ctx, b.kb.ID, "sku:ZJ-1029")
	require.ErrorIs(t, err, kb.ErrNotFound)
	_, err = b.db.Store.GetDocument(ctx, b.kb.ID, "sku:OT-1")
	require.NoError(t, err, "another source's products stay")
	_, total, err := b.db.Store.ListDocuments(ctx, b.kb.ID, kb.KindCatalog, "", 10, 0)
	require.NoError(t, err)
	require.Equal(t, 28, total)
	for _, h := range b.search(t, "ZJ-1029", 5) {
		require.NotEqual(t, "sku:ZJ-1029", h.ExternalID)
	}
}

func TestCatalogXLSXWithMergedHeaders(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	set := func(cell string, v any) { require.NoError(t, f.SetCellValue(sheet, cell, v)) }
	for cell, v := range map[string]any{"A1": "货号", "B1": "商品名称", "C1": "价格", "E1": "库存", "C2": "原价", "D2": "售价",
		"A3": "BL-01", "B3": "便携榨汁杯", "C3": 199, "D3": 159, "E3": 40,
		"A4": "BL-02", "B4": "破壁料理机", "C4": 899, "D4": 699, "E4": 12} {
		set(cell, v)
	}
	for _, m := range [][2]string{{"A1", "A2"}, {"B1", "B2"}, {"C1", "D1"}, {"E1", "E2"}} {
		require.NoError(t, f.MergeCell(sheet, m[0], m[1]))
	}
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))

	res, _ := b.ingest(t, "products.xlsx", buf.Bytes(), ingest.FileOptions{})
	require.Equal(t, kb.KindCatalog, res.Kind)
	require.Equal(t, "xlsx", res.Method)
	doc, err := b.db.Store.GetDocument(context.Background(), b.kb.ID, "sku:BL-02")
	require.NoError(t, err)
	require.Equal(t, "破壁料理机", doc.Title)
	require.Equal(t, 699.0, doc.Metadata["price"], "the selling price of the merged 价格 header")
	require.Equal(t, 899.0, doc.Metadata["价格/原价"])
	hits := b.search(t, "破壁料理机多少钱", 1)
	require.Len(t, hits, 1)
	require.Equal(t, "sku:BL-02", hits[0].ExternalID)
}

func TestFAQFoundBySimilarQuestion(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	b.ingest(t, "faq.csv", []byte(faqCSV), ingest.FileOptions{})
	hits := b.search(t, "退回运费谁付", 1)
	require.Len(t, hits, 1)
	require.Equal(t, kb.KindFAQ, hits[0].Kind)
	require.Contains(t, hits[0].Content, "答：七天无理由退货的运费由买家承担")
	require.Equal(t, "售后", hits[0].Metadata["category"])
}

// idNumber completes a 17-digit prefix with its GB 11643 check character.
func idNumber(prefix string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(prefix[i]-'0') * w
	}
	return prefix + string("10X98765432"[sum%11])
}

func TestTicketsLeaveNoPersonalDataInTheDatabase(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	ctx := context.Background()
	id := idNumber("11010519900307123")
	secrets := []string{"13812345678", "139 8765 4321", "010-62345678", id, "zhang.wei@example.com"}
	tickets := fmt.Sprintf(`{"id":"T1","messages":[{"role":"customer","text":"扫地机一直报E104怎么处理？我手机%s"},{"role":"agent","text":"请稍等"},{"role":"agent","text":"E104 是电机过热，请关机冷却十分钟，清理滚刷缠绕的毛发后再开机。"}]}
{"id":"T2","messages":[{"role":"customer","text":"我要开发票，身份证号%s，邮箱%s"},{"role":"agent","text":"电子发票会在确认收货后发送到您的邮箱，抬头可以在订单详情页修改。"}]}
{"id":"T3","messages":[{"role":"customer","text":"退货地址是哪里？座机%s 手机 %s"},{"role":"agent","text":"在订单页点申请退货后系统会显示退货地址，请不要直接寄回。"}]}
`, secrets[0], id, secrets[4], secrets[2], secrets[1])
	res, outs := b.ingest(t, "tickets.jsonl", []byte(tickets), ingest.FileOptions{})
	require.Equal(t, kb.KindTickets, res.Kind)
	require.Len(t, outs, 3)

	dump := func(query string) string {
		rows, err := b.db.Pool.Query(ctx, query)
		require.NoError(t, err)
		defer rows.Close()
		var sb strings.Builder
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			sb.WriteString(s)
		}
		require.NoError(t, rows.Err())
		return sb.String()
	}
	// Every column of every row, text and jsonb alike, as PostgreSQL prints it.
	all := dump(`SELECT d::text FROM documents d`) + dump(`SELECT c::text FROM chunks c`) + dump(`SELECT a::text FROM audit_log a`)
	require.Contains(t, all, "电机过热", "the dump holds the pairs")
	for _, s := range secrets {
		require.NotContains(t, all, s)
		require.NotContains(t, all, strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "-", ""))
	}

	// Held for review: not served until approved.
	require.Empty(t, b.search(t, "E104 电机过热", 5))
	docs, total, err := b.db.Store.ListDocuments(ctx, b.kb.ID, kb.KindTickets, kb.StatusReview, 10, 0)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	for _, d := range docs {
		if strings.Contains(d.Title, "E104") {
			require.NoError(t, b.db.Store.SetDocumentStatus(ctx, b.kb.ID, d.ID, kb.StatusReady, kb.T("approved", "已通过")))
		}
	}
	hits := b.search(t, "E104 电机过热", 5)
	require.Len(t, hits, 1)
	require.True(t, strings.HasPrefix(hits[0].Content, "问：扫地机一直报E104怎么处理？"))

	// Re-importing the same export keeps the approval: the pair is unchanged.
	_, outs = b.ingest(t, "tickets.jsonl", []byte(tickets), ingest.FileOptions{})
	_, _, unchanged := counts(outs)
	require.Equal(t, 3, unchanged)
	require.Len(t, b.search(t, "E104 电机过热", 5), 1)
}

// bulkSpy is the real store, noting when the pipeline writes in bulk.
type bulkSpy struct {
	ingest.Writer
	bulk int
}

func (s *bulkSpy) WithoutVectorIndex(ctx context.Context, kbID int64, fn func(ctx context.Context) error) error {
	s.bulk++
	return s.Writer.WithoutVectorIndex(ctx, kbID, fn)
}

func TestFirstLargeImportBuildsTheVectorIndexOnceAfter(t *testing.T) {
	t.Parallel()
	b := setupDB(t)
	ctx := context.Background()
	spy := &bulkSpy{Writer: b.db.Store}
	pipe := ingest.NewPipeline(spy, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return b.local, embedding.LocalModel, nil },
		ingest.Options{BulkChunks: 40})
	write := func(n int, price func(int) float64) []ingest.Outcome {
		res, err := ingest.ReadFile(ctx, "catalog.csv", productsCSV(n, price), ingest.FileOptions{})
		require.NoError(t, err)
		outs, err := pipe.Write(ctx, b.kb, res.Units, nil)
		require.NoError(t, err)
		return outs
	}
	outs := write(50, func(i int) float64 { return float64(i) })
	added, _, _ := counts(outs)
	require.Equal(t, 50, added)
	require.Equal(t, 1, spy.bulk, "a first import of 50 cards (threshold 40) is a bulk write")

	plan, err := b.db.Store.ExplainVectorSearch(ctx, b.kb, make([]float32, 256), 5)
	require.NoError(t, err)
	require.Contains(t, plan, "chunks_embedding_kb_", "the index is back")
	hits := b.search(t, "ZJ-1042", 3)
	require.NotEmpty(t, hits)
	require.Equal(t, "sku:ZJ-1042", hits[0].ExternalID)
	vec, err := b.engine.Search(ctx, retrieval.Request{KB: b.kb, Query: "智净 扫地机器人 42 号", TopK: 3, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.NotEmpty(t, vec)

	// Re-importing into a knowledge base as large as the import maintains the index instead.
	outs = write(50, func(i int) float64 { return float64(2 * i) })
	_, updated, _ := counts(outs)
	require.Equal(t, 50, updated)
	require.Equal(t, 1, spy.bulk, "a re-import is not a bulk write")
}
