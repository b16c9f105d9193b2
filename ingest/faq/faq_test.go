package faq_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/zhiku/zhiku/ingest/faq"
	"github.com/zhiku/zhiku/internal/kb"
)

func parse(t *testing.T, text, name string) []faq.Entry {
	t.Helper()
	entries, err := faq.Parse(strings.NewReader(text), name, faq.Options{})
	require.NoError(t, err)
	return entries
}

func TestCSVSimilarSeparators(t *testing.T) {
	t.Parallel()
	csv := "标准问题,标准答案,相似问法,分类,标签\n" +
		"怎么退货？,\"7 天无理由退货，在订单页点「申请售后」。\",\"如何退货\n能退吗|退货流程；怎么退款;怎么退货？\",售后,\"退货,售后、政策\"\n" +
		"发什么快递,默认顺丰,\"[\"\"用什么快递\"\",\"\"哪家快递\"\"]\",物流,\n"
	entries := parse(t, csv, "faq.csv")
	require.Len(t, entries, 2)
	require.Equal(t, "怎么退货？", entries[0].Question)
	require.Equal(t, "7 天无理由退货，在订单页点「申请售后」。", entries[0].Answer)
	require.Equal(t, []string{"如何退货", "能退吗", "退货流程", "怎么退款"}, entries[0].Similar)
	require.Equal(t, "售后", entries[0].Category)
	require.Equal(t, []string{"退货", "售后", "政策"}, entries[0].Tags)
	require.Equal(t, 2, entries[0].Row)
	require.Equal(t, []string{"用什么快递", "哪家快递"}, entries[1].Similar)
	require.Nil(t, entries[1].Tags)
}

func TestBlankQuestionOrAnswerNamesRow(t *testing.T) {
	t.Parallel()
	csv := "question,answer\nHow long is shipping?,2-3 days\n,orphan answer\nDo you ship abroad?,\nHow long is shipping?,again\n"
	entries, err := faq.Parse(strings.NewReader(csv), "en.csv", faq.Options{})
	require.Len(t, entries, 1)
	require.True(t, faq.IsRowErrors(err))
	require.ErrorIs(t, err, kb.ErrInvalid)
	var re *faq.RowErrors
	require.True(t, errors.As(err, &re))
	require.Len(t, re.Rows, 3)
	require.Equal(t, []int{3, 4, 5}, []int{re.Rows[0].Row, re.Rows[1].Row, re.Rows[2].Row})
	require.Contains(t, err.Error(), "row 3: blank question")
	require.Contains(t, err.Error(), "row 4: blank answer")
	require.Contains(t, err.Error(), "repeats row 2")
}

func TestNoQuestionColumn(t *testing.T) {
	t.Parallel()
	_, err := faq.Parse(strings.NewReader("title,body\nx,y\n"), "x.csv", faq.Options{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	require.False(t, faq.IsRowErrors(err))
	require.Contains(t, err.Error(), "title, body")

	entries, err := faq.Parse(strings.NewReader("title,body\nx,y\n"), "x.csv",
		faq.Options{ColumnMap: map[string]string{"title": faq.RoleQuestion, "body": faq.RoleAnswer}})
	require.NoError(t, err)
	require.Equal(t, "y", entries[0].Answer)
}

func TestJSONL(t *testing.T) {
	t.Parallel()
	entries := parse(t, `{"question":"能开发票吗","answer":"可以，下单时填写抬头","similar_questions":["开票","要发票"],"tags":["发票"]}
{"问题":"几点发货","答案":"当天 16 点前下单当天发"}
`, "faq.jsonl")
	require.Len(t, entries, 2)
	require.Equal(t, []string{"开票", "要发票"}, entries[0].Similar)
	require.Equal(t, []string{"发票"}, entries[0].Tags)
	require.Equal(t, "几点发货", entries[1].Question)
	require.Equal(t, 2, entries[1].Row)
}

func TestXLSXSheetsAsCategories(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	require.NoError(t, f.SetSheetName("Sheet1", "售后"))
	require.NoError(t, f.SetSheetRow("售后", "A1", &[]any{"问题", "回复", "相似问题"}))
	require.NoError(t, f.SetSheetRow("售后", "A2", &[]any{"怎么换货", "在订单页申请换货", "能换吗\n换尺码"}))
	_, err := f.NewSheet("物流")
	require.NoError(t, err)
	require.NoError(t, f.SetSheetRow("物流", "A1", &[]any{"问题", "答案"}))
	require.NoError(t, f.SetSheetRow("物流", "A3", &[]any{"多久到", "一般 2-3 天"}))
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))
	require.NoError(t, f.Close())

	entries, err := faq.Parse(&buf, "faq.xlsx", faq.Options{})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "售后", entries[0].Category)
	require.Equal(t, []string{"能换吗", "换尺码"}, entries[0].Similar)
	require.Equal(t, "物流", entries[1].Category)
	require.Equal(t, 3, entries[1].Row)
}

func TestSplitQuestions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, faq.SplitQuestions("a\r\nb｜c；d;e"))
	require.Equal(t, []string{"x, y"}, faq.SplitQuestions("x, y"))
	require.Equal(t, []string{"p", "q"}, faq.SplitQuestions(`["p", "q", "p"]`))
	require.Nil(t, faq.SplitQuestions("  "))
}
