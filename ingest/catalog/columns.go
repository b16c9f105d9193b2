package catalog

import (
	"sort"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
)

// Fields a column can map to. Columns that map to none are still kept in Product.Fields and
// shown on the card under their own header.
const (
	FieldSKU         = "sku"
	FieldName        = "name"
	FieldPrice       = "price"
	FieldStock       = "stock"
	FieldCategory    = "category"
	FieldBrand       = "brand"
	FieldIngredients = "ingredients"
	FieldDescription = "description"
	FieldSpec        = "spec"
	FieldModel       = "model"
	FieldURL         = "url"
)

// synonyms lists, per field, the headers that mean it, already normalised
// (tabular.NormalizeHeader: lower case, no spaces or punctuation).
var synonyms = map[string][]string{
	FieldSKU: {"sku", "货号", "商品编码", "商品编号", "编码", "itemcode", "productid", "商品id", "产品编号",
		"产品编码", "商品货号", "款号", "itemno", "itemnumber", "productcode", "skuid", "skucode", "sku编码", "id"},
	FieldName: {"name", "商品名称", "品名", "名称", "title", "productname", "商品名", "产品名称", "商品标题",
		"标题", "itemname", "宝贝名称"},
	FieldPrice: {"price", "价格", "售价", "单价", "销售价", "零售价", "现价", "saleprice", "sellingprice",
		"unitprice", "销售价格"},
	FieldStock: {"stock", "库存", "库存数量", "qty", "quantity", "inventory", "库存量", "可售库存", "stockqty",
		"数量"},
	FieldCategory:    {"category", "类目", "分类", "品类", "类别", "商品分类", "商品类目", "categoryname"},
	FieldBrand:       {"brand", "品牌", "brandname", "品牌名称"},
	FieldIngredients: {"ingredients", "ingredient", "成分", "配料", "配料表", "主要成分", "成分表"},
	FieldDescription: {"description", "desc", "描述", "商品描述", "卖点", "商品卖点", "产品描述", "简介",
		"商品简介", "details", "detail", "详情", "sellingpoints"},
	FieldSpec:  {"spec", "specs", "specification", "specifications", "规格", "规格型号", "尺寸规格"},
	FieldModel: {"model", "型号", "modelno", "modelnumber"},
	FieldURL:   {"url", "link", "链接", "商品链接", "producturl", "详情页", "网址"},
}

// synonym is a field a normalised header means, ranked by how plainly it says so.
type synonym struct {
	field string
	rank  int
}

var synonymIndex = func() map[string]synonym {
	idx := make(map[string]synonym)
	for field, names := range synonyms {
		for i, n := range names {
			idx[n] = synonym{field, i}
		}
	}
	return idx
}()

// mapColumns assigns fields to headers. Each field goes to one column, the first that claims
// it: explicit overrides first, then whole-header synonyms, then for two-row headers such as
// "价格/售价" the innermost part ("售价"), then the outermost ("价格"). Returns header → field.
func mapColumns(header []string, override map[string]string) map[string]string {
	out := make(map[string]string, len(header))
	taken := make(map[string]bool)
	claim := func(h, field string) {
		if _, done := out[h]; done || taken[field] {
			return
		}
		out[h] = field
		taken[field] = true
	}
	if len(override) > 0 {
		norm := make(map[string]string, len(override))
		for h, f := range override {
			norm[tabular.NormalizeHeader(h)] = f
		}
		for _, h := range header {
			if f, ok := norm[tabular.NormalizeHeader(h)]; ok {
				if f == "" {
					out[h] = "" // explicitly unmapped
					continue
				}
				claim(h, f)
			}
		}
	}
	// Plainer synonyms first, so "sku" beats a generic "id" column wherever they stand.
	type candidate struct {
		header string
		syn    synonym
		col    int
	}
	var cands []candidate
	for i, h := range header {
		if syn, ok := synonymIndex[tabular.NormalizeHeader(h)]; ok {
			cands = append(cands, candidate{h, syn, i})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].syn.rank < cands[j].syn.rank })
	for _, c := range cands {
		claim(c.header, c.syn.field)
	}
	for _, pick := range []func([]string) string{
		func(p []string) string { return p[len(p)-1] },
		func(p []string) string { return p[0] },
	} {
		for _, h := range header {
			parts := tabular.HeaderParts(h)
			if len(parts) < 2 {
				continue
			}
			if syn, ok := synonymIndex[tabular.NormalizeHeader(pick(parts))]; ok {
				claim(h, syn.field)
			}
		}
	}
	for h, f := range out {
		if f == "" {
			delete(out, h)
		}
	}
	return out
}
