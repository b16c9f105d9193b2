package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// Product is one catalog row. The well-known fields are lifted out for the card and for
// filters; Fields keeps every column, typed, under its original header.
type Product struct {
	SKU         string
	Name        string
	Price       *float64 // nil when the cell is empty or not a number ("面议")
	Stock       *int64   // nil when the cell is empty or not a whole number ("有货")
	Category    string   // the category column, else the sheet name of a multi-category workbook
	Brand       string
	Spec        string
	Model       string
	Ingredients string
	Description string
	URL         string
	// Fields maps each original header ("价格/售价" for two-row headers) to the typed cell:
	// float64 for numbers, an ISO 8601 string for dates, bool, []any for JSON lists, else
	// the text. Empty cells are left out.
	Fields map[string]any
	Sheet  string // worksheet name; empty for CSV and JSON
	Row    int    // spreadsheet row (CSV, XLSX) or line (JSON, JSONL) the product came from
	// Language is kb.LanguageZh or kb.LanguageEn and picks the card's labels.
	Language string

	headers []string          // the sheet's column order, for a stable card
	fieldOf map[string]string // the sheet's header → well-known field mapping
}

type cardLabels struct {
	product, sku, brand, price, stock, category, spec, model, ingredients, description string
	inStock, outOfStock, yes, no, sep, currency                                        string
}

var (
	zhLabels = cardLabels{"商品", "SKU", "品牌", "价格", "库存", "类目", "规格", "型号", "成分", "描述",
		"有货", "缺货", "是", "否", "：", "元"}
	enLabels = cardLabels{"Product", "SKU", "Brand", "Price", "Stock", "Category", "Spec", "Model", "Ingredients", "Description",
		"In stock", "Out of stock", "yes", "no", ": ", ""}
)

// Card is the text indexed for the product: one "label：value" line per known field, SKU
// second so exact SKU queries match, then every other non-empty column in catalog order.
// Labels are Chinese unless Language is "en".
func (p Product) Card() string {
	l := zhLabels
	if p.Language == kb.LanguageEn {
		l = enLabels
	}
	var b strings.Builder
	line := func(label, value string) {
		if value = strings.TrimSpace(value); value != "" {
			b.WriteString(label)
			b.WriteString(l.sep)
			b.WriteString(value)
			b.WriteByte('\n')
		}
	}
	line(l.product, p.Name)
	line(l.sku, p.SKU)
	line(l.brand, p.Brand)
	if p.Price != nil {
		line(l.price, formatNumber(*p.Price)+l.currency)
	} else {
		line(l.price, p.fieldText(FieldPrice, l))
	}
	switch {
	case p.Stock != nil && *p.Stock > 0:
		line(l.stock, fmt.Sprintf("%s(%d)", l.inStock, *p.Stock))
	case p.Stock != nil:
		line(l.stock, l.outOfStock)
	default:
		line(l.stock, p.fieldText(FieldStock, l))
	}
	line(l.category, p.Category)
	line(l.spec, p.Spec)
	line(l.model, p.Model)
	line(l.ingredients, p.Ingredients)
	line(l.description, p.Description)
	for _, h := range p.extraHeaders() {
		line(h, formatValue(p.Fields[h], l))
	}
	return strings.TrimRight(b.String(), "\n")
}

// fieldText is the raw text of a known field's column when it could not be typed ("面议").
func (p Product) fieldText(field string, l cardLabels) string {
	h, ok := p.known()[field]
	if !ok {
		return ""
	}
	return formatValue(p.Fields[h], l)
}

// known returns field → header for the well-known fields, found through the column map the
// parser recorded (see headerFields).
func (p Product) known() map[string]string {
	out := map[string]string{}
	for h, f := range headerFields(p) {
		out[f] = h
	}
	return out
}

// extraHeaders are the columns not lifted into a named field and not the URL, in catalog
// order (or sorted, for a Product built by hand).
func (p Product) extraHeaders() []string {
	mapped := headerFields(p)
	order := p.headers
	if order == nil {
		order = make([]string, 0, len(p.Fields))
		for h := range p.Fields {
			order = append(order, h)
		}
		sort.Strings(order)
	}
	var out []string
	for _, h := range order {
		if _, isKnown := mapped[h]; isKnown {
			continue
		}
		if _, ok := p.Fields[h]; ok {
			out = append(out, h)
		}
	}
	return out
}

// headerFields returns header → well-known field: the mapping the parser used, or for a
// Product built by hand, the fields its Fields keys name by synonym.
func headerFields(p Product) map[string]string {
	if p.fieldOf != nil {
		return p.fieldOf
	}
	out := map[string]string{}
	for h := range p.Fields {
		if syn, ok := synonymIndex[tabular.NormalizeHeader(h)]; ok {
			out[h] = syn.field
		}
	}
	return out
}

// ContentHash fingerprints what gets indexed and stored for the product — the card and all
// typed fields, not its row position — so a re-import re-embeds only rows that changed.
// It is hex-encoded SHA-256.
func (p Product) ContentHash() string {
	h := sha256.New()
	h.Write([]byte(p.Card()))
	h.Write([]byte{0})
	fields, _ := json.Marshal(p.Fields) // map keys are sorted, so the encoding is stable
	h.Write(fields)
	return hex.EncodeToString(h.Sum(nil))
}

func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func formatValue(v any, l cardLabels) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return formatNumber(x)
	case bool:
		if x {
			return l.yes
		}
		return l.no
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, formatValue(e, l))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
