// Package llmtest runs a local fake of an OpenAI-compatible provider for tests:
// /v1/chat/completions, plain and streamed, answering what the test's function says, and,
// when asked, /v1/embeddings with deterministic vectors; so generation, rewriting, embedding,
// timeouts, rate limits and prompt handling are tested over the real wire format without a
// network.
package llmtest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Message is one chat message as the fake received it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one chat request as the fake received it.
type Request struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	Stream   bool      `json:"stream"`
}

// Last returns the content of the last message.
func (r Request) Last() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// System returns the content of the system messages, joined.
func (r Request) System() string {
	var b []string
	for _, m := range r.Messages {
		if m.Role == "system" {
			b = append(b, m.Content)
		}
	}
	return strings.Join(b, "\n")
}

// All returns every message's content, joined.
func (r Request) All() string {
	var b []string
	for _, m := range r.Messages {
		b = append(b, m.Content)
	}
	return strings.Join(b, "\n")
}

// Reply is what the fake answers: Text (streamed in pieces of a few characters), after
// Delay; a Status ≥ 400 answers an OpenAI-shaped error instead.
type Reply struct {
	Text   string
	Delay  time.Duration
	Status int
}

// Server is the fake endpoint. URL + "/v1" is its base URL.
type Server struct {
	*httptest.Server
	reply func(Request) Reply

	mu       sync.Mutex
	requests []Request

	abandoned int // requests whose client hung up while the fake held them back

	embedDim   int
	embedFault func(n int, inputs []string) Reply
	embedCalls int
}

// NewServer starts a fake answering each request with reply; it stops with the test.
func NewServer(t testing.TB, reply func(Request) Reply) *Server {
	t.Helper()
	s := &Server{reply: reply}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the OpenAI-style base URL (with /v1).
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Embeddings makes the fake serve /v1/embeddings: each text gets a unit vector of dim
// numbers, its character bigrams hashed, so texts sharing words are close. fault, when not
// nil, is asked before the nth request (from 1), with its texts, and may fail it: a Status
// ≥ 400 answers an OpenAI-shaped error, a Delay holds the answer back (until the client
// hangs up).
func (s *Server) Embeddings(dim int, fault func(n int, inputs []string) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedDim, s.embedFault = dim, fault
}

// EmbedRequests is how many embeddings requests arrived, failed ones included.
func (s *Server) EmbedRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embedCalls
}

// Vector is the fake's embedding of text (what /v1/embeddings answers for it).
func Vector(text string, dim int) []float64 {
	v := make([]float64, dim)
	rs := []rune(text)
	for j := 0; j+1 < len(rs); j++ {
		h := sha256.Sum256([]byte(string(rs[j : j+2])))
		v[(int(h[0])<<8|int(h[1]))%dim] += 1
	}
	if len(rs) == 1 {
		v[0] = 1
	}
	norm := 0.0
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	for i := range v {
		v[i] /= math.Sqrt(norm)
	}
	return v
}

// Abandoned is how many requests (chat or embeddings) the client gave up on while the fake
// held them back: a caller that stopped waiting, as a deadline makes it.
func (s *Server) Abandoned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abandoned
}

// hold waits d, or until the client hangs up (then it counts the request abandoned and
// returns false).
func (s *Server) hold(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		s.mu.Lock()
		s.abandoned++
		s.mu.Unlock()
		return false
	}
}

func (s *Server) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.embedCalls++
	n, dim, fault := s.embedCalls, s.embedDim, s.embedFault
	s.mu.Unlock()
	var rep Reply
	if fault != nil {
		rep = fault(n, req.Input)
	}
	if !s.hold(r, rep.Delay) {
		return
	}
	if rep.Status >= 400 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		fmt.Fprintf(w, `{"error":{"message":"fake failure","type":"server_error","code":null}}`)
		return
	}
	data := make([]map[string]any, len(req.Input))
	for i, text := range req.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": Vector(text, dim)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	embeds := s.embedDim > 0
	s.mu.Unlock()
	if r.URL.Path == "/v1/embeddings" && embeds {
		s.serveEmbeddings(w, r)
		return
	}
	if r.URL.Path != "/v1/chat/completions" || s.reply == nil {
		http.NotFound(w, r)
		return
	}
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	rep := s.reply(req)
	if !s.hold(r, rep.Delay) {
		return
	}
	if rep.Status >= 400 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		fmt.Fprintf(w, `{"error":{"message":"fake failure","type":"server_error","code":null}}`)
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": rep.Text}}},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	send := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": time.Now().Unix(),
			"model": req.Model, "choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	for _, p := range pieces(rep.Text, 4) {
		send(map[string]any{"content": p}, nil)
	}
	send(map[string]any{}, "stop")
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// pieces splits s into pieces of n runes.
func pieces(s string, n int) []string {
	var out []string
	for s != "" {
		i, k := 0, 0
		for i < len(s) && k < n {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			k++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}
