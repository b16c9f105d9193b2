package main

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
)

// The hostile files are what their names say: the well-formed ones read, the bombs hold
// what they claim to, so the table of `zhiku bench hostile` measures real attacks.
func TestHostileFilesAreWhatTheyClaim(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{}
	for _, f := range hostileFiles() {
		if _, dup := files[f.name]; dup {
			t.Fatalf("two files named %s", f.name)
		}
		if strings.Contains(f.name, "bomb") || strings.HasPrefix(f.name, "ok") || strings.Contains(f.name, "claims") || strings.Contains(f.name, "columns") {
			files[f.name] = f.make()
		}
	}
	ctx := context.Background()
	res, err := ingest.ReadFile(ctx, "ok.pdf", files["ok.pdf"], ingest.FileOptions{NoExternalTools: true})
	require.NoError(t, err, "the generated PDF is well formed")
	require.Equal(t, 20, res.Pages)
	for _, name := range []string{"ok.csv", "ok.docx"} {
		_, err := ingest.ReadFile(ctx, name, files[name], ingest.FileOptions{NoExternalTools: true})
		require.NoError(t, err, name)
	}

	// The PDF stream bomb inflates to half a gigabyte of text operators.
	m := regexp.MustCompile(`(?s)/Length (\d+) /Filter /FlateDecode >>\nstream\n`).FindSubmatchIndex(files["stream-bomb.pdf"])
	require.NotNil(t, m)
	n, _ := strconv.Atoi(string(files["stream-bomb.pdf"][m[2]:m[3]]))
	zr, err := zlib.NewReader(bytes.NewReader(files["stream-bomb.pdf"][m[1] : m[1]+n]))
	require.NoError(t, err)
	inflated, err := io.Copy(io.Discard, zr)
	require.NoError(t, err)
	require.GreaterOrEqual(t, inflated, int64(512<<20))
	require.Less(t, len(files["stream-bomb.pdf"]), 4<<20, "from a few megabytes")

	member := func(name, part string) *zip.File {
		zr, err := zip.NewReader(bytes.NewReader(files[name]), int64(len(files[name])))
		require.NoError(t, err, name)
		for _, f := range zr.File {
			if f.Name == part {
				return f
			}
		}
		t.Fatalf("%s has no %s", name, part)
		return nil
	}
	for name, part := range map[string]string{"bomb.docx": "word/document.xml", "bomb.xlsx": "xl/worksheets/sheet1.xml"} {
		f := member(name, part)
		rc, err := f.Open()
		require.NoError(t, err)
		inflated, err := io.Copy(io.Discard, rc)
		require.NoError(t, err)
		require.GreaterOrEqual(t, inflated, int64(300<<20), name)
		require.Less(t, len(files[name]), 1<<20, name)
	}
	require.Equal(t, uint64(4<<30), member("claims-4gb.docx", "word/document.xml").UncompressedSize64)
	require.Equal(t, uint64(4<<30), member("claims-4gb.xlsx", "xl/worksheets/sheet1.xml").UncompressedSize64)
	header, _, _ := bytes.Cut(files["100k-columns.csv"], []byte("\n"))
	require.Equal(t, 100_000, bytes.Count(header, []byte(","))+1)
}
