package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// chatCall is one chat request as the fake provider saw it.
type chatCall struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Temperature *float32  `json:"temperature"`
	MaxTokens   int       `json:"max_tokens"`
	Stream      bool      `json:"stream"`
}

// fakeChatServer answers /v1/chat/completions; respond decides per request number.
type fakeChatServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	calls    []chatCall
}

func newFakeChatServer(t *testing.T, respond func(n int, call chatCall, w http.ResponseWriter, r *http.Request)) *fakeChatServer {
	t.Helper()
	f := &fakeChatServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.requests.Add(1))
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var call chatCall
		if err := json.Unmarshal(body, &call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		f.mu.Unlock()
		respond(n, call, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeChatServer) recorded() []chatCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatCall(nil), f.calls...)
}

func writeCompletion(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "model": "test-chat",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]string{"role": "assistant", "content": content}}},
	})
}

// writeSSE streams pieces as chat.completion.chunk events and ends with [DONE]. A piece
// prefixed "think:" goes out as DeepSeek's reasoning_content.
func writeSSE(w http.ResponseWriter, pieces []string, done bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	for _, p := range pieces {
		delta := map[string]string{"content": p}
		if r, ok := strings.CutPrefix(p, "think:"); ok {
			delta = map[string]string{"reasoning_content": r}
		}
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "test-chat",
			"choices": []map[string]any{{"index": 0, "delta": delta}},
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	if done {
		fmt.Fprint(w, "data: [DONE]\n\n")
		flusher.Flush()
	}
}

func newTestChat(t *testing.T, cfg ChatConfig) *Chat {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "test-chat"
	}
	if cfg.RetryConfig == (RetryConfig{}) {
		cfg.RetryConfig = tinyRetry
	}
	c, err := NewChat(cfg)
	require.NoError(t, err)
	return c
}

var question = []Message{
	{Role: RoleSystem, Content: "只根据资料回答。"},
	{Role: RoleUser, Content: "七天无理由退货怎么申请？"},
}

func TestChatComplete(t *testing.T) {
	t.Parallel()

	t.Run("SendsRequestAndReturnsAnswer", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeCompletion(w, "在订单页点击“申请售后”。")
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL, MaxTokens: 256})

		got, err := c.Complete(context.Background(), question)
		require.NoError(t, err)
		require.Equal(t, "在订单页点击“申请售后”。", got)
		call := srv.recorded()[0]
		require.Equal(t, "test-chat", call.Model)
		require.Equal(t, question, call.Messages)
		require.NotNil(t, call.Temperature)
		require.InDelta(t, DefaultChatTemperature, *call.Temperature, 1e-6)
		require.Equal(t, 256, call.MaxTokens)
		require.False(t, call.Stream)
	})

	t.Run("NegativeTemperatureLeavesProviderDefault", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeCompletion(w, "ok")
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL, Temperature: -1})

		_, err := c.Complete(context.Background(), question)
		require.NoError(t, err)
		require.Nil(t, srv.recorded()[0].Temperature)
	})

	t.Run("RetriesServerError", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(n int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				writeOpenAIError(w, http.StatusInternalServerError, "server_error", "overloaded")
				return
			}
			writeCompletion(w, "second time lucky")
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		got, err := c.Complete(context.Background(), question)
		require.NoError(t, err)
		require.Equal(t, "second time lucky", got)
		require.EqualValues(t, 2, srv.requests.Load())
	})

	t.Run("NoChoicesIsAnError", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"id":"x","choices":[]}`)
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		_, err := c.Complete(context.Background(), question)
		require.ErrorContains(t, err, "no choices")
	})

	t.Run("NoMessagesIsInvalid", func(t *testing.T) {
		t.Parallel()
		c := newTestChat(t, ChatConfig{BaseURL: "http://127.0.0.1:1"})
		_, err := c.Complete(context.Background(), nil)
		require.ErrorIs(t, err, kb.ErrInvalid)
	})

	t.Run("ModelIsRequired", func(t *testing.T) {
		t.Parallel()
		_, err := NewChat(ChatConfig{})
		require.ErrorIs(t, err, kb.ErrInvalid)
	})
}

func TestChatStream(t *testing.T) {
	t.Parallel()

	t.Run("DeliversDeltas", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, []string{"think:用户问退货", "在订单页", "", "点击“申请售后”", "。"}, true)
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		var deltas []string
		got, err := c.Stream(context.Background(), question, func(d string) error {
			deltas = append(deltas, d)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{"在订单页", "点击“申请售后”", "。"}, deltas, "reasoning and empty deltas are skipped")
		require.Equal(t, "在订单页点击“申请售后”。", got)
		require.True(t, srv.recorded()[0].Stream)
	})

	t.Run("RetriesInitialRateLimit", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(n int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "slow down")
				return
			}
			writeSSE(w, []string{"ok"}, true)
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		got, err := c.Stream(context.Background(), question, func(string) error { return nil })
		require.NoError(t, err)
		require.Equal(t, "ok", got)
		require.EqualValues(t, 2, srv.requests.Load())
	})

	t.Run("NoRetryOn401", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeOpenAIError(w, http.StatusUnauthorized, "invalid_api_key", "Authentication Fails (no such user)")
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		_, err := c.Stream(context.Background(), question, func(string) error { return nil })
		require.ErrorContains(t, err, "HTTP 401")
		require.ErrorContains(t, err, "Authentication Fails")
		require.False(t, IsTransient(err))
		require.EqualValues(t, 1, srv.requests.Load())
	})

	t.Run("CallbackErrorStops", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, []string{"a", "b", "c"}, true)
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})
		errClientGone := errors.New("client went away")

		got, err := c.Stream(context.Background(), question, func(d string) error {
			if d == "b" {
				return errClientGone
			}
			return nil
		})
		require.ErrorIs(t, err, errClientGone)
		require.Equal(t, "ab", got)
	})

	t.Run("MidStreamErrorKeepsPartialText", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, []string{"partial "}, false)
			fmt.Fprint(w, `data: {"error":{"message":"content filtered","type":"data_inspection_failed"}}`+"\n\n")
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})

		got, err := c.Stream(context.Background(), question, func(string) error { return nil })
		require.ErrorContains(t, err, "content filtered")
		require.Equal(t, "partial ", got)
		require.EqualValues(t, 1, srv.requests.Load(), "a started stream is never retried")
	})

	t.Run("IdleStreamTimesOut", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, r *http.Request) {
			writeSSE(w, []string{"first "}, false)
			waitForHangUp(r) // then nothing more
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL, Timeout: 30 * time.Millisecond})

		got, err := c.Stream(context.Background(), question, func(string) error { return nil })
		require.Error(t, err)
		require.True(t, IsTransient(err))
		require.ErrorIs(t, err, errTimeout)
		require.Equal(t, "first ", got)
	})

	t.Run("CallerCancel", func(t *testing.T) {
		t.Parallel()
		srv := newFakeChatServer(t, func(_ int, _ chatCall, w http.ResponseWriter, r *http.Request) {
			writeSSE(w, []string{"first "}, false)
			waitForHangUp(r)
		})
		c := newTestChat(t, ChatConfig{BaseURL: srv.URL})
		ctx, cancel := context.WithCancel(context.Background())

		_, err := c.Stream(ctx, question, func(string) error { cancel(); return nil })
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, IsTransient(err))
	})
}
