package ingest

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/ingest/catalog"
	"github.com/zhiku/zhiku/internal/kb"
)

// SKUPrefix starts the external id of a catalog product: "sku:<SKU>".
const SKUPrefix = "sku:"

// readCatalog turns each product row into a document holding one product card. The
// content hash is the product's own, so re-importing an unchanged row writes nothing.
func readCatalog(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	cat, err := catalog.ParseBytes(data, name, catalog.Options{MaxRows: opts.Limits.MaxRows, MaxBytes: opts.Limits.MaxBytes, Context: ctx})
	if err != nil {
		return FileResult{}, err
	}
	res := FileResult{Method: string(cat.Format), ReplaceScope: kb.KindCatalog + ":" + name}
	for _, e := range cat.Errors {
		res.Warnings = append(res.Warnings, kb.TextOf(e))
	}
	res.Warnings = capWarnings(res.Warnings)
	if len(cat.Products) == 0 {
		return FileResult{}, kb.Invalid(fmt.Sprintf("no products in %s (%d row(s) skipped)", name, len(cat.Errors)), "未读取到任何商品")
	}
	res.Units = make([]Unit, 0, len(cat.Products))
	for _, p := range cat.Products {
		card := p.Card()
		title := p.Name
		if title == "" {
			title = p.SKU
		}
		res.Units = append(res.Units, Unit{
			Doc: kb.Document{
				ExternalID: SKUPrefix + p.SKU, Title: title, Kind: kb.KindCatalog, MimeType: catalogMime[string(cat.Format)],
				ContentHash: p.ContentHash(), Metadata: productMetadata(p), StatusDetail: "imported from " + string(cat.Format),
				StatusDetailZh: "从 " + string(cat.Format) + " 导入",
			},
			Passages: []Passage{{Content: card, IndexText: card}},
		})
	}
	return res, nil
}

var catalogMime = map[string]string{
	"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"json": "application/json", "jsonl": "application/jsonl",
}

// productMetadata keeps every column, typed, under its header, and the well-known fields
// under fixed keys (sku, price, stock, category, brand) that filters can rely on.
func productMetadata(p catalog.Product) map[string]any {
	m := make(map[string]any, len(p.Fields)+8)
	for k, v := range p.Fields {
		m[k] = v
	}
	m["sku"] = p.SKU
	if p.Name != "" {
		m["name"] = p.Name
	}
	if p.Price != nil {
		m["price"] = *p.Price
	}
	if p.Stock != nil {
		m["stock"] = *p.Stock
	}
	for k, v := range map[string]string{"category": p.Category, "brand": p.Brand, "model": p.Model, "sheet": p.Sheet} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// capWarnings keeps a long list of row problems readable.
func capWarnings(w []kb.Text) []kb.Text {
	const keep = 20
	if len(w) <= keep {
		return w
	}
	return append(w[:keep:keep], kb.T(fmt.Sprintf("and %d more", len(w)-keep), fmt.Sprintf("另有 %d 条", len(w)-keep)))
}
