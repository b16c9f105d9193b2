// Package catalog turns product catalogs — CSV, XLSX and JSON/JSONL exports from shop
// back offices and hand-kept spreadsheets — into one Product per row, with the well-known
// fields (SKU, name, price, stock, category, brand, spec, model, ingredients, description,
// URL) recognised from common Chinese and English headers, every column kept as typed
// metadata, and a product card text to index.
//
// Reading the files themselves (encodings, delimiters, merged and two-row headers, Excel
// dates) is done by the tabular subpackage, which the FAQ and records importers share.
//
// The SKU is a product's identity: rows without one are reported, not imported, and
// Product.ContentHash lets a re-import re-embed only the rows whose content changed.
package catalog
