package main

import (
	"testing"
	"unicode/utf8"
)

// The generated knowledge base is deterministic and its chunks are of real chunk length.
func TestKBGenDeterministic(t *testing.T) {
	a, err := generatedSet(2000, 50, "kb")
	if err != nil {
		t.Fatal(err)
	}
	b, err := generatedSet(2000, 50, "kb")
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.texts {
		if a.texts[i] != b.texts[i] {
			t.Fatalf("chunk %d differs between runs:\n%s\n%s", i, a.texts[i], b.texts[i])
		}
		if n := utf8.RuneCountInString(a.texts[i]); n < 200 || n > 600 {
			t.Errorf("chunk %d has %d characters, want 200..600: %s", i, n, a.texts[i])
		}
	}
	for i := range a.queries {
		if a.queries[i] != b.queries[i] || a.queries[i] == "" {
			t.Fatalf("query %d: %q vs %q", i, a.queries[i], b.queries[i])
		}
	}
	for i := range 3 {
		t.Logf("chunk: %s", a.texts[i])
	}
	for i := range 8 {
		t.Logf("query: %s", a.queries[i])
	}
}
