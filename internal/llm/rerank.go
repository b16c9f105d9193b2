package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// DefaultRerankTimeout bounds one rerank request (one attempt). Reranking sits on the answer
// path, so it is kept shorter than the other clients'.
const DefaultRerankTimeout = 30 * time.Second

// maxRerankResponse bounds how much of a rerank response is read.
const maxRerankResponse = 16 << 20

// RerankConfig configures a Reranker. BaseURL and Model are required.
type RerankConfig struct {
	// BaseURL of the rerank service, with or without /v1 (http://localhost:9997,
	// https://api.siliconflow.cn/v1), or the full endpoint ending in /rerank.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none.
	APIKey string
	// Model names the reranker, e.g. bge-reranker-v2-m3, jina-reranker-v2-base-multilingual.
	Model string
	// TopN is how many results to ask for and return. 0 means all documents.
	TopN int
	// Timeout bounds each request attempt. Defaults to DefaultRerankTimeout (30 s).
	Timeout time.Duration
	// RetryConfig sets retries and backoff; see its fields for defaults.
	RetryConfig
	// HTTPClient replaces the default http.Client (no client-wide timeout).
	HTTPClient *http.Client
	// Logger receives retry warnings. Defaults to discarding them.
	Logger *slog.Logger
}

// RerankResult scores one document: Index points into the docs given to Rerank.
type RerankResult struct {
	Index int
	Score float64
}

// Reranker scores documents against a query through a Jina-style /rerank endpoint
// (Jina, Xinference, vLLM, SiliconFlow, TEI-compatible gateways). Safe for concurrent use.
type Reranker struct {
	http     httpDoer
	endpoint string
	apiKey   string
	model    string
	topN     int
	timeout  time.Duration
	retry    *retrier
}

type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// NewReranker checks cfg, fills in defaults and returns a Reranker. No request is sent.
func NewReranker(cfg RerankConfig) (*Reranker, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, kb.Invalid("llm: rerank model name is required", "需要配置重排模型名称")
	}
	endpoint, err := rerankEndpoint(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRerankTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Reranker{
		http:     hintingDoer{next: hc},
		endpoint: endpoint,
		apiKey:   cfg.APIKey,
		model:    cfg.Model,
		topN:     max(cfg.TopN, 0),
		timeout:  cfg.Timeout,
		retry:    newRetrier("rerank", cfg.Model, cfg.RetryConfig, loggerOr(cfg.Logger)).hiding(cfg.APIKey),
	}, nil
}

// rerankEndpoint: ".../rerank" or ".../reranks" is used as given, ".../v1" gets "/rerank",
// anything else gets "/v1/rerank".
func rerankEndpoint(base string) (string, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", kb.Invalid(fmt.Sprintf("llm: rerank base URL %q is not an http(s) URL", base), "重排服务地址无效")
	}
	switch {
	case strings.HasSuffix(u.Path, "/rerank"), strings.HasSuffix(u.Path, "/reranks"):
		return base, nil
	case strings.HasSuffix(u.Path, "/v1"):
		return base + "/rerank", nil
	}
	return base + "/v1/rerank", nil
}

type rerankRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n,omitempty"`
}

type rerankItem struct {
	Index          int      `json:"index"`
	RelevanceScore *float64 `json:"relevance_score"`
	Score          *float64 `json:"score"` // some gateways use "score"
}

type rerankResponse struct {
	Results []rerankItem `json:"results"`
	// DashScope's native shape nests the results.
	Output struct {
		Results []rerankItem `json:"results"`
	} `json:"output"`
}

// Rerank scores docs against query and returns them best first, at most TopN. No docs means
// no request and no results. A result whose index is not one of docs is an error.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []string) ([]RerankResult, error) {
	if len(docs) == 0 {
		return []RerankResult{}, nil
	}
	topN := len(docs)
	if r.topN > 0 {
		topN = min(r.topN, len(docs))
	}
	body, err := json.Marshal(rerankRequest{Model: r.model, Query: query, Documents: docs, TopN: topN})
	if err != nil {
		return nil, fmt.Errorf("llm: rerank: encode request: %w", err)
	}
	var resp rerankResponse
	err = r.retry.do(ctx, func(ctx context.Context) error {
		return withTimeout(ctx, r.timeout, func(ctx context.Context) error {
			resp = rerankResponse{}
			return r.post(ctx, body, &resp)
		})
	})
	if err != nil {
		return nil, err
	}
	items := resp.Results
	if len(items) == 0 {
		items = resp.Output.Results
	}
	out := make([]RerankResult, 0, len(items))
	seen := make(map[int]bool, len(items))
	for _, it := range items {
		if it.Index < 0 || it.Index >= len(docs) || seen[it.Index] {
			return nil, r.badResponse(fmt.Sprintf("result index %d is out of range or repeated for %d documents", it.Index, len(docs)))
		}
		seen[it.Index] = true
		score := it.RelevanceScore
		if score == nil {
			score = it.Score
		}
		if score == nil {
			return nil, r.badResponse(fmt.Sprintf("result for document %d has no relevance_score", it.Index))
		}
		out = append(out, RerankResult{Index: it.Index, Score: *score})
	}
	slices.SortStableFunc(out, func(a, b RerankResult) int { return cmp.Compare(b.Score, a.Score) })
	if len(out) > topN {
		out = out[:topN]
	}
	return out, nil
}

func (r *Reranker) badResponse(msg string) error {
	return &Error{Op: "rerank", Model: r.model, Message: msg, Err: fmt.Errorf("%s", msg), Attempts: 1}
}

func (r *Reranker) post(ctx context.Context, body []byte, into *rerankResponse) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if r.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.apiKey)
	}
	res, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxRerankResponse))
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		return &statusError{status: res.StatusCode, message: providerMessage(data)}
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decode rerank response: %w", err)
	}
	return nil
}

// providerMessage digs the human part out of the error bodies rerank servers send:
// {"error":{"message":…}}, {"error":"…"}, {"detail":"…"}, {"message":…} or plain text.
func providerMessage(body []byte) string {
	var shape struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &shape) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(shape.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case json.Unmarshal(shape.Error, &s) == nil && s != "":
			return s
		case json.Unmarshal(shape.Detail, &s) == nil && s != "":
			return s
		case len(shape.Detail) > 0:
			return string(shape.Detail)
		case shape.Message != "":
			return shape.Message
		}
	}
	return strings.TrimSpace(string(body))
}
