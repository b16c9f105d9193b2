package api_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/jobs"
)

// hostileFile is an upload built to hurt: it must end in a clear error (at upload, or as
// the job's error) naming the problem, within a time bound, and the server must go on.
type hostileFile struct {
	name   string
	data   []byte
	fields map[string]string
	says   []string // the error names the problem: each of these, case-insensitively
	ok     bool     // accepted after all: the hostile part is ignored (a lying page count)
}

// zipOf builds a ZIP; a part whose body is nil is written as size bytes of spaces, deflated
// (a decompression bomb). claim, when non-zero, is the uncompressed size its header states.
func zipOf(t *testing.T, parts []zipPart) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for _, p := range parts {
		if p.claim > 0 {
			var body bytes.Buffer
			fw, _ := flate.NewWriter(&body, flate.BestSpeed)
			_, _ = fw.Write(p.body)
			_ = fw.Close()
			w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CompressedSize64: uint64(body.Len()), UncompressedSize64: p.claim, CRC32: 0})
			require.NoError(t, err)
			_, _ = w.Write(body.Bytes())
			continue
		}
		w, err := zw.Create(p.name)
		require.NoError(t, err)
		if p.body != nil {
			_, _ = w.Write(p.body)
			continue
		}
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for n := 0; n < p.size; n += len(chunk) {
			_, _ = w.Write(chunk)
		}
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type zipPart struct {
	name  string
	body  []byte
	size  int    // bytes of spaces when body is nil
	claim uint64 // a lying uncompressed size in the header
}

const xlsxTypes = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>`
const xlsxWorkbook = `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`
const xlsxRels = `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`

// pdfOf writes objects 1..n with a correct cross-reference table, so a parser reaches what
// they hold instead of stopping at a malformed file.
func pdfOf(objs ...string) []byte {
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

func hostileFiles(t *testing.T) []hostileFile {
	manual, err := os.ReadFile("../testdata/demo/xr500-manual.pdf")
	require.NoError(t, err)
	corrupt := bytes.Clone(manual)
	for i := len(corrupt) / 4; i < len(corrupt)*3/4; i++ {
		corrupt[i] ^= 0x5a
	}
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
	content := "stream\nBT /F1 12 Tf 72 700 Td (Hello) Tj ET\nendstream"
	font := "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
	hugeCount := pdfOf("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>", page, "<< /Length 38 >>\n"+content, font)
	manyKids := pdfOf("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids ["+strings.Repeat("3 0 R ", 100_000)+"] /Count 100000 >>", page, "<< /Length 38 >>\n"+content, font)
	deepPDF := pdfOf("<< /Type /Catalog /Pages 2 0 R /X "+strings.Repeat("[", 200_000)+strings.Repeat("]", 200_000)+" >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, "<< /Length 38 >>\n"+content, font)
	wideHeader := make([]string, 100_000)
	wideRow := make([]string, 100_000)
	for i := range wideHeader {
		wideHeader[i], wideRow[i] = fmt.Sprintf("c%d", i), "1"
	}
	wideHeader[0], wideRow[0] = "货号", "A1"
	wide := []byte(strings.Join(wideHeader, ",") + "\n" + strings.Join(wideRow, ",") + "\n")
	catalog := map[string]string{"kind": "catalog"}
	return []hostileFile{
		{name: "truncated.pdf", data: manual[:len(manual)/2], says: []string{"corrupt"}},
		{name: "corrupt.pdf", data: corrupt, says: []string{"corrupt.pdf", "corrupt"}},
		{name: "huge-page-count.pdf", data: hugeCount, ok: true}, // /Count is not trusted: pages are counted
		{name: "100k-kids.pdf", data: manyKids, says: []string{"page"}},
		{name: "deeply-nested.pdf", data: deepPDF, says: []string{"corrupt"}},
		{name: "bomb.docx", data: zipOf(t, []zipPart{{name: "word/document.xml", size: 300 << 20}}), says: []string{"corrupt"}},
		{name: "claims-4gb.docx", data: zipOf(t, []zipPart{{name: "word/document.xml", body: []byte("<w:document/>"), claim: 4 << 30}}), says: []string{"corrupt"}},
		{name: "bomb.xlsx", fields: catalog, data: zipOf(t, []zipPart{{name: "[Content_Types].xml", body: []byte(xlsxTypes)}, {name: "xl/workbook.xml", body: []byte(xlsxWorkbook)},
			{name: "xl/_rels/workbook.xml.rels", body: []byte(xlsxRels)}, {name: "xl/worksheets/sheet1.xml", size: 300 << 20}}), says: []string{"bomb.xlsx"}},
		{name: "binary.csv", fields: catalog, data: append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0, 1, 2, 0xff, 0xfe, 0x10}, 5000)...), says: []string{"binary content"}},
		{name: "invalid-utf8.txt", data: bytes.Repeat([]byte("abc\xff\xfe\xfd\x80\x81 "), 2000), says: []string{"invalid-utf8.txt"}},
		{name: "mixed-encodings.csv", fields: catalog, data: []byte("货号,名称\nA1,杯子\n\xb1\xad\xd7\xd3,\xff\xfe\x00\x00\n"), says: []string{"mixed-encodings.csv"}},
		{name: "100k-columns.csv", fields: catalog, data: wide, says: []string{"100000 columns, the limit is 1000"}},
	}
}

// TestHostileFiles uploads each hostile file in turn and prints file → outcome → time →
// peak heap growth (sampled every 2 ms) as a table (go test -v -run HostileFiles ./api). Every
// file ends within 20 s in an error naming its problem, /healthz stays 200, and a good upload
// made after all of them becomes ready: nothing hostile stops other uploads.
//
// Not parallel, on purpose: the heap figures are the process's, so this test runs while no
// other test of the package does (parallel tests wait for the sequential ones).
func TestHostileFiles(t *testing.T) {
	b := setupUpload(t, 0)
	b.startWorkers(t)
	const bound = 20 * time.Second
	rows := []string{fmt.Sprintf("%-22s %9s  %-8s %9s %10s  %s", "file", "size", "outcome", "time", "peak heap", "error")}
	for _, f := range hostileFiles(t) {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}()
		start := time.Now()
		r := b.upload(t, adminKey, "kb1", f.name, f.data, f.fields)
		outcome, msg := fmt.Sprint(r.Code), ""
		switch {
		case r.Code == http.StatusAccepted:
			j := b.waitJob(t, jobOf(t, r).ID, final)
			outcome, msg = "job "+string(j.State), j.Error
			want := jobs.StateFailed
			if f.ok {
				want = jobs.StateSucceeded
			}
			assert.Equal(t, want, j.State, "%s: %+v", f.name, j)
		default:
			require.GreaterOrEqual(t, r.Code, 400, f.name)
			require.Less(t, r.Code, 500, "%s: %s", f.name, r.Raw)
			e, _ := r.Body["error"].(map[string]any)
			msg = fmt.Sprint(e["message"])
		}
		took := time.Since(start)
		close(stop)
		<-sampled
		grew := int64(peak.Load()) - int64(base.HeapAlloc)
		rows = append(rows, fmt.Sprintf("%-22s %9s  %-8s %9s %10s  %s", f.name, mib(int64(len(f.data))), outcome, took.Round(time.Millisecond), mib(grew), firstLine(msg, 110)))
		assert.Less(t, took, bound, f.name)
		for _, s := range f.says {
			assert.Contains(t, strings.ToLower(msg), strings.ToLower(s), "%s: the error names the problem", f.name)
		}
		require.Equal(t, 200, b.do(t, "", "GET", "/healthz", "").Code, "server up after %s", f.name)
	}
	t.Log("hostile files:\n" + strings.Join(rows, "\n"))

	r := b.upload(t, adminKey, "kb1", "after.md", []byte(manualMD), nil)
	require.Equal(t, http.StatusAccepted, r.Code, r.Raw)
	j := b.waitJob(t, jobOf(t, r).ID, final)
	require.Equal(t, jobs.StateSucceeded, j.State, "a good upload after the hostile ones: %+v", j)
}

func mib(n int64) string {
	if n < 0 {
		n = 0
	}
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
