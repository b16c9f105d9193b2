package parse

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/zhiku/zhiku/internal/kb"
)

// pdftotextPath finds poppler's pdftotext; "" when it is not installed (Debian package
// poppler-utils, installed by `make db`).
func pdftotextPath(opts Options) string {
	if opts.NoExternalTools {
		return ""
	}
	p, err := exec.LookPath("pdftotext")
	if err != nil {
		return ""
	}
	return p
}

// errNoPdftotext explains why a repair could not happen.
var errNoPdftotext = kb.Plain("pdftotext is not installed (apt-get install poppler-utils)", "未安装 pdftotext")

// limitedBuffer keeps at most max bytes, so a hostile PDF cannot make pdftotext's output
// fill memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// runPdftotext extracts every page's text with pdftotext -layout (pages are separated by
// form feeds). It needs a file on disk, so the data goes to a temporary file.
func runPdftotext(ctx context.Context, bin string, data []byte, opts Options) ([]string, []kb.Text, error) {
	f, err := os.CreateTemp("", "zhiku-*.pdf")
	if err != nil {
		return nil, nil, fmt.Errorf("pdftotext: temp file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("pdftotext: temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("pdftotext: temp file: %w", err)
	}
	args := []string{"-layout", "-enc", "UTF-8", "-l", strconv.Itoa(opts.MaxPages + 1)}
	if opts.Password != "" {
		args = append(args, "-upw", opts.Password)
	}
	args = append(args, f.Name(), "-")
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout := &limitedBuffer{max: maxUnpackedBytes}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Incorrect password") {
			if opts.Password == "" {
				return nil, nil, ErrEncrypted
			}
			return nil, nil, ErrWrongPassword
		}
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, nil, kb.Detailf(ErrCorrupt, "pdftotext: %v: %s", err, msg)
	}
	pages := strings.Split(stdout.String(), "\f")
	if n := len(pages); n > 0 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1] // the output ends with a form feed
	}
	if len(pages) > opts.MaxPages {
		return nil, nil, kb.Detailf(ErrTooManyPages, "more than %d pages", opts.MaxPages)
	}
	var warnings []kb.Text
	if strings.Contains(stderr.String(), "Missing language pack") {
		warnings = append(warnings, kb.T("pdftotext lacks CJK font data, so some Chinese text may be missing; install poppler-data", "未安装 poppler-data，部分中文可能缺失"))
	}
	return pages, warnings, nil
}

// pdftotextLines turns one page of pdftotext -layout output into lines: blank lines are
// paragraph breaks, runs of spaces are column gaps.
func pdftotextLines(page string, pageNo int) []textLine {
	var lines []textLine
	blank := false
	for _, l := range strings.Split(page, "\n") {
		if strings.TrimSpace(l) == "" {
			blank = true
			continue
		}
		lines = append(lines, textLine{text: l, cells: splitColumns(l), breakBefore: blank, page: pageNo})
		blank = false
	}
	return lines
}
