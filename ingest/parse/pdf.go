package parse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ledongthuc/pdf"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/kb"
)

// parsePDF extracts a PDF's text page by page; see the package documentation for the paths.
func parsePDF(ctx context.Context, data []byte, opts Options) (*document.Document, error) {
	r, err := openPDF(data, opts)
	if err != nil {
		return pdftotextDocument(ctx, data, opts, err)
	}
	pages, err := collectPages(r, opts.MaxPages)
	if errors.Is(err, ErrTooManyPages) {
		return nil, err
	}
	if err != nil {
		return pdftotextDocument(ctx, data, opts, err)
	}
	doc := &document.Document{Pages: len(pages), Metadata: pdfInfo(r)}
	if t, ok := doc.Metadata["title"].(string); ok && !garbled(t) {
		doc.Title = t
	}

	type pageResult struct {
		lines  []textLine
		fields [][2]string
		bad    string // why the native text is unusable; "" when fine
	}
	results := make([]pageResult, len(pages))
	walker := &contentWalker{fonts: map[string]*fontDecoder{}}
	var images, badPages int
	var readErr, bomb string
	usedCMap := false
	budget, textBytes := textBudget(len(data), opts), 0
	for i, pv := range pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if textBytes > budget {
			return nil, textTooLarge(textBytes, budget, len(data))
		}
		scan, err := scanPage(walker, pv)
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		res := &results[i]
		res.fields = pageFormFields(pv)
		images += scan.images
		usedCMap = usedCMap || scan.usedCMap
		if bomb == "" && scan.bomb != "" {
			bomb = fmt.Sprintf("page %d holds %s", i+1, scan.bomb)
		}
		switch {
		case err != nil:
			res.bad = "could not be read: " + err.Error()
			if readErr == "" {
				readErr = fmt.Sprintf("page %d: %v", i+1, err)
			}
		default:
			res.lines = layoutLines(scan.runs, i+1)
			var all strings.Builder
			for _, l := range res.lines {
				all.WriteString(l.text)
			}
			textBytes += all.Len()
			if garbled(all.String()) {
				res.bad = "text is garbled (font encoding not decodable)"
			}
		}
		if res.bad != "" {
			badPages++
		}
	}

	method := "pdf"
	if usedCMap {
		method = "pdf+cmap"
	}
	var repaired []string
	if badPages > 0 {
		bin := pdftotextPath(opts)
		var fixed []string
		var fixErr error = errNoPdftotext
		if bomb != "" {
			// pdftotext decodes inline image data to skip it: it would run until the deadline.
			fixErr = fmt.Errorf("pdftotext not run: %s", bomb)
		} else if bin != "" {
			var warns []kb.Text
			fixed, warns, fixErr = runPdftotext(ctx, bin, data, opts)
			doc.Warnings = append(doc.Warnings, warns...)
		}
		for i := range results {
			res := &results[i]
			if res.bad == "" {
				continue
			}
			res.lines = nil
			if fixErr == nil && i < len(fixed) && strings.TrimSpace(fixed[i]) != "" && !garbled(fixed[i]) {
				res.lines = pdftotextLines(fixed[i], i+1)
				repaired = append(repaired, fmt.Sprint(i+1))
				doc.Warnings = append(doc.Warnings, kb.T(fmt.Sprintf("page %d: %s; text repaired with pdftotext", i+1, res.bad),
					fmt.Sprintf("第 %d 页（%s）已用 pdftotext 修复", i+1, res.bad)))
				continue
			}
			reason := "pdftotext could not repair it"
			if fixErr != nil {
				reason = fixErr.Error()
			}
			doc.Warnings = append(doc.Warnings, kb.T(fmt.Sprintf("page %d: %s; page skipped (%s)", i+1, res.bad, reason),
				fmt.Sprintf("第 %d 页文本无法识别，已跳过（%s）", i+1, reason)))
		}
	}
	if skipped := badPages - len(repaired); skipped > 0 {
		doc.Warnings = append([]kb.Text{kb.T(fmt.Sprintf("%d of %d pages could not be read and were skipped; their text is missing", skipped, len(pages)),
			fmt.Sprintf("共 %d 页，其中 %d 页无法读取，已跳过，这些页的内容缺失", len(pages), skipped))}, doc.Warnings...)
	}
	if len(repaired) > 0 {
		method += "+pdftotext"
	}
	doc.Method = method

	var native []textLine
	for _, res := range results {
		for _, l := range res.lines {
			if l.size > 0 {
				native = append(native, l)
			}
		}
	}
	headings := sizeHeadings(native)
	formFields := map[string]any{}
	for i, res := range results {
		doc.Blocks = append(doc.Blocks, buildBlocks(res.lines, headings)...)
		if len(res.fields) > 0 {
			lines := make([]string, len(res.fields))
			for j, f := range res.fields {
				lines[j] = f[0] + ": " + f[1]
				formFields[f[0]] = f[1]
			}
			doc.Blocks = append(doc.Blocks, document.Block{Kind: document.Paragraph, Text: strings.Join(lines, "\n"), Page: i + 1})
		}
	}
	if len(formFields) > 0 {
		doc.Metadata["form_fields"] = formFields
	}
	if !hasText(doc.Blocks) {
		if readErr != "" {
			return nil, kb.Detailf(ErrCorrupt, "%s", readErr)
		}
		if badPages > 0 {
			ge, gz := kb.Texts(ErrGarbled)
			we, wz := make([]string, len(doc.Warnings)), make([]string, len(doc.Warnings))
			for i, w := range doc.Warnings {
				we[i], wz[i] = w.En, w.Zh
			}
			return nil, kb.NewError(ErrGarbled, fmt.Sprintf("%s (%d of %d pages): %s", ge, badPages, len(pages), strings.Join(we, "; ")),
				fmt.Sprintf("%s（%d/%d 页）：%s", gz, badPages, len(pages), strings.Join(wz, "；")))
		}
		if bomb != "" {
			return nil, kb.NewError(ErrNoText, fmt.Sprintf("%s; its text layer is empty and the image is not decoded", bomb), "页面含超大内嵌图片（疑似解压炸弹），且没有文字层")
		}
		if bin := pdftotextPath(opts); bin != "" {
			// Our walker may have missed text drawn in a way it does not model.
			if d, err := pdftotextDocument(ctx, data, opts, nil); err == nil {
				return d, nil
			}
		}
		if images > 0 {
			return nil, kb.Detailf(ErrNoText, "%d pages, %d images, no text layer", len(pages), images)
		}
		return nil, kb.Detailf(ErrNoText, "%d pages without text", len(pages))
	}
	return doc, nil
}

// openPDF opens data with ledongthuc/pdf, trying the empty user password and then
// opts.Password. It supports RC4 (40-128 bit) and AES-128; AES-256 files get
// ErrUnsupported here and are read by pdftotext.
func openPDF(data []byte, opts Options) (r *pdf.Reader, err error) {
	tried := false
	password := func() string {
		if tried {
			return ""
		}
		tried = true
		return opts.Password
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, kb.Detailf(ErrCorrupt, "%v", p)
		}
	}()
	// The library insists on "%PDF-1.x" at offset 0; tolerate junk before the header.
	if i := bytes.Index(data[:min(len(data), 1024)], []byte("%PDF-")); i > 0 {
		data = data[i:]
	}
	r, err = pdf.NewReaderEncrypted(bytes.NewReader(data), int64(len(data)), password)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, pdf.ErrInvalidPassword) && opts.Password == "":
		return nil, ErrEncrypted
	case errors.Is(err, pdf.ErrInvalidPassword):
		return nil, ErrWrongPassword
	case strings.Contains(err.Error(), "encryption"):
		return nil, kb.Detailf(ErrUnsupported, "PDF encryption not readable natively (%v)", err)
	}
	return nil, kb.Detailf(ErrCorrupt, "%v", err)
}

// pdftotextDocument reads the whole file with pdftotext after the native reader failed with
// cause (nil when it found no text). Password errors from the native reader are final: it
// checks them the same way poppler does.
func pdftotextDocument(ctx context.Context, data []byte, opts Options, cause error) (*document.Document, error) {
	if errors.Is(cause, ErrEncrypted) || errors.Is(cause, ErrWrongPassword) {
		return nil, cause
	}
	bin := pdftotextPath(opts)
	if bin == "" {
		if errors.Is(cause, ErrUnsupported) {
			return nil, fmt.Errorf("%w; %w", cause, errNoPdftotext)
		}
		return nil, cause
	}
	pages, warnings, err := runPdftotext(ctx, bin, data, opts)
	if err != nil {
		if cause == nil || errors.Is(err, ErrEncrypted) || errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrTooManyPages) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (pdftotext could not recover it either)", cause)
	}
	doc := &document.Document{Pages: len(pages), Method: "pdftotext", Metadata: map[string]any{}, Warnings: warnings}
	for i, p := range pages {
		doc.Blocks = append(doc.Blocks, buildBlocks(pdftotextLines(p, i+1), nil)...)
	}
	if !hasText(doc.Blocks) {
		if cause != nil {
			return nil, cause
		}
		return nil, kb.Detailf(ErrNoText, "%d pages", len(pages))
	}
	empty := 0
	for _, p := range pages {
		if strings.TrimSpace(p) == "" {
			empty++
		}
	}
	if cause != nil && empty > 0 {
		doc.Warnings = append(doc.Warnings, kb.T(fmt.Sprintf("%d of %d pages could not be read and were skipped; their text is missing", empty, len(pages)),
			fmt.Sprintf("共 %d 页，其中 %d 页无法读取，已跳过，这些页的内容缺失", len(pages), empty)))
	}
	if cause != nil {
		en, zh := kb.Texts(cause)
		doc.Warnings = append(doc.Warnings, kb.T(fmt.Sprintf("PDF could not be read natively (%s); pdftotext read %d page(s), %d of them with text; any page it could not read is missing", en, len(pages), len(pages)-empty),
			fmt.Sprintf("无法直接读取 PDF（%s），已改用 pdftotext 提取：读出 %d 页，其中 %d 页有文本；无法读取的页面内容缺失", zh, len(pages), len(pages)-empty)))
	}
	return doc, nil
}

// Page-tree guards: the library's own page lookup loops forever on a circular /Kids or
// /Parent chain, so the tree is walked here with depth and visit limits.
const (
	maxTreeDepth    = 64
	maxParentChain  = 32
	extraTreeVisits = 10000
)

func collectPages(r *pdf.Reader, maxPages int) (pages []pdf.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			pages, err = nil, kb.Detailf(ErrCorrupt, "page tree: %v", p)
		}
	}()
	root := r.Trailer().Key("Root").Key("Pages")
	if root.Kind() != pdf.Dict {
		return nil, kb.Detailf(ErrCorrupt, "no page tree (/Root /Pages missing)")
	}
	visits := 0
	var walk func(node pdf.Value, depth int) error
	walk = func(node pdf.Value, depth int) error {
		visits++
		if depth > maxTreeDepth || visits > maxPages+extraTreeVisits {
			return kb.NewError(ErrCorrupt, "file is corrupt: page tree is circular or too deep (/Kids loops back)", "文件已损坏：页面树循环引用或过深")
		}
		kids := node.Key("Kids")
		if node.Key("Type").Name() == "Pages" || kids.Kind() == pdf.Array {
			for i := 0; i < kids.Len(); i++ {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if node.Kind() != pdf.Dict {
			return nil
		}
		pages = append(pages, node)
		if len(pages) > maxPages {
			return kb.NewError(ErrTooManyPages, fmt.Sprintf("more than %d pages", maxPages), fmt.Sprintf("超过 %d 页", maxPages))
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, kb.Detailf(ErrCorrupt, "page tree has no pages")
	}
	return pages, nil
}

// inherited looks key up on the page and its ancestors, stopping on a circular /Parent.
func inherited(page pdf.Value, key string) pdf.Value {
	v := page
	for i := 0; i < maxParentChain && !v.IsNull(); i++ {
		if x := v.Key(key); !x.IsNull() {
			return x
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// scanPage runs the content walker on one page. Library panics become the returned error;
// a decompression bomb is returned wrapping ErrCorrupt, and fails the document.
func scanPage(w *contentWalker, page pdf.Value) (scan *pageScan, err error) {
	scan = &pageScan{}
	w.scan = scan
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok && errors.Is(e, ErrCorrupt) {
				err = e
				return
			}
			err = fmt.Errorf("%v", p)
		}
	}()
	contents := page.Key("Contents")
	if contents.IsNull() {
		return scan, nil
	}
	w.walk(contents, inherited(page, "Resources"), identity, 0)
	return scan, nil
}

// pdfInfo reads the document information dictionary.
func pdfInfo(r *pdf.Reader) (meta map[string]any) {
	meta = map[string]any{}
	defer func() { _ = recover() }() // metadata is optional; a broken Info dict is ignored
	info := r.Trailer().Key("Info")
	for key, name := range map[string]string{"Title": "title", "Author": "author", "Subject": "subject",
		"Keywords": "keywords", "Creator": "creator", "Producer": "producer", "CreationDate": "created"} {
		if s := strings.TrimSpace(normalizeLine(info.Key(key).Text())); s != "" {
			meta[name] = s
		}
	}
	return meta
}

// pageFormFields returns the filled AcroForm fields whose widgets sit on the page, as
// (full field name, value) pairs. Checkboxes left "Off" are skipped.
func pageFormFields(page pdf.Value) (fields [][2]string) {
	defer func() { _ = recover() }()
	annots := page.Key("Annots")
	seen := map[string]bool{}
	for i := 0; i < annots.Len() && i < 1000; i++ {
		a := annots.Index(i)
		if a.Key("Subtype").Name() != "Widget" {
			continue
		}
		var names []string
		var value pdf.Value
		for f, depth := a, 0; !f.IsNull() && depth < maxParentChain; f, depth = f.Key("Parent"), depth+1 {
			if t := f.Key("T").Text(); t != "" {
				names = append([]string{t}, names...)
			}
			if value.IsNull() {
				value = f.Key("V")
			}
		}
		name := strings.Join(names, ".")
		v := fieldValue(value)
		if name == "" || v == "" || seen[name] {
			continue
		}
		seen[name] = true
		fields = append(fields, [2]string{normalizeLine(name), normalizeLine(v)})
	}
	return fields
}

func fieldValue(v pdf.Value) string {
	switch v.Kind() {
	case pdf.String:
		return v.Text()
	case pdf.Name:
		if v.Name() == "Off" {
			return ""
		}
		return v.Name()
	case pdf.Array:
		var parts []string
		for i := 0; i < v.Len() && i < 100; i++ {
			if s := fieldValue(v.Index(i)); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	}
	return ""
}
