// Package tabular reads row-shaped files — CSV/TSV, XLSX workbooks, JSON arrays and JSONL —
// into plain string grids with one header per sheet. It owns the fiddly parts that the
// catalog, FAQ and records importers share: text encodings (UTF-8 with or without BOM,
// UTF-16 with BOM, GBK/GB18030 from Chinese Excel exports), delimiter sniffing, merged and
// two-row XLSX headers, Excel date cells, title rows above the header, and size limits.
//
// Values stay strings here; typing them (numbers, dates, booleans) is the caller's business,
// because what a column means depends on the importer.
package tabular
