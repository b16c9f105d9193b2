package main

import (
	"archive/zip"
	"bytes"
	"cmp"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest"
)

// hostileOpts are the knobs of `zhiku bench hostile`.
type hostileOpts struct {
	dir     string
	only    string
	bound   time.Duration
	maxRSS  int64 // bytes
	readOne string
	kind    string
}

func (a *app) benchHostileCmd() *cobra.Command {
	var o hostileOpts
	var maxRSSMiB int64
	cmd := &cobra.Command{
		Use:   "hostile [--dir DIR] [--only NAME]",
		Short: "Makes files built to hurt a parser and reads each as an upload job would: file → error → time → peak memory",
		Long: "Generates truncated and corrupt PDFs, lying page counts, deeply nested objects, decompression\n" +
			"bombs (a PDF content stream, DOCX and XLSX parts), image bombs (JBIG2 and Flate images of\n" +
			"absurd size), sizes claimed in gigabytes, binary files named .csv, invalid UTF-8, mixed\n" +
			"encodings, CSV with 100k columns or a 90 MB field, and JSON nested a million deep. Each is\n" +
			"read in a child process exactly as an upload job reads it (ingest.ReadFile with the\n" +
			"configured limits, sniffing its kind), which gives its wall and CPU time and peak RSS.\n" +
			"Prints the table; a row is marked !! when the file crashed the reader, took more CPU time\n" +
			"than --bound (CPU time, so that a busy machine does not move the verdict; a reader still\n" +
			"running after 5×--bound is killed), more than --max-rss, or was accepted (or refused)\n" +
			"against expectation. Exit status 1 then.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.maxRSS = maxRSSMiB << 20
			if o.readOne != "" {
				return a.hostileReadOne(cmd.Context(), o)
			}
			return a.benchHostile(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "write the files here and keep them (default: a temporary directory, removed)")
	cmd.Flags().StringVar(&o.only, "only", "", "only the files whose name contains this")
	cmd.Flags().DurationVar(&o.bound, "bound", 20*time.Second, "CPU time a file may take to be read or refused")
	cmd.Flags().Int64Var(&maxRSSMiB, "max-rss", 1024, "peak RSS (MiB) a file may cost the reading process")
	cmd.Flags().StringVar(&o.readOne, "read-one", "", "(internal) read this one file and print the outcome as JSON")
	cmd.Flags().StringVar(&o.kind, "kind", ingest.KindAuto, "(internal) the kind to read --read-one as")
	_ = cmd.Flags().MarkHidden("read-one")
	_ = cmd.Flags().MarkHidden("kind")
	return cmd
}

// hostileOutcome is what the child reports of one file.
type hostileOutcome struct {
	Error    string `json:"error,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Method   string `json:"method,omitempty"`
	Units    int    `json:"units"`
	Pages    int    `json:"pages"`
	Warnings int    `json:"warnings"`
	// PeakRSS is the reader's own high-water RSS, or a tool's it ran (pdftotext) if higher,
	// in bytes. The parent cannot take it from wait4: a child's figure starts from its
	// parent's RSS at the fork.
	PeakRSS int64 `json:"peak_rss"`
}

// hostileReadOne is the child: it reads one file as the upload job's processor does.
func (a *app) hostileReadOne(ctx context.Context, o hostileOpts) error {
	data, err := os.ReadFile(o.readOne)
	if err != nil {
		return err
	}
	res, err := ingest.ReadFile(ctx, filepath.Base(o.readOne), data, ingest.FileOptions{Kind: o.kind, Limits: a.fileLimits(a.cfg.MaxUploadBytes)})
	out := hostileOutcome{Kind: res.Kind, Method: res.Method, Units: len(res.Units), Pages: res.Pages, Warnings: len(res.Warnings)}
	if err != nil {
		out = hostileOutcome{Error: err.Error()}
	}
	out.PeakRSS = peakRSS()
	return json.NewEncoder(a.out).Encode(out)
}

// peakRSS is this process's high-water RSS (VmHWM), or its children's if higher, in bytes;
// 0 where /proc is missing.
func peakRSS() int64 {
	var kib int64
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		kib = max(kib, ru.Maxrss)
	}
	return kib << 10
}

// hostileFile is one generated file and what reading it should end in.
type hostileFile struct {
	name string
	make func() []byte
	want string // "error", "ok" or "any"
	says string // a refusal names this (case-insensitive), when set
	kind string // as an upload's kind field; empty: auto
}

func (a *app) benchHostile(ctx context.Context, o hostileOpts) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "zhiku-hostile-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "hostile files, read as an upload job reads them (limits: %d pages, %d rows, %d MiB); bounds %s CPU and %d MiB peak RSS\n",
		a.cfg.MaxPages, a.cfg.MaxRows, a.cfg.MaxUploadBytes>>20, o.bound, o.maxRSS>>20)
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tfile\tsize\toutcome\twall\tCPU\tpeak RSS\terror")
	bad := 0
	for _, f := range hostileFiles() {
		if o.only != "" && !strings.Contains(f.name, o.only) {
			continue
		}
		data := f.make()
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		r := runHostile(ctx, exe, path, cmp.Or(f.kind, ingest.KindAuto), 5*o.bound)
		var problems []string
		switch {
		case r.crash != "":
			problems = append(problems, r.crash)
		case f.want == "error" && r.out.Error == "":
			problems = append(problems, "accepted")
		case f.want == "ok" && r.out.Error != "":
			problems = append(problems, "refused")
		case f.says != "" && r.out.Error != "" && !strings.Contains(strings.ToLower(r.out.Error), strings.ToLower(f.says)):
			problems = append(problems, fmt.Sprintf("error does not name %q", f.says))
		}
		if r.cpu > o.bound {
			problems = append(problems, "over the time bound")
		}
		if r.maxRSS > o.maxRSS {
			problems = append(problems, "over the memory bound")
		}
		mark, outcome := "", "refused"
		if len(problems) > 0 {
			mark, bad = "!!", bad+1
		}
		msg := r.out.Error
		switch {
		case r.crash != "":
			outcome, msg = "crashed", r.crash+": "+r.stderr
		case r.out.Error == "":
			outcome = "read"
			msg = fmt.Sprintf("(%s via %s: %d document(s), %d page(s), %d warning(s))", r.out.Kind, r.out.Method, r.out.Units, r.out.Pages, r.out.Warnings)
		}
		if len(problems) > 0 {
			msg = strings.Join(problems, ", ") + ": " + msg
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, f.name, humanSize(int64(len(data))), outcome,
			r.took.Round(10*time.Millisecond), r.cpu.Round(10*time.Millisecond), humanSize(r.maxRSS), firstLine(msg, 140))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		fmt.Fprintf(a.out, "%d file(s) misbehaved (marked !!)\n", bad)
		return exitError{1}
	}
	fmt.Fprintln(a.out, "every file was read or refused within its bounds")
	return nil
}

// hostileRun is one child's run.
type hostileRun struct {
	out    hostileOutcome
	took   time.Duration // wall clock
	cpu    time.Duration // user and system time of the reader (and the tools it ran)
	maxRSS int64         // bytes
	crash  string
	stderr string
}

// runHostile reads path in a child process, killing it after limit.
func runHostile(ctx context.Context, exe, path, kind string, limit time.Duration) hostileRun {
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, "bench", "hostile", "--read-one", path, "--kind", kind)
	cmd.Env = append(os.Environ(), "ZHIKU_LOG_LEVEL=error")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := hostileRun{took: time.Since(start), stderr: firstLine(strings.TrimSpace(stderr.String()), 200)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		r.maxRSS = ru.Maxrss << 10 // KiB on Linux; an upper bound (see hostileOutcome.PeakRSS)
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	switch {
	case cctx.Err() != nil:
		r.crash = fmt.Sprintf("killed after %s", limit)
	case err != nil:
		r.crash = fmt.Sprintf("reader exited: %v", err)
	default:
		if jerr := json.Unmarshal(stdout.Bytes(), &r.out); jerr != nil {
			r.crash = "no outcome printed"
		}
		if r.out.PeakRSS > 0 {
			r.maxRSS = r.out.PeakRSS
		}
	}
	return r
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// hostileFiles lists the generated files, a well-formed one of each family first (its row
// is the baseline of time and memory).
func hostileFiles() []hostileFile {
	text := func(i int) string {
		return fmt.Sprintf("BT /F1 12 Tf 72 700 Td (Page %d: the filter is cleaned every two weeks.) Tj ET", i)
	}
	manual := func() []byte { return pdfDoc(20, text, nil) }
	wideHeader := func(cols int) []byte {
		var b bytes.Buffer
		b.WriteString("sku,name")
		for i := 2; i < cols; i++ {
			fmt.Fprintf(&b, ",c%d", i)
		}
		b.WriteString("\nA1,cup")
		for i := 2; i < cols; i++ {
			b.WriteString(",1")
		}
		b.WriteByte('\n')
		return b.Bytes()
	}
	return []hostileFile{
		{name: "ok.pdf", make: manual, want: "ok"},
		{name: "ok.csv", make: func() []byte { return []byte("sku,name,price\nA1,杯子,12\nA2,水壶,30\n") }, want: "ok"},
		{name: "ok.docx", make: func() []byte {
			return zipOf(zipPart{name: "word/document.xml", body: []byte(docxXML("滤网每两周清洗一次。"))})
		}, want: "ok"},

		{name: "truncated.pdf", make: func() []byte { m := manual(); return m[:len(m)/2] }, want: "any"},
		{name: "corrupt.pdf", make: func() []byte {
			m := manual()
			for i := len(m) / 4; i < len(m)*3/4; i++ {
				m[i] ^= 0x5a
			}
			return m
		}, want: "any"}, // pdftotext may recover the intact pages (with a warning)
		{name: "huge-page-count.pdf", make: func() []byte { return pdfDoc(1, text, map[string]string{"count": "2000000000"}) }, want: "ok"},
		{name: "100k-kids.pdf", make: func() []byte { return pdfDoc(1, text, map[string]string{"kids": "100000"}) }, want: "error", says: "page"},
		{name: "deeply-nested.pdf", make: func() []byte {
			return pdfDoc(1, text, map[string]string{"catalog": "/X " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000)})
		}, want: "any"}, // the nesting is in an unused entry: the page itself is fine
		{name: "stream-bomb.pdf", make: func() []byte { return pdfStreamBomb(512 << 20) }, want: "any"},
		{name: "claims-4gb-stream.pdf", make: func() []byte { return pdfDoc(1, text, map[string]string{"length": "4294967296"}) }, want: "any"},
		{name: "jbig2-bomb.pdf", make: func() []byte {
			return pdfImage("/JBIG2Decode", 200_000, 200_000, 1, []byte("\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"))
		}, want: "error"},
		{name: "image-bomb.pdf", make: func() []byte { return pdfImage("/FlateDecode", 60_000, 60_000, 8, deflateZeros(64<<20)) }, want: "error"},

		{name: "bomb.docx", make: func() []byte { return zipOf(zipPart{name: "word/document.xml", spaces: 300 << 20}) }, want: "error", says: "bomb.docx"},
		{name: "claims-4gb.docx", make: func() []byte {
			return zipOf(zipPart{name: "word/document.xml", body: []byte(docxXML("x")), claim: 4 << 30})
		}, want: "error"},
		{name: "nested.docx", make: func() []byte {
			return zipOf(zipPart{name: "word/document.xml", body: []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
				strings.Repeat("<w:p>", 500_000) + strings.Repeat("</w:p>", 500_000) + `</w:body></w:document>`)})
		}, want: "any"},
		{name: "bomb.xlsx", make: func() []byte { return xlsxOf(zipPart{name: "xl/worksheets/sheet1.xml", spaces: 300 << 20}) }, want: "error", says: "bomb.xlsx"},
		{name: "claims-4gb.xlsx", make: func() []byte {
			return xlsxOf(zipPart{name: "xl/worksheets/sheet1.xml", body: []byte(`<worksheet><sheetData/></worksheet>`), claim: 4 << 30})
		}, want: "error"},

		{name: "binary.csv", make: func() []byte {
			return append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0, 1, 2, 0xff, 0xfe, 0x10}, 5000)...)
		}, want: "error", says: "binary.csv"},
		{name: "invalid-utf8.txt", make: func() []byte { return bytes.Repeat([]byte("abc\xff\xfe\xfd\x80\x81 "), 2000) }, want: "error", says: "invalid-utf8.txt"},
		{name: "mixed-encodings.csv", make: func() []byte { return []byte("货号,名称\nA1,杯子\n\xb1\xad\xd7\xd3,\xff\xfe\x00\x00\n") }, want: "error", says: "mixed-encodings.csv"},
		{name: "100k-columns.csv", make: func() []byte { return wideHeader(100_000) }, want: "error", says: "columns"},
		{name: "90mb-field.csv", make: func() []byte {
			return []byte("sku,name,description\nA1,cup," + strings.Repeat("很长的描述", 6<<20) + "\n")
		}, want: "error", says: "per cell"},
		{name: "30mb-record.jsonl", make: func() []byte {
			return []byte(`{"id":"r1","title":"t","text":"` + strings.Repeat("很长的正文", 2<<20) + `"}` + "\n")
		}, want: "any", kind: "records"}, // one document of 30 MB of text: read, at a cost
		{name: "300k-rows.csv", make: func() []byte {
			var b bytes.Buffer
			b.WriteString("sku,name\n")
			for i := range 300_000 {
				fmt.Fprintf(&b, "S%06d,item %d\n", i, i)
			}
			return b.Bytes()
		}, want: "error", says: "rows"},
		{name: "deep.json", make: func() []byte {
			return []byte(strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000))
		}, want: "error", says: "deep.json", kind: "records"},
		{name: "deep-metadata.jsonl", make: func() []byte {
			return []byte(`{"id":"r1","title":"t","text":"退货政策说明","metadata":{"x":` + strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000) + "}}\n")
		}, want: "error", says: "deep-metadata.jsonl", kind: "records"},
	}
}

// pdfDoc writes a PDF of pages pages, each showing content(i), with a correct
// cross-reference table. opts lie about it: "count" the page count claimed, "kids" how often
// the one page is listed, "catalog" extra catalog entries, "length" the first stream's length.
func pdfDoc(pages int, content func(int) string, opts map[string]string) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R " + opts["catalog"] + " >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
	var kids []string
	for i := range pages {
		c := content(i + 1)
		length := fmt.Sprint(len(c))
		if l := opts["length"]; l != "" && i == 0 {
			length = l
		}
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>", len(objs)+2),
			fmt.Sprintf("<< /Length %s >>\nstream\n%s\nendstream", length, c))
		kids = append(kids, fmt.Sprintf("%d 0 R", len(objs)-1))
	}
	count := fmt.Sprint(pages)
	if n := opts["kids"]; n != "" {
		var k int
		fmt.Sscan(n, &k)
		kids = slicesRepeat(kids[0], k)
		count = n
	}
	if c := opts["count"]; c != "" {
		count = c
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %s >>", strings.Join(kids, " "), count)
	return pdfObjects(objs)
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// pdfObjects numbers objs from 1 and writes them with a cross-reference table.
func pdfObjects(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// pdfStreamBomb is a one-page PDF whose content stream inflates to n bytes of text-showing
// operators.
func pdfStreamBomb(n int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	op := []byte("(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) Tj\n")
	chunk := bytes.Repeat(op, (1<<20)/len(op))
	_, _ = zw.Write([]byte("BT /F1 12 Tf 72 700 Td\n"))
	for w := 0; w < n; w += len(chunk) {
		_, _ = zw.Write(chunk)
	}
	_, _ = zw.Write([]byte("ET\n"))
	_ = zw.Close()
	return pdfObjects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	})
}

// pdfImage is a one-page PDF with no text, only an image of w×h pixels (bpc bits per
// component) under filter, whose data is data: a scan, as far as a reader can tell.
func pdfImage(filter string, w, h, bpc int, data []byte) []byte {
	draw := fmt.Sprintf("q %d 0 0 %d 0 0 cm /Im1 Do Q", 595, 842)
	return pdfObjects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(draw), draw),
		fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent %d /Filter %s /Length %d >>\nstream\n%s\nendstream",
			w, h, bpc, filter, len(data), data),
	})
}

// deflateZeros is n zero bytes, zlib-compressed.
func deflateZeros(n int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for w := 0; w < n; w += len(zero) {
		_, _ = zw.Write(zero)
	}
	_ = zw.Close()
	return z.Bytes()
}

// zipPart is one member of a generated ZIP: body, or spaces bytes of spaces (a bomb);
// claim, when set, is the uncompressed size its header states, whatever it holds.
type zipPart struct {
	name   string
	body   []byte
	spaces int
	claim  uint64
}

func zipOf(parts ...zipPart) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	for _, p := range parts {
		if p.claim > 0 {
			var body bytes.Buffer
			fw, _ := flate.NewWriter(&body, flate.BestCompression)
			_, _ = fw.Write(p.body)
			_ = fw.Close()
			w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CompressedSize64: uint64(body.Len()), UncompressedSize64: p.claim})
			if err == nil {
				_, _ = w.Write(body.Bytes())
			}
			continue
		}
		w, err := zw.Create(p.name)
		if err != nil {
			continue
		}
		if p.body != nil {
			_, _ = w.Write(p.body)
			continue
		}
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for n := 0; n < p.spaces; n += len(chunk) {
			_, _ = w.Write(chunk)
		}
	}
	_ = zw.Close()
	return buf.Bytes()
}

func docxXML(text string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>` +
		text + `</w:t></w:r></w:p></w:body></w:document>`
}

// xlsxOf is a workbook of one sheet, sheet1.xml given by part.
func xlsxOf(sheet zipPart) []byte {
	return zipOf(
		zipPart{name: "[Content_Types].xml", body: []byte(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>`)},
		zipPart{name: "xl/workbook.xml", body: []byte(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
		zipPart{name: "xl/_rels/workbook.xml.rels", body: []byte(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)},
		sheet,
	)
}
