// Package fuzzseed writes the committed seed corpora of Zhiku's fuzz targets
// (testdata/fuzz/FuzzName/seed-*), in the format `go test` reads: every seed then runs as an
// ordinary test case in `go test ./...`, and `go test -fuzz` starts from it.
//
// Seeds that are generated (PDFs, DOCX and XLSX packages) are written by a test gated on
// ZHIKU_WRITE_FUZZ_SEEDS=1, so regenerating them is one command:
//
//	ZHIKU_WRITE_FUZZ_SEEDS=1 go test ./ingest/... ./api/... ./retrieval/... -run WriteFuzzSeeds
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Enabled reports whether seeds should be (re)written in this run.
func Enabled() bool { return os.Getenv("ZHIKU_WRITE_FUZZ_SEEDS") == "1" }

// Write stores one seed of target, named name, holding values in the order of the fuzz
// function's arguments ([]byte, string, int, bool, uint64 are supported).
func Write(t testing.TB, target, name string, values ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		default:
			t.Fatalf("fuzzseed: unsupported value type %T", v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
