// Package parse turns uploaded documents (PDF, plain text in UTF-8/UTF-16/GB18030/Big5,
// Markdown, HTML and DOCX) into a document.Document: headings, paragraphs, lists, tables
// and code blocks in reading order, with page numbers for PDFs.
//
// Formats are decided from content (Sniff), never from the file extension alone. Parse runs
// every parser under a timeout and turns library panics into ErrCorrupt, so one hostile file
// cannot take the ingestion worker down. Errors are sentinel values (ErrEncrypted, ErrNoText,
// ...) whose messages are written for operators, in English then Chinese.
//
// PDF text comes from github.com/ledongthuc/pdf's object reader, interpreted by our own
// content-stream walker so that CJK fonts using predefined CMaps (UniGB-UCS2-H, GBK-EUC-H,
// B5pc-H, 90ms-RKSJ-H, ...) decode correctly. Pages whose text is still garbled are re-read
// with poppler's pdftotext when it is installed. Document.Method records which path won.
package parse
