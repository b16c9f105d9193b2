package ingest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/parse"
	"github.com/zhiku/zhiku/internal/kb"
)

// benchPDF is a 50-page Chinese/English manual in a predefined-CMap font (GBK-EUC-H).
func benchPDF(b *testing.B) ([]byte, int) {
	b.Helper()
	data, err := os.ReadFile("testdata/bench-manual.pdf")
	require.NoError(b, err)
	return data, 50
}

// BenchmarkParsePDF measures PDF text extraction alone, in pages per second (target ≥ 100).
func BenchmarkParsePDF(b *testing.B) {
	data, pages := benchPDF(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		doc, err := parse.Parse(context.Background(), data, "bench.pdf", parse.Options{NoExternalTools: true})
		require.NoError(b, err)
		require.Equal(b, pages, doc.Pages)
	}
	b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkIngestPDF measures a manual end to end — parse, chunk, segment, embed with the
// local embedder and insert into PostgreSQL — in pages per second (target ≥ 20). Each round
// writes a new version (the file name changes), so nothing is skipped as unchanged.
func BenchmarkIngestPDF(b *testing.B) {
	bundle := setupDB(b)
	data, pages := benchPDF(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		res, err := ingest.ReadFile(ctx, fmt.Sprintf("bench-%d.pdf", i), data, ingest.FileOptions{NoExternalTools: true})
		require.NoError(b, err)
		outs, err := bundle.pipe.Write(ctx, bundle.kb, res.Units, nil)
		require.NoError(b, err)
		require.NoError(b, outs[0].Err)
	}
	b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkIngestCatalog measures a 1,000-product CSV end to end in rows per second
// (target ≥ 2,000). Prices change every round so every row is re-embedded and rewritten.
func BenchmarkIngestCatalog(b *testing.B) {
	bundle := setupDB(b)
	const rows = 1000
	ctx := context.Background()
	round := 0
	for b.Loop() {
		round++
		data := productsCSV(rows, func(i int) float64 { return float64(100*round + i) })
		res, err := ingest.ReadFile(ctx, "catalog.csv", data, ingest.FileOptions{})
		require.NoError(b, err)
		outs, err := bundle.pipe.Write(ctx, bundle.kb, res.Units, nil)
		require.NoError(b, err)
		_, updated, unchanged := counts(outs)
		require.Zero(b, unchanged)
		if round > 1 {
			require.Equal(b, rows, updated)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIngestCatalogDailyUpdate measures the everyday re-import: the same 1,000-product
// catalog with one product in ten changed each round (5% get a promotional price, last
// round's 5% go back), the rest found unchanged by content hash.
func BenchmarkIngestCatalogDailyUpdate(b *testing.B) {
	bundle := setupDB(b)
	const rows = 1000
	ctx := context.Background()
	write := func(price func(i int) float64) []ingest.Outcome {
		res, err := ingest.ReadFile(ctx, "catalog.csv", productsCSV(rows, price), ingest.FileOptions{})
		require.NoError(b, err)
		outs, err := bundle.pipe.Write(ctx, bundle.kb, res.Units, nil)
		require.NoError(b, err)
		return outs
	}
	write(func(i int) float64 { return float64(i) })
	round := 0
	for b.Loop() {
		round++
		outs := write(func(i int) float64 {
			if i%20 == round%20 {
				return float64(i + 1000*round)
			}
			return float64(i)
		})
		_, updated, _ := counts(outs)
		require.Positive(b, updated)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIngestCatalogFirstImport measures a catalog's first import (every row new, into
// a knowledge base of its own each round), end to end, in rows per second.
func BenchmarkIngestCatalogFirstImport(b *testing.B) {
	bundle := setupDB(b)
	const rows = 1000
	ctx := context.Background()
	data := productsCSV(rows, func(i int) float64 { return float64(100 + i) })
	round := 0
	for b.Loop() {
		round++
		k, err := bundle.db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: bundle.kb.TenantID, Name: fmt.Sprintf("first-%d", round),
			Embedder: bundle.kb.Embedder, EmbeddingModel: bundle.kb.EmbeddingModel, EmbeddingDim: bundle.kb.EmbeddingDim})
		require.NoError(b, err)
		res, err := ingest.ReadFile(ctx, "catalog.csv", data, ingest.FileOptions{})
		require.NoError(b, err)
		outs, err := bundle.pipe.Write(ctx, k, res.Units, nil)
		require.NoError(b, err)
		added, _, _ := counts(outs)
		require.Equal(b, rows, added)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIngestTickets measures ticket dialogues end to end (parse, mask, extract, merge,
// embed, insert) in tickets per second.
func BenchmarkIngestTickets(b *testing.B) {
	bundle := setupDB(b)
	const n = 500
	ctx := context.Background()
	round := 0
	for b.Loop() {
		round++
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, `{"id":"T%d-%d","messages":[{"role":"customer","text":"第%d号问题：订单 %d 的扫地机报 E1%02d 怎么办？我电话13812345678"},{"role":"agent","text":"请稍等"},{"role":"agent","text":"E1%02d 请关机冷却十分钟后清理滚刷再开机，第%d轮答复。"}]}`+"\n",
				round, i, i, 1000+i, i%100, i%100, round)
		}
		res, err := ingest.ReadFile(ctx, "tickets.jsonl", []byte(sb.String()), ingest.FileOptions{Kind: "tickets"})
		require.NoError(b, err)
		_, err = bundle.pipe.Write(ctx, bundle.kb, res.Units, nil)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tickets/s")
}
