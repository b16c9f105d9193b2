package llm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkEmbedDocuments measures embedding 200 texts through a local fake provider with
// 1024-dimension vectors (round trip: the fake's encoding, the client's decoding and
// reordering), and the response bytes each text costs on the wire in either encoding.
func BenchmarkEmbedDocuments(b *testing.B) {
	const dim, n = 1024, 200
	for _, format := range []string{EncodingFloat, EncodingBase64} {
		b.Run(format, func(b *testing.B) {
			fake := &fakeEmbedServer{dim: dim}
			var wire atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cw := &countingWriter{ResponseWriter: w, n: &wire}
				fake.serve(cw, r)
			}))
			defer srv.Close()
			e, err := NewEmbedder(EmbedderConfig{BaseURL: srv.URL, Model: "bench", Dimension: dim,
				EncodingFormat: format, BatchSize: 10, Concurrency: 4})
			require.NoError(b, err)
			texts := docs(n)
			ctx := context.Background()

			b.ResetTimer()
			for b.Loop() {
				vecs, err := e.EmbedDocuments(ctx, texts)
				if err != nil || len(vecs) != n {
					b.Fatalf("embed: %v (%d vectors)", err, len(vecs))
				}
			}
			b.StopTimer()
			texts64 := float64(b.N) * n
			b.ReportMetric(texts64/b.Elapsed().Seconds(), "texts/s")
			b.ReportMetric(float64(wire.Load())/texts64, "wire-B/text")
		})
	}
}

// BenchmarkRerank measures one rerank round trip of 50 candidates against a local fake.
func BenchmarkRerank(b *testing.B) {
	body := []byte(`{"results":[` + func() string {
		s := ""
		for i := range 50 {
			if i > 0 {
				s += ","
			}
			s += `{"index":` + itoa(i) + `,"relevance_score":0.` + itoa(100+i) + `}`
		}
		return s
	}() + `]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "bench"})
	require.NoError(b, err)
	candidates := docs(50)
	ctx := context.Background()

	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Rerank(ctx, "q", candidates); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reranks/s")
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

func itoa(i int) string { return strconv.Itoa(i) }
