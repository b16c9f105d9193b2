package answer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
)

// catalogAsk is one thing a catalog question may ask: the words that ask it, and the
// metadata keys that hold it (ingest keeps sku, name, price, stock, category, brand and
// model under fixed keys, and every column under its original header).
type catalogAsk struct {
	field    string // "price", "stock", or a label for an attribute
	zhLabel  string
	enLabel  string
	words    []string
	metaKeys []string
}

var catalogAsks = []catalogAsk{
	{"price", "售价", "costs", []string{"价格", "多少钱", "售价", "价钱", "几块", "多少元", "卖多少", "price", "cost", "costs", "how much"}, []string{"price"}},
	{"stock", "库存", "stock", []string{"库存", "有货", "还有吗", "有没有货", "现货", "缺货", "卖完", "断货", "in stock", "available", "availability", "stock", "sold out"}, []string{"stock"}},
	{"spec", "规格", "specs", []string{"规格", "参数", "配置", "spec", "specs", "specification", "specifications"}, []string{"规格", "参数", "spec", "specs", "specification", "specifications"}},
	{"size", "尺寸", "size", []string{"尺寸", "大小", "多大", "size", "dimension", "dimensions"}, []string{"尺寸", "size", "dimensions"}},
	{"weight", "重量", "weight", []string{"重量", "多重", "多少斤", "多少公斤", "weight", "how heavy"}, []string{"重量", "weight"}},
	{"color", "颜色", "colors", []string{"颜色", "什么色", "colour", "color", "colors", "colours"}, []string{"颜色", "color", "colour"}},
	{"brand", "品牌", "brand", []string{"品牌", "牌子", "brand"}, []string{"brand", "品牌"}},
	{"model", "型号", "model", []string{"型号", "model"}, []string{"model", "型号"}},
}

// CatalogAnswer answers a question about a named product or SKU (price, stock, attributes)
// from the product record's current fields, when a hit is that product's card: "智净 XR-500
// 扫地机器人（XR-500）售价 ¥1299，库存 35 件。" / "… costs ¥1299; 35 in stock." A hit is
// the product when the question holds its SKU or model code, or when the question holds
// its whole name (or three quarters of the name's words) and names no other code. ok is
// false when the question asks none of these things, or no catalog hit is its product.
func CatalogAnswer(q string, hits []kb.Hit, lang string) (text string, hit int, ok bool) {
	n := Normalize(q)
	var asks []catalogAsk
	for _, a := range catalogAsks {
		for _, w := range a.words {
			if containsPhrase(n, w) {
				asks = append(asks, a)
				break
			}
		}
	}
	if len(asks) == 0 {
		return "", 0, false
	}
	codes := codesOf(q)
	for i, h := range hits {
		if h.Kind != kb.KindCatalog || !isProduct(h, n, codes) {
			continue
		}
		if text := productAnswer(h, asks, lang); text != "" {
			return text, i, true
		}
	}
	return "", 0, false
}

// isProduct reports whether catalog hit h is the product the normalised question n names.
func isProduct(h kb.Hit, n string, codes []string) bool {
	sku := strings.ToLower(metaString(h.Metadata, "sku"))
	model := strings.ToLower(metaString(h.Metadata, "model"))
	if len(codes) > 0 {
		for _, c := range codes {
			if c == sku || c == model && model != "" {
				return true
			}
		}
		return false // the question names a code, and it is another product's
	}
	name := Normalize(metaString(h.Metadata, "name"))
	if name == "" {
		name = Normalize(h.Title)
	}
	if name == "" {
		return false
	}
	if strings.Contains(strings.ReplaceAll(n, " ", ""), strings.ReplaceAll(name, " ", "")) {
		return true
	}
	words := queryTerms(name)
	if len(words) < 2 {
		return false
	}
	found := 0
	for _, w := range words {
		if strings.Contains(n, w) {
			found++
		}
	}
	return float64(found) >= 0.75*float64(len(words))
}

// productAnswer writes what is asked from h's metadata, or "" when none of it is there.
func productAnswer(h kb.Hit, asks []catalogAsk, lang string) string {
	en := lang == kb.LanguageEn
	var parts []string
	for _, a := range asks {
		switch a.field {
		case "price":
			if p, ok := metaNumber(h.Metadata, "price"); ok {
				if en {
					parts = append(parts, "costs ¥"+formatNum(p))
				} else {
					parts = append(parts, "售价 ¥"+formatNum(p))
				}
			}
		case "stock":
			if s, ok := metaNumber(h.Metadata, "stock"); ok {
				switch {
				case s <= 0 && en:
					parts = append(parts, "is out of stock")
				case s <= 0:
					parts = append(parts, "暂时缺货")
				case en:
					parts = append(parts, formatNum(s)+" in stock")
				default:
					parts = append(parts, "库存 "+formatNum(s)+" 件")
				}
			}
		default:
			for _, k := range a.metaKeys {
				if v := metaFold(h.Metadata, k); v != "" {
					if en {
						parts = append(parts, a.enLabel+": "+v)
					} else {
						parts = append(parts, a.zhLabel+"："+v)
					}
					break
				}
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	name := strings.TrimSpace(metaString(h.Metadata, "name"))
	if name == "" {
		name = strings.TrimSpace(h.Title)
	}
	sku := strings.TrimSpace(metaString(h.Metadata, "sku"))
	if en {
		subject := name
		if sku != "" {
			subject += " (" + sku + ")"
		}
		return strings.TrimSpace(subject) + " " + strings.Join(parts, "; ") + "."
	}
	subject := name
	if sku != "" {
		subject += "（" + sku + "）"
	}
	return subject + strings.Join(parts, "，") + "。"
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func metaString(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return formatNum(v)
	default:
		return fmt.Sprint(v)
	}
}

// metaFold finds key ignoring case and formats its value: lists are joined with ", ".
func metaFold(m map[string]any, key string) string {
	for k, v := range m {
		if !strings.EqualFold(k, key) {
			continue
		}
		switch x := v.(type) {
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				parts = append(parts, fmt.Sprint(e))
			}
			return strings.Join(parts, ", ")
		case nil:
			return ""
		}
		return strings.TrimSpace(metaString(m, k))
	}
	return ""
}

// metaNumber reads a number whichever way the metadata carries it: float64 from JSON,
// an integer from Go code, json.Number, or a numeric string.
func metaNumber(m map[string]any, key string) (float64, bool) {
	switch v := m[key].(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}
