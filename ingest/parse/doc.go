// Package parse turns uploaded documents (PDF, plain text in UTF-8/UTF-16/GB18030/Big5,
// Markdown, HTML and DOCX) into a document.Document: headings, paragraphs, lists, tables
// and code blocks in reading order, with page numbers for PDFs.
//
// Entry points:
//
//	Sniff(name, head) (Format, error)            // format from content; name breaks ties
//	Parse(ctx, data, name, Options) (*document.Document, error)
//	ParseReader(ctx, r, name, Options) (*document.Document, error)
//	Render(doc) string                           // what `zhiku parse FILE` prints
//
// Parse runs every parser under Options.Timeout (60 s) and turns library panics into
// ErrCorrupt, so one hostile file cannot take the ingestion worker down. Errors wrap sentinel
// values (ErrEncrypted, ErrWrongPassword, ErrNoText, ErrGarbled, ErrCorrupt, ErrTooManyPages,
// ErrTooLarge, ErrUnsupported, ErrTimeout) whose messages are written for operators, in
// English then Chinese. ErrTooLarge and ErrUnsupported also match kb.ErrTooLarge and
// kb.ErrUnsupported.
//
// PDF text comes from github.com/ledongthuc/pdf's object reader, interpreted by our own
// content-stream walker (positions, font sizes, form XObjects), so that CJK fonts naming a
// predefined CMap (UniGB-UCS2-H, UniGB-UTF16-H, GBK-EUC-H, B5pc-H, 90ms-RKSJ-H, KSC-EUC-H…)
// and ToUnicode maps the library ignores decode correctly. Pages whose text is still garbled
// or unreadable are re-read with poppler's pdftotext when it is installed (poppler-utils;
// poppler-data for CJK fonts without ToUnicode). Document.Method records the path:
//
//	pdf            ledongthuc/pdf encodings and ToUnicode maps only
//	pdf+cmap       some text decoded through a predefined CJK CMap
//	…+pdftotext    some pages repaired with pdftotext (a warning names each page)
//	pdftotext      the whole file read by pdftotext (broken xref, AES-256, PDF 2.0…)
//	text/<enc>     plain text; <enc> is utf-8, utf-16le, utf-16be, gb18030 or big5
//	markdown, html, html/<charset>, docx
//
// Resource limits: input size (Options.MaxBytes, 100 MB), pages (Options.MaxPages, 2000),
// 64 MB of decompressed content per PDF page, 256 MB unpacked per DOCX. The PDF library
// cannot be interrupted mid-call: on timeout Parse returns ErrTimeout at once and the
// worker goroutine stops at the next page boundary.
package parse
