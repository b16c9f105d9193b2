package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// The closed loop end to end: a question the knowledge base cannot answer and two
// paraphrases make one gap of three; an operator resolves it through the API; the original
// question and a new paraphrase are answered from that curated answer within a second; the
// stats show the resolution.
func TestClosedLoopEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServe(t, shopWithE104(t))

	questions := []string{"怎么开发票", "如何开具发票", "发票怎么开"}
	for i, q := range questions {
		code, out := s.call(t, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": q, "session_id": fmt.Sprintf("s%d", i)})
		require.Equal(t, 200, code)
		require.Equal(t, false, out["answered"], "%s: %v", q, out)
	}
	var gap map[string]any
	require.Eventually(t, func() bool {
		code, out := s.call(t, "GET", "/v1/gaps?knowledge_base=shop&status=open", nil)
		require.Equal(t, 200, code, "%v", out)
		gaps, _ := out["gaps"].([]any)
		if len(gaps) != 1 {
			return false
		}
		gap = gaps[0].(map[string]any)
		return gap["count"] == float64(3)
	}, 5*time.Second, 50*time.Millisecond, "three paraphrases make one gap of three: %v", gap)

	code, out := s.call(t, "POST", fmt.Sprintf("/v1/gaps/%v/resolve", gap["id"]), map[string]any{"answer": "在订单详情页点击“申请开票”，电子发票 24 小时内发到您的邮箱。"})
	require.Equal(t, 200, code, "%v", out)
	resolvedAt := time.Now()
	for _, q := range []string{"怎么开发票", "发票要怎么开具"} {
		require.Eventually(t, func() bool {
			_, a := s.call(t, "POST", "/v1/answer", map[string]any{"knowledge_base": "shop", "question": q})
			return a["source"] == "curated" && a["answered"] == true
		}, time.Second, 20*time.Millisecond, "%s is answered from the resolved gap's curated answer", q)
	}
	require.Less(t, time.Since(resolvedAt), 2*time.Second)
	require.Eventually(t, func() bool {
		_, g := s.call(t, "GET", fmt.Sprintf("/v1/gaps/%v", gap["id"]), nil)
		hits, _ := g["hits"].(float64)
		return g["status"] == "resolved" && hits >= 2
	}, 3*time.Second, 50*time.Millisecond, "the resolved gap counts the questions its answer caught")

	require.Eventually(t, func() bool {
		code, st := s.call(t, "GET", "/v1/stats?knowledge_base=shop&days=7", nil)
		require.Equal(t, 200, code, "%v", st)
		return fmt.Sprint(st) != "" && containsNumber(st, "gaps_resolved", 1)
	}, 3*time.Second, 50*time.Millisecond, "the stats show the resolution")
}

// containsNumber reports whether any object in v has key equal to n.
func containsNumber(v any, key string, n float64) bool {
	switch x := v.(type) {
	case map[string]any:
		if f, ok := x[key].(float64); ok && f == n {
			return true
		}
		for _, y := range x {
			if containsNumber(y, key, n) {
				return true
			}
		}
	case []any:
		for _, y := range x {
			if containsNumber(y, key, n) {
				return true
			}
		}
	}
	return false
}

// A search through the API that finds nothing above its threshold files a gap too, marked
// as a search miss.
func TestSearchMissIsAGap(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	_, _, err := run(ctx, map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}, "kb", "create", "shop")
	require.NoError(t, err)
	s := startServe(t, db.URL)
	code, out := s.call(t, "POST", "/v1/knowledge-bases/shop/search", map[string]any{"query": "海外仓发货要几天", "top_k": 3})
	require.Equal(t, 200, code, "%v", out)
	require.Empty(t, out["results"])
	require.Eventually(t, func() bool {
		_, list := s.call(t, "GET", "/v1/gaps?knowledge_base=shop", nil)
		gaps, _ := list["gaps"].([]any)
		if len(gaps) != 1 {
			return false
		}
		_, g := s.call(t, "GET", fmt.Sprintf("/v1/gaps/%v", gaps[0].(map[string]any)["id"]), nil)
		occ, _ := g["occurrences"].([]any)
		return len(occ) == 1 && occ[0].(map[string]any)["reason"] == "search_miss" && occ[0].(map[string]any)["channel"] == "search"
	}, 3*time.Second, 50*time.Millisecond)
}
