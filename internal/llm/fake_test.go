package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"
)

// embedCall is one embeddings request as the fake provider saw it.
type embedCall struct {
	Input          []string        `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     json.RawMessage `json:"dimensions"`
	Auth           string          `json:"-"`
}

// fakeEmbedServer speaks the OpenAI embeddings wire format. Each vector starts with the number
// found in its input text ("doc 17" → 17), so tests can check the order of results.
type fakeEmbedServer struct {
	*httptest.Server
	dim int
	// answerAs forces the response encoding ("float" or "base64"); empty follows the request.
	answerAs string
	// before runs first and may write a response itself (returning true) to fail the request.
	before func(n int, w http.ResponseWriter, r *http.Request) bool

	requests atomic.Int64
	mu       sync.Mutex
	calls    []embedCall
}

func newFakeEmbedServer(t testing.TB, dim int, opts ...func(*fakeEmbedServer)) *fakeEmbedServer {
	t.Helper()
	f := &fakeEmbedServer{dim: dim}
	for _, o := range opts {
		o(f)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEmbedServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.requests.Add(1))
	if r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"no route `+r.URL.Path+`"}}`, http.StatusNotFound)
		return
	}
	// Read the body first: only then does the server notice a client hanging up, which the
	// handlers that block on r.Context() rely on.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if f.before != nil && f.before(n, w, r) {
		return
	}
	var call embedCall
	if err := json.Unmarshal(body, &call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call.Auth = r.Header.Get("Authorization")
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	format := f.answerAs
	if format == "" {
		format = call.EncodingFormat
	}
	data := make([]map[string]any, len(call.Input))
	// Answer in reverse order, as the index field allows, to prove the client reorders.
	for i, text := range call.Input {
		vec := vectorFor(text, f.dim)
		var emb any = vec
		if format == EncodingBase64 {
			emb = encodeBase64(vec)
		}
		data[len(call.Input)-1-i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "model": call.Model, "data": data,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1},
	})
}

func (f *fakeEmbedServer) recorded() []embedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]embedCall(nil), f.calls...)
}

// vectorFor: first component is the last number in text, the rest a fixed ramp.
func vectorFor(text string, dim int) []float32 {
	v := make([]float32, dim)
	fields := strings.Fields(text)
	if len(fields) > 0 {
		if n, err := strconv.Atoi(fields[len(fields)-1]); err == nil {
			v[0] = float32(n)
		}
	}
	for i := 1; i < dim; i++ {
		v[i] = float32(i) / float32(dim)
	}
	return v
}

func encodeBase64(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

func docs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("doc %d", i)
	}
	return out
}

// writeOpenAIError writes an error the way OpenAI does.
func writeOpenAIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": code},
	})
}

// waitRecorder replaces the retrier's sleep: it records each wait and returns at once.
type waitRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitRecorder) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waitRecorder) recorded() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

// tinyRetry keeps real waits negligible.
var tinyRetry = RetryConfig{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func newTestEmbedder(t testing.TB, cfg EmbedderConfig) *Embedder {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "test-embed"
	}
	if cfg.RetryConfig == (RetryConfig{}) {
		cfg.RetryConfig = tinyRetry
	}
	// Queries follow the documents' policy here unless a test sets the query policy, so
	// tests of retries may use either call (query_policy_test.go tests the difference).
	if cfg.QueryRetries == 0 {
		cfg.QueryRetries = cmp.Or(cfg.MaxRetries, DefaultMaxRetries)
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = cfg.Timeout
	}
	if cfg.QueryCooldown == 0 {
		cfg.QueryCooldown = -1
	}
	e, err := NewEmbedder(cfg)
	require.NoError(t, err)
	return e
}

type openaiEmbedding = openai.Embedding

// readBody returns the request body and leaves it readable again.
func readBody(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// waitForHangUp blocks a fake handler until the client gives up on the request, or 10 s at
// most, so a missed disconnect fails a test instead of hanging the whole run.
func waitForHangUp(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}
