package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// evalRows parses `zhiku eval` table rows into mode → metric → value.
func evalRows(t *testing.T, out string) map[string]map[string]float64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var header []string
	rows := map[string]map[string]float64{}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "mode" {
			header = f
			continue
		}
		if header == nil || len(f) != len(header) {
			continue
		}
		row := map[string]float64{}
		for i := 1; i < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			require.NoError(t, err, line)
			row[header[i]] = v
		}
		rows[f[0]] = row
	}
	return rows
}

// The project's own evaluation set (testdata/eval): hybrid search must clear a floor and
// beat the BM25 baseline on recall@10 and MRR@10.
func TestEvalSetFloorAndBM25Baseline(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "evalset")
	require.NoError(t, err)
	out, _, err := run(ctx, env, "ingest", "--kb", "evalset", "--kind", "records", "../../testdata/eval/records.jsonl")
	require.NoError(t, err, out)

	out, _, err = run(ctx, env, "eval", "--kb", "evalset", "--queries", "../../testdata/eval/queries.jsonl", "--baseline", "bm25", "--json")
	require.NoError(t, err)
	t.Log("\n" + out)
	rows := evalRows(t, out)
	hybrid, bm25 := rows["hybrid"], rows["bm25"]
	require.NotNil(t, hybrid, out)
	require.NotNil(t, bm25, out)
	require.EqualValues(t, 100, hybrid["queries"])
	require.GreaterOrEqual(t, hybrid["recall@10"], 0.85)
	require.GreaterOrEqual(t, hybrid["mrr@10"], 0.68)
	require.Greater(t, hybrid["recall@10"], bm25["recall@10"], "hybrid beats BM25 on recall@10")
	require.Greater(t, hybrid["mrr@10"], bm25["mrr@10"], "hybrid beats BM25 on MRR@10")

	lines := strings.Split(strings.TrimSpace(out), "\n")
	var js map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &js), "the last line is the metrics object")
	for _, k := range []string{"queries", "k", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "p50_ms", "p99_ms"} {
		require.Contains(t, js, k)
	}
	require.Equal(t, hybrid["recall@10"], js["recall@10"])

	for _, mode := range []string{"vector", "text"} {
		out, _, err := run(ctx, env, "eval", "--kb", "evalset", "--queries", "../../testdata/eval/queries.jsonl", "--mode", mode)
		require.NoError(t, err)
		require.GreaterOrEqual(t, evalRows(t, out)[mode]["recall@10"], 0.8, mode)
	}
}
