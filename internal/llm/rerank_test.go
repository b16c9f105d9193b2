package llm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

type rerankCall struct {
	Path      string
	Auth      string
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      *int     `json:"top_n"`
}

// newFakeRerankServer records each call and answers with body (a JSON string) or status.
func newFakeRerankServer(t *testing.T, respond func(n int, call rerankCall, w http.ResponseWriter)) (*httptest.Server, *atomic.Int64, chan rerankCall) {
	t.Helper()
	var requests atomic.Int64
	calls := make(chan rerankCall, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(requests.Add(1))
		body, _ := io.ReadAll(r.Body)
		var call rerankCall
		if err := json.Unmarshal(body, &call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		call.Path, call.Auth = r.URL.Path, r.Header.Get("Authorization")
		calls <- call
		respond(n, call, w)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests, calls
}

var rerankDocs = []string{"运费说明", "七天无理由退货", "会员积分", "退货运费谁出"}

func TestRerank(t *testing.T) {
	t.Parallel()

	t.Run("SortsByScore", func(t *testing.T) {
		t.Parallel()
		srv, _, calls := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"id":"r1","results":[
				{"index":0,"relevance_score":0.10},
				{"index":3,"relevance_score":0.62,"document":{"text":"退货运费谁出"}},
				{"index":2,"relevance_score":0.01},
				{"index":1,"relevance_score":0.97}]}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, APIKey: "k", Model: "bge-reranker-v2-m3"})
		require.NoError(t, err)

		got, err := r.Rerank(context.Background(), "怎么退货", rerankDocs)
		require.NoError(t, err)
		require.Equal(t, []RerankResult{{1, 0.97}, {3, 0.62}, {0, 0.10}, {2, 0.01}}, got)
		call := <-calls
		require.Equal(t, "/v1/rerank", call.Path)
		require.Equal(t, "Bearer k", call.Auth)
		require.Equal(t, "bge-reranker-v2-m3", call.Model)
		require.Equal(t, "怎么退货", call.Query)
		require.Equal(t, rerankDocs, call.Documents)
		require.NotNil(t, call.TopN)
		require.Equal(t, 4, *call.TopN)
	})

	t.Run("TopNAndV1BaseURL", func(t *testing.T) {
		t.Parallel()
		srv, _, calls := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			// A server that ignores top_n: the client still cuts to TopN.
			_, _ = io.WriteString(w, `{"results":[{"index":2,"relevance_score":0.3},{"index":0,"relevance_score":0.9},{"index":1,"relevance_score":0.5}]}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL + "/v1/", Model: "m", TopN: 2})
		require.NoError(t, err)

		got, err := r.Rerank(context.Background(), "q", rerankDocs[:3])
		require.NoError(t, err)
		require.Equal(t, []RerankResult{{0, 0.9}, {1, 0.5}}, got)
		call := <-calls
		require.Equal(t, "/v1/rerank", call.Path)
		require.Equal(t, 2, *call.TopN)
		require.Empty(t, call.Auth)
	})

	t.Run("DashScopeShapeAndScoreField", func(t *testing.T) {
		t.Parallel()
		srv, _, _ := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"output":{"results":[{"index":1,"relevance_score":0.4},{"index":0,"score":0.8}]}}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL + "/compatible-api/v1/reranks", Model: "gte-rerank"})
		require.NoError(t, err)

		got, err := r.Rerank(context.Background(), "q", rerankDocs[:2])
		require.NoError(t, err)
		require.Equal(t, []RerankResult{{0, 0.8}, {1, 0.4}}, got)
	})

	t.Run("OutOfRangeIndexIsAnError", func(t *testing.T) {
		t.Parallel()
		srv, _, _ := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"results":[{"index":0,"relevance_score":0.9},{"index":7,"relevance_score":0.8}]}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "m"})
		require.NoError(t, err)

		_, err = r.Rerank(context.Background(), "q", rerankDocs[:2])
		require.ErrorContains(t, err, "index 7 is out of range")
		require.False(t, IsTransient(err))
	})

	t.Run("RepeatedIndexIsAnError", func(t *testing.T) {
		t.Parallel()
		srv, _, _ := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"results":[{"index":1,"relevance_score":0.9},{"index":1,"relevance_score":0.8}]}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "m"})
		require.NoError(t, err)

		_, err = r.Rerank(context.Background(), "q", rerankDocs[:2])
		require.ErrorContains(t, err, "repeated")
	})

	t.Run("NoDocsNoRequest", func(t *testing.T) {
		t.Parallel()
		srv, requests, _ := newFakeRerankServer(t, func(int, rerankCall, http.ResponseWriter) {})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "m"})
		require.NoError(t, err)

		got, err := r.Rerank(context.Background(), "q", nil)
		require.NoError(t, err)
		require.Empty(t, got)
		require.Zero(t, requests.Load())
	})

	t.Run("RetriesUnavailableThenSucceeds", func(t *testing.T) {
		t.Parallel()
		srv, requests, _ := newFakeRerankServer(t, func(n int, _ rerankCall, w http.ResponseWriter) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"results":[{"index":0,"relevance_score":0.5}]}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "m", RetryConfig: tinyRetry})
		require.NoError(t, err)

		got, err := r.Rerank(context.Background(), "q", rerankDocs[:1])
		require.NoError(t, err)
		require.Equal(t, []RerankResult{{0, 0.5}}, got)
		require.EqualValues(t, 2, requests.Load())
	})

	t.Run("NoRetryOn401", func(t *testing.T) {
		t.Parallel()
		srv, requests, _ := newFakeRerankServer(t, func(_ int, _ rerankCall, w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"detail":"Invalid API key"}`)
		})
		r, err := NewReranker(RerankConfig{BaseURL: srv.URL, Model: "m", RetryConfig: tinyRetry})
		require.NoError(t, err)

		_, err = r.Rerank(context.Background(), "q", rerankDocs[:1])
		require.ErrorContains(t, err, "HTTP 401")
		require.ErrorContains(t, err, "Invalid API key")
		require.False(t, IsTransient(err))
		require.EqualValues(t, 1, requests.Load())
	})

	t.Run("ConfigChecked", func(t *testing.T) {
		t.Parallel()
		_, err := NewReranker(RerankConfig{BaseURL: "http://x"})
		require.ErrorIs(t, err, kb.ErrInvalid)
		_, err = NewReranker(RerankConfig{BaseURL: "localhost:9997", Model: "m"})
		require.ErrorIs(t, err, kb.ErrInvalid)
	})
}

func TestRerankEndpoint(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://localhost:9997":               "http://localhost:9997/v1/rerank",
		"http://localhost:9997/":              "http://localhost:9997/v1/rerank",
		"https://api.siliconflow.cn/v1":       "https://api.siliconflow.cn/v1/rerank",
		"https://api.jina.ai/v1/":             "https://api.jina.ai/v1/rerank",
		"http://vllm:8000/v1/rerank":          "http://vllm:8000/v1/rerank",
		"http://gw/compatible-api/v1/reranks": "http://gw/compatible-api/v1/reranks",
		" http://host/prefix ":                "http://host/prefix/v1/rerank",
	} {
		got, err := rerankEndpoint(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestNormalizeOpenAIBase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                           DefaultBaseURL,
		"http://localhost:11434":     "http://localhost:11434/v1",
		"http://localhost:11434/v1/": "http://localhost:11434/v1",
		"https://dashscope.aliyuncs.com/compatible-mode/v1": "https://dashscope.aliyuncs.com/compatible-mode/v1",
		"https://api.deepseek.com/v1/chat/completions":      "https://api.deepseek.com/v1",
		"https://api.openai.com/v1/embeddings":              "https://api.openai.com/v1",
	} {
		require.Equal(t, want, normalizeOpenAIBase(in), in)
	}
}
