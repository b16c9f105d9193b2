package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/ingest/parse"
	"github.com/zhiku/zhiku/internal/kb"
)

// SniffKind decides a file's kind from its content: documents (PDF, DOCX, HTML, Markdown,
// plain text) are manuals; JSONL is records when lines hold id and text, tickets when they
// hold messages (or a role and a ticket id), FAQ or catalog by their keys; spreadsheets
// (CSV, XLSX, JSON arrays) by their headers: a SKU column (SKU, 货号, 商品编码...) makes a
// catalog, question and answer columns (问题, 答案...) a FAQ, ticket id and role columns
// tickets, exactly id,title,text records. The name only breaks ties between text formats.
func SniffKind(name string, data []byte) (string, error) {
	f, err := parse.Sniff(name, data)
	if err != nil {
		return "", err
	}
	ext := strings.ToLower(filepath.Ext(name))
	switch f {
	case parse.FormatPDF, parse.FormatDOCX, parse.FormatHTML, parse.FormatMarkdown:
		return kb.KindManual, nil
	case parse.FormatXLSX:
		return tableKind(name, data, true)
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case bytes.HasPrefix(text, []byte("{")):
		first, _, _ := bytes.Cut(text, []byte("\n"))
		if k := jsonKind(first); k != "" {
			return k, nil
		}
		return "", kb.Invalid(fmt.Sprintf("cannot tell what %s holds from its first line's keys; pass --kind", name), "无法从首行的字段判断文件类型，请指定 --kind")
	case bytes.HasPrefix(text, []byte("[")):
		return tableKind(name, data, true)
	}
	first, _, _ := bytes.Cut(text, []byte("\n"))
	if f == parse.FormatCSV || bytes.ContainsAny(first, ",\t;") {
		return tableKind(name, data, f == parse.FormatCSV || ext == ".tsv")
	}
	return kb.KindManual, nil
}

// tableKind reads a row-shaped file and decides its kind from its headers. strict files
// (spreadsheets, .csv) must match a kind; other text falls back to a manual.
func tableKind(name string, data []byte, strict bool) (string, error) {
	t, err := tabular.Read(data, name, tabular.Options{})
	if err != nil {
		if strict {
			return "", err
		}
		return kb.KindManual, nil
	}
	var headers []string
	for _, s := range t.Sheets {
		headers = append(headers, s.Header...)
	}
	if k := headerKind(headers); k != "" {
		return k, nil
	}
	if !strict {
		return kb.KindManual, nil
	}
	return "", kb.Invalid(fmt.Sprintf("cannot tell what %s holds from its columns (%s): a catalog needs a SKU/货号 column, a FAQ 问题/question and 答案/answer, tickets a ticket id and role; pass --kind", name, strings.Join(headers[:min(len(headers), 12)], ", ")), "无法从列名判断文件类型，请指定 --kind")
}

// Header names that give a kind away, as tabular.NormalizeHeader folds them. "id" alone says
// nothing: records, tickets and catalogs all have one.
var (
	ticketIDHeaders = set("ticketid", "ticket", "工单号", "工单id", "工单编号", "工单", "会话id", "会话编号", "conversationid",
		"sessionid", "dialogid", "chatid", "对话id", "对话编号", "咨询单号")
	roleHeaders     = set("role", "speaker", "sender", "author", "角色", "发送方", "发送者", "发言人", "说话人", "身份")
	questionHeaders = set("question", "q", "问题", "标准问题", "标准问", "问", "问法", "用户问题", "常见问题")
	answerHeaders   = set("answer", "a", "答案", "回复", "标准答案", "答", "回答", "解答", "话术", "回复内容", "标准回复")
	skuHeaders      = set("sku", "货号", "商品编码", "商品编号", "编码", "itemcode", "productid", "商品id", "产品编号", "产品编码",
		"商品货号", "款号", "itemno", "itemnumber", "productcode", "skuid", "skucode", "sku编码")
	productHeaders = set("name", "商品名称", "品名", "productname", "商品名", "产品名称", "price", "价格", "售价", "单价",
		"stock", "库存", "brand", "品牌")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func headerKind(headers []string) string {
	has := func(names map[string]bool) bool {
		for _, h := range headers {
			if names[tabular.NormalizeHeader(h)] {
				return true
			}
		}
		return false
	}
	norm := make([]string, len(headers))
	for i, h := range headers {
		norm[i] = tabular.NormalizeHeader(h)
	}
	hasID := has(set("id"))
	switch {
	case (has(ticketIDHeaders) || hasID) && has(roleHeaders):
		return kb.KindTickets
	case has(questionHeaders) && has(answerHeaders):
		return kb.KindFAQ
	case strings.Join(norm, ",") == "id,title,text" || strings.Join(norm, ",") == "id,text":
		return kb.KindRecords
	case has(skuHeaders), hasID && has(productHeaders):
		return kb.KindCatalog
	}
	return ""
}

// jsonKind decides the kind of a JSONL file from its first object's keys.
func jsonKind(line []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(line, &obj) != nil {
		return ""
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	_, hasMessages := obj["messages"]
	_, hasDialog := obj["dialog"]
	_, hasTurns := obj["turns"]
	if hasMessages || hasDialog || hasTurns {
		return kb.KindTickets
	}
	_, hasID := obj["id"]
	_, hasText := obj["text"]
	k := headerKind(keys)
	switch {
	case k == kb.KindTickets:
		return k
	case hasID && hasText && k != kb.KindCatalog && k != kb.KindFAQ:
		return kb.KindRecords
	}
	return k
}
