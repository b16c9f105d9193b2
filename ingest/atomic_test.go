package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

// manualVersion is a Markdown manual whose every section carries its version number, so a
// search hit tells which version it came from.
func manualVersion(v, sections int) []byte {
	var sb strings.Builder
	sb.WriteString("# 滤网保养手册\n\n")
	for s := 1; s <= sections; s++ {
		fmt.Fprintf(&sb, "## 第%d节 滤网清洁\n\n版本号 v%d。第%d节：滤网清洁要用软毛刷，不可水洗，每三个月更换滤网。\n\n", s, v, s)
	}
	return []byte(sb.String())
}

// searchFunc runs one search.
type searchFunc func(ctx context.Context, b *dbBundle, r retrieval.Request) ([]kb.Hit, error)

// snapshotSearch runs the whole search (both legs and loading the hits) in one read-only
// REPEATABLE READ transaction, as one consistent view of the knowledge base.
func engineSearch(ctx context.Context, b *dbBundle, r retrieval.Request) ([]kb.Hit, error) {
	return b.engine.Search(ctx, r)
}

// TestAtomicReingestUnderConcurrentSearch re-ingests a document again and again while
// searches run: each must see exactly one version's chunks, never a mix or nothing.
func TestAtomicReingestUnderConcurrentSearch(t *testing.T) {
	t.Parallel()
	t.Run("Engine", func(t *testing.T) {
		t.Parallel()
		// The engine loads its winners in one statement and searches again when a
		// re-ingest removed some of them after the legs ran.
		testAtomicReingest(t, engineSearch, kb.ModeText)
	})
	t.Run("Hybrid", func(t *testing.T) {
		t.Parallel()
		// Each leg loads its chunks on its own snapshot: a re-ingest committed between
		// them loads the document in two versions, and the search runs again.
		testAtomicReingest(t, engineSearch, kb.ModeHybrid)
	})
}

func testAtomicReingest(t *testing.T, search searchFunc, mode string) {
	b := setupDB(t)
	ctx := context.Background()
	const sections, versions, searchers = 6, 25, 4
	b.ingest(t, "filter.md", manualVersion(1, sections), ingest.FileOptions{})
	version := func(h kb.Hit) string {
		_, after, ok := strings.Cut(h.Content, "版本号 v")
		require.True(t, ok, h.Content)
		v, _, _ := strings.Cut(after, "。")
		return v
	}

	var done atomic.Bool
	var searches atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, searchers)
	for range searchers {
		wg.Go(func() {
			for !done.Load() {
				hits, err := search(ctx, b, retrieval.Request{KB: b.kb, Query: "滤网清洁 软毛刷", TopK: 20, Mode: mode})
				if err != nil {
					errs <- err.Error()
					return
				}
				seen := map[string]int{}
				for _, h := range hits {
					seen[version(h)]++
				}
				if len(seen) != 1 || len(hits) != sections {
					errs <- fmt.Sprintf("search saw versions %v in %d hits; want one version's %d chunks", seen, len(hits), sections)
					return
				}
				searches.Add(1)
			}
		})
	}
	for v := 2; v <= versions; v++ {
		b.ingest(t, "filter.md", manualVersion(v, sections), ingest.FileOptions{})
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	require.Positive(t, searches.Load())
	doc, err := b.db.Store.GetDocument(ctx, b.kb.ID, "filter.md")
	require.NoError(t, err)
	require.Equal(t, versions, doc.Version)
	hits := b.search(t, "滤网清洁 软毛刷", 20)
	require.Len(t, hits, sections)
	require.Equal(t, fmt.Sprint(versions), version(hits[0]))
}
