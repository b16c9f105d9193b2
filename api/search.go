package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

// Searcher runs searches; *retrieval.Engine implements it.
type Searcher interface {
	Search(ctx context.Context, r retrieval.Request) ([]kb.Hit, error)
}

type searchRequest struct {
	Query          string          `json:"query"`
	TopK           *int            `json:"top_k"` // nil: the default (5)
	Mode           string          `json:"mode"`
	Filters        json.RawMessage `json:"filters"`
	ScoreThreshold float64         `json:"score_threshold"`
	Rerank         *bool           `json:"rerank"`
	// Weights of the vector and text legs in hybrid fusion; default 1 and 1.
	Weights *retrieval.Weights `json:"weights"`
	// Fusion orders hybrid results: score (default) or rrf.
	Fusion string `json:"fusion"`
}

type searchResult struct {
	kb.Hit
	Source struct {
		Page        int      `json:"page"`
		SectionPath []string `json:"section_path"`
	} `json:"source"`
}

func (s *Server) search(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	var req searchRequest
	if !bindJSON(c, &req) {
		return
	}
	topK := 0 // the engine's default
	if req.TopK != nil {
		if *req.TopK < 1 || *req.TopK > 100 {
			fail(c, invalid("top_k must be within 1..100", "top_k 须在 1 到 100 之间"))
			return
		}
		topK = *req.TopK
	}
	filter, err := parseFilters(req.Filters)
	if err != nil {
		fail(c, err)
		return
	}
	ctx, degraded := retrieval.WithDegradation(c.Request.Context())
	hits, err := s.deps.Search.Search(ctx, retrieval.Request{
		KB: k, Query: req.Query, TopK: topK, Mode: req.Mode, Filter: filter,
		ScoreThreshold: req.ScoreThreshold, Rerank: req.Rerank == nil || *req.Rerank, Weights: req.Weights, Fusion: req.Fusion,
	})
	if err != nil {
		fail(c, err)
		return
	}
	if len(hits) == 0 && s.deps.SearchMisses != nil {
		s.deps.SearchMisses.RecordSearchMiss(k.TenantID, k.ID, req.Query, "search", 0)
	}
	out := make([]searchResult, len(hits))
	for i, h := range hits {
		out[i].Hit = h
		out[i].Source.Page = h.Page
		out[i].Source.SectionPath = h.SectionPath
	}
	body := gin.H{"results": out}
	if d := degraded.String(); d != "" {
		body["degraded"] = d // what the search did without (a provider down), as answers say
	}
	c.JSON(http.StatusOK, body)
}

// storableFilter rejects a filter holding a NUL byte in a field, an operator or any string
// value: PostgreSQL refuses NUL in text and jsonb parameters, so it would fail as a 500
// (found by FuzzParseFilters). JSON decoding already made every string valid UTF-8.
func storableFilter(f kb.Filter) error {
	var bad func(v any) bool
	bad = func(v any) bool {
		switch v := v.(type) {
		case string:
			return strings.IndexByte(v, 0) >= 0
		case []any:
			return slices.ContainsFunc(v, bad)
		case map[string]any:
			for k, x := range v {
				if bad(k) || bad(x) {
					return true
				}
			}
		}
		return false
	}
	for _, c := range f.Conditions {
		if bad(c.Field) || bad(c.Op) || bad(c.Value) {
			return kb.Invalid(fmt.Sprintf("filters: condition on %q holds a NUL character (\\u0000)", strings.ReplaceAll(c.Field, "\x00", "")), "过滤条件不能包含 NUL 字符")
		}
	}
	return nil
}

// parseFilters accepts either a list of conditions, [{"field","op","value"}], or an object
// of field → value: a scalar means equal, a list means in, and an object gives operators
// ({"price":{"gte":10,"lt":100}}).
func parseFilters(raw json.RawMessage) (kb.Filter, error) {
	var f kb.Filter
	if len(raw) == 0 || string(raw) == "null" {
		return f, nil
	}
	bad := func(why string) error {
		return kb.Invalid(fmt.Sprintf("filters: %s", why), "过滤条件格式错误")
	}
	var list []kb.Condition
	if err := json.Unmarshal(raw, &list); err == nil {
		for _, c := range list {
			if c.Field == "" {
				return f, bad("each condition needs a field")
			}
		}
		f.Conditions = list
		return f, storableFilter(f)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return f, bad("want an object or a list of {field, op, value}")
	}
	fields := make([]string, 0, len(obj))
	for k := range obj {
		fields = append(fields, k)
	}
	sort.Strings(fields) // stable SQL text for the same filter
	for _, field := range fields {
		if strings.TrimSpace(field) == "" {
			return f, bad("a field name is empty") // found by FuzzParseFilters
		}
		switch v := obj[field].(type) {
		case []any:
			f.Conditions = append(f.Conditions, kb.Condition{Field: field, Op: kb.OpIn, Value: v})
		case map[string]any:
			ops := make([]string, 0, len(v))
			for op := range v {
				ops = append(ops, op)
			}
			sort.Strings(ops)
			for _, op := range ops {
				f.Conditions = append(f.Conditions, kb.Condition{Field: field, Op: op, Value: v[op]})
			}
		default:
			f.Conditions = append(f.Conditions, kb.Condition{Field: field, Op: kb.OpEq, Value: v})
		}
	}
	return f, storableFilter(f)
}
