package main

import (
	"context"
	"math"
	"testing"

	"github.com/zhiku/zhiku/internal/llm"
)

func cosine(a, b []float32) float64 {
	dot, na, nb := 0.0, 0.0, 0.0
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// The fake dense model is a real embedding: unit vectors, deterministic, and a passage is
// nearer its own first half than other passages; served through the openai embedder it
// gives the same vectors.
func TestFakeLSAEmbedder(t *testing.T) {
	set, err := generatedSet(400, 0, "kb")
	if err != nil {
		t.Fatal(err)
	}
	m, err := fitLSA(set.texts, nil, 16, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.embed(set.texts[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := cosine(a, a); math.Abs(n-1) > 1e-5 {
		t.Fatalf("not a unit vector: |v|² = %g", n)
	}
	again, _ := m.embed(set.texts[0])
	if cosine(a, again) < 0.99999 {
		t.Fatal("the same text embedded twice differs")
	}
	nearer := 0
	for i := range 50 {
		r := []rune(set.texts[i])
		whole, _ := m.embed(set.texts[i])
		half, _ := m.embed(string(r[:len(r)/2]))
		other, _ := m.embed(set.texts[(i+200)%len(set.texts)])
		if cosine(whole, half) > cosine(whole, other) {
			nearer++
		}
	}
	if nearer < 45 {
		t.Fatalf("a passage is nearer its first half than another passage in only %d of 50", nearer)
	}
	if v, _ := m.embed("zzzz qqqq"); v[0] != 1 {
		t.Fatalf("a text of no known word should get the first axis, got %v", v[:3])
	}

	url, stop, err := startFakeEmbedder(set.texts, nil, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e, err := llm.NewEmbedder(llm.EmbedderConfig{BaseURL: url, Model: "fake-lsa-16", Dimension: 64})
	if err != nil {
		t.Fatal(err)
	}
	served, err := e.EmbedDocuments(context.Background(), set.texts[:25])
	if err != nil {
		t.Fatal(err)
	}
	local, _ := fitLSA(set.texts, nil, 16, 64, 42) // the server's seed
	for i, v := range served {
		want, _ := local.embed(set.texts[i])
		if c := cosine(v, want); c < 0.9999 {
			t.Fatalf("text %d: served vector differs from the model's (cosine %g)", i, c)
		}
	}
}

// The query tower brings a question nearer its passage than the passage tower alone does.
func TestFakeLSAQueryTower(t *testing.T) {
	set, err := generatedSet(400, 800, "kb")
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([]trainPair, len(set.queries))
	for i, q := range set.queries {
		pairs[i] = trainPair{question: q, passage: set.texts[set.targets[i]]}
	}
	m, err := fitLSA(set.texts, pairs, 32, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	plain, tower := 0.0, 0.0
	for _, p := range pairs[:200] {
		d, _ := m.embed(fakeDocumentPrefix + p.passage)
		q0, _ := m.embed(p.question)
		q1, _ := m.embed(fakeQueryPrefix + p.question)
		plain += cosine(q0, d)
		tower += cosine(q1, d)
	}
	if tower <= plain*1.1 {
		t.Fatalf("mean cosine question–passage: %.3f with the query tower, %.3f without", tower/200, plain/200)
	}
}

func TestParseFakeEmbedder(t *testing.T) {
	if r, err := parseFakeEmbedder("lsa:128"); err != nil || r != 128 {
		t.Fatalf("lsa:128 → %d, %v", r, err)
	}
	for _, bad := range []string{"lsa", "lsa:4", "lsa:x", "bert:128", "lsa:5000"} {
		if _, err := parseFakeEmbedder(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
