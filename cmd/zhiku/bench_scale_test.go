package main

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// `zhiku bench scale` runs end to end at a tiny size, so `make bench-scale` keeps working:
// every table is printed, and the knowledge bases are deleted afterwards.
func TestBenchScaleTiny(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()
	start := time.Now()
	out, errOut, err := run(ctx, env, "bench", "scale", "--chunks", "2000", "--batch", "500", "--queries", "20", "--recall-queries", "5", "--chunk-queries", "5",
		"--ef-search", "40,100", "--qps-duration", "200ms", "--answer-duration", "300ms", "--import-docs", "200", "--answer-clients", "2", "--build-mem", "64", "--exact-sql")
	require.NoError(t, err, errOut)
	t.Logf("bench scale at 2,000 chunks took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"chunks/s", "hnsw_build_s", "PostgreSQL RSS", "hybrid", "vector", "text",
		"relaxed_order", "strict_order", "chunks as queries", "halfvec", "answers during bulk import", "Targets at 2000 chunks"} {
		require.Contains(t, out, want)
	}
	// As Zhiku searches, a filter matching 1% or 10% of 2,000 chunks (an indexed equality,
	// under the exact-search cap) finds the exact neighbours.
	for _, share := range []string{"1%", "10%"} {
		require.Regexp(t, `vector\s+`+share+`\s+zhiku\s+\d+\s+1\.000`, out)
	}
	// The one-pass exact search (the default, for 1M chunks) finds what PostgreSQL's exact
	// scans find.
	m := regexp.MustCompile(`agrees on ([0-9.]+) of their neighbours`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	agree, _ := strconv.ParseFloat(m[1], 64)
	require.GreaterOrEqual(t, agree, 0.99)
	var kbs int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM knowledge_bases`).Scan(&kbs))
	require.Zero(t, kbs, "the bench deletes its knowledge bases")
}
