package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/zhiku/zhiku/ingest/chunk"
	"github.com/zhiku/zhiku/ingest/parse"
	"github.com/zhiku/zhiku/internal/kb"
)

// readManual parses a document (PDF, DOCX, HTML, Markdown, text) and chunks it by its
// structure: one document, external id = the file name.
func readManual(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	doc, err := parse.Parse(ctx, data, name, parse.Options{
		Password: opts.Password, MaxPages: opts.Limits.MaxPages, MaxBytes: opts.Limits.MaxBytes,
		Timeout: opts.Limits.Timeout, NoExternalTools: opts.NoExternalTools,
	})
	if err != nil {
		return FileResult{}, err
	}
	meta := maps.Clone(doc.Metadata)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["parse_method"] = doc.Method
	title := strings.TrimSpace(doc.Title)
	if title == "" {
		title = name
	}
	format, _ := parse.Sniff(name, data)
	detail := parseDetail(doc.Method, doc.Warnings)
	u := Unit{
		Doc: kb.Document{
			ExternalID: name, Title: title, Kind: kb.KindManual, Pages: doc.Pages, MimeType: mimeTypes[format],
			Metadata: meta, StatusDetail: detail.En, StatusDetailZh: detail.Zh,
			ContentHash: fileHash(data, opts.Metadata),
		},
		Passages: ChunkPassages(doc, chunk.Options{}),
	}
	return FileResult{Method: doc.Method, Units: []Unit{u}, Pages: doc.Pages, Warnings: doc.Warnings}, nil
}

// fileHash identifies a manual by its bytes and the metadata it was given, so the same file
// ingested again, under its name or another, is recognised and skipped.
func fileHash(data []byte, meta map[string]any) string {
	h := sha256.New()
	h.Write(data)
	m, _ := json.Marshal(meta) // map keys marshal sorted: stable
	h.Write([]byte{0})
	h.Write(m)
	return "file:" + hex.EncodeToString(h.Sum(nil))
}

var mimeTypes = map[parse.Format]string{
	parse.FormatPDF:      "application/pdf",
	parse.FormatDOCX:     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	parse.FormatHTML:     "text/html",
	parse.FormatMarkdown: "text/markdown",
	parse.FormatText:     "text/plain",
	parse.FormatCSV:      "text/csv",
	parse.FormatJSONL:    "application/jsonl",
}

// parseDetail is the status line operators see, in both languages: how the text was
// obtained and what went wrong on the way, e.g. "parsed with pdf+cmap+pdftotext; page 3:
// garbled text repaired by pdftotext". The method names the parsers and is the same in both.
func parseDetail(method string, warnings []kb.Text) kb.Text {
	en, zh := "parsed with "+method, "解析方式："+method
	for i, w := range warnings {
		if i == 3 {
			en += fmt.Sprintf("; and %d more warning(s)", len(warnings)-3)
			zh += fmt.Sprintf("；另有 %d 条警告", len(warnings)-3)
			break
		}
		wzh := w.Zh
		if wzh == "" {
			wzh = w.En
		}
		en += "; " + w.En
		zh += "；" + wzh
	}
	return kb.T(en, zh)
}
