package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// KindAuto asks ReadFile to decide a file's kind from its content.
const KindAuto = "auto"

// Defaults for Limits.
const (
	DefaultMaxBytes = 100 << 20
	DefaultMaxPages = 2000
	DefaultMaxRows  = 200_000
	DefaultTimeout  = 2 * time.Minute
)

// Limits bound what one file may cost. Zero fields take the defaults.
type Limits struct {
	MaxBytes int64         // file size. Defaults to 100 MB.
	MaxPages int           // pages of a PDF. Defaults to 2000.
	MaxRows  int           // rows of a catalog, FAQ or records file, messages of a ticket export. Defaults to 200 000.
	Timeout  time.Duration // reading and converting the file. Defaults to 2 minutes.
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPages <= 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// FileOptions tune reading one file.
type FileOptions struct {
	Kind     string         // auto (sniff the content; the default), manual, catalog, tickets, faq, records
	Password string         // for encrypted PDFs
	Metadata map[string]any // merged into every document's metadata (the upload form field)
	Limits   Limits
	// NoExternalTools keeps the PDF reader from falling back to pdftotext, so results do
	// not depend on the machine (tests).
	NoExternalTools bool
}

// FileResult is what a file turned into.
type FileResult struct {
	Kind     string // the kind used (after sniffing)
	Method   string // how the text was obtained: the parse method ("pdf+cmap"), "csv", "xlsx", "jsonl"...
	Units    []Unit
	Pages    int
	Warnings []kb.Text // non-fatal: garbled page repaired, row 12 skipped (no SKU), ...
	// ReplaceScope, when not empty, names the set a catalog import may prune with --replace
	// ("catalog:<file name>"); see Prune.
	ReplaceScope string
}

// Kinds lists the kinds ReadFile accepts besides auto.
var Kinds = []string{kb.KindManual, kb.KindCatalog, kb.KindTickets, kb.KindFAQ, kb.KindRecords}

// ReadFile turns one file into units for Pipeline.Write. name is the file's base name: it
// is the external id of a manual and the source of every other kind's documents. Reading
// runs under Limits.Timeout, and a panic in a parser becomes this file's error, so one bad
// file never takes a server down. Errors wrap kb.ErrTooLarge (limits), kb.ErrUnsupported
// (unknown formats) or kb.ErrInvalid (malformed, encrypted, scanned...) with a message in
// English and Chinese naming the problem.
func ReadFile(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	name = filepath.Base(name)
	opts.Limits = opts.Limits.withDefaults()
	if int64(len(data)) > opts.Limits.MaxBytes {
		return FileResult{}, kb.TooLarge(fmt.Sprintf("%s is %s, the limit is %s", name, humanBytes(int64(len(data))), humanBytes(opts.Limits.MaxBytes)), fmt.Sprintf("文件 %s 超过大小上限 %s", name, humanBytes(opts.Limits.MaxBytes)))
	}
	if len(data) == 0 {
		return FileResult{}, kb.Invalid(fmt.Sprintf("%s is empty", name), fmt.Sprintf("文件 %s 为空", name))
	}
	kind := opts.Kind
	if kind == "" {
		kind = KindAuto
	}
	if kind == KindAuto {
		var err error
		if kind, err = SniffKind(name, data); err != nil {
			return FileResult{}, fileError(name, err)
		}
	}
	read, ok := readers[kind]
	if !ok {
		return FileResult{}, kb.Invalid(fmt.Sprintf("unknown kind %q (auto, manual, catalog, tickets, faq, records)", kind), fmt.Sprintf("未知的文档类型 %q", kind))
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Limits.Timeout)
	defer cancel()
	type outcome struct {
		res FileResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{err: kb.Invalid(fmt.Sprintf("reader crashed (%v)", p), fmt.Sprintf("文件无法读取，解析器异常（%v）", p))}
			}
			done <- o
		}()
		o.res, o.err = read(ctx, name, data, opts)
	}()
	timedOut := func() error {
		return kb.Invalid(fmt.Sprintf("%s: reading took longer than %s", name, opts.Limits.Timeout), fmt.Sprintf("文件 %s 解析超时（超过 %s）", name, opts.Limits.Timeout))
	}
	select {
	case o := <-done:
		if errors.Is(o.err, context.DeadlineExceeded) {
			return FileResult{}, timedOut() // a reader that stopped in its row loop
		}
		if o.err != nil {
			return FileResult{}, fileError(name, o.err)
		}
		o.res.Kind = kind
		finishUnits(&o.res, name, int64(len(data)), opts.Metadata)
		return o.res, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return FileResult{}, timedOut()
		}
		return FileResult{}, ctx.Err()
	}
}

// reader converts a file of one kind.
type reader func(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error)

var readers = map[string]reader{
	kb.KindManual:  readManual,
	kb.KindCatalog: readCatalog,
	kb.KindTickets: readTickets,
	kb.KindFAQ:     readFAQ,
	kb.KindRecords: readRecords,
}

// finishUnits fills what every unit shares: kind, source, size and the caller's metadata.
func finishUnits(res *FileResult, name string, size int64, extra map[string]any) {
	for i := range res.Units {
		d := &res.Units[i].Doc
		if d.Kind == "" {
			d.Kind = res.Kind
		}
		if d.SourceName == "" {
			d.SourceName = name
		}
		if d.SizeBytes == 0 && len(res.Units) == 1 {
			d.SizeBytes = size
		}
		if d.Metadata == nil {
			d.Metadata = map[string]any{}
		}
		if len(extra) > 0 {
			maps.Copy(d.Metadata, extra)
			if d.ContentHash != "" {
				// A precomputed hash covers only the content; the caller's metadata must
				// still make a changed upload a new version.
				d.ContentHash = textHash(d.ContentHash + "\x00" + jsonString(extra))
			}
		}
	}
}

// fileError makes sure an error names the file and maps to an API status: limits are
// kb.ErrTooLarge, unknown formats kb.ErrUnsupported, anything else the file's fault
// kb.ErrInvalid.
func fileError(name string, err error) error {
	kind := kb.ErrInvalid
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, kb.ErrTooLarge):
		kind = kb.ErrTooLarge
	case errors.Is(err, kb.ErrUnsupported):
		kind = kb.ErrUnsupported
	}
	en, zh := kb.Texts(err)
	if zh == "" {
		zh = en
	}
	// Readers that already name the file ("records: a.jsonl: no records") are not
	// prefixed again.
	base := filepath.Base(name)
	if !strings.Contains(en, base) {
		en = name + ": " + en
	}
	if !strings.Contains(zh, base) {
		zh = name + "：" + zh
	}
	return &kb.Error{Kind: kind, Cause: err, En: en, Zh: zh}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
