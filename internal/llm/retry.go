package llm

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults shared by the three clients.
const (
	// DefaultMaxRetries is how many times a failed request is tried again (so 4 attempts).
	DefaultMaxRetries = 3
	// DefaultBaseBackoff is the wait before the first retry; it doubles with each retry.
	DefaultBaseBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps any single wait, Retry-After included.
	DefaultMaxBackoff = 20 * time.Second
	// DefaultBaseURL is used when a config leaves BaseURL empty.
	DefaultBaseURL = "https://api.openai.com/v1"
)

// RetryConfig is embedded in every client config.
type RetryConfig struct {
	// MaxRetries is how many times a transient failure is retried. 0 means DefaultMaxRetries (3);
	// a negative value turns retries off.
	MaxRetries int
	// BaseBackoff is the first retry's wait before jitter; each later retry doubles it.
	// Defaults to DefaultBaseBackoff (500 ms).
	BaseBackoff time.Duration
	// MaxBackoff caps one wait, including one asked for by Retry-After.
	// Defaults to DefaultMaxBackoff (20 s).
	MaxBackoff time.Duration
}

// retrier runs one logical call with the retry policy.
type retrier struct {
	op, model  string
	maxRetries int
	base, max  time.Duration
	logger     *slog.Logger
	secret     string // the API key, cut out of provider messages (hiding)
	// sleep waits d or until ctx ends; tests replace it to record the waits.
	sleep func(ctx context.Context, d time.Duration) error
}

func newRetrier(op, model string, c RetryConfig, logger *slog.Logger) *retrier {
	r := &retrier{op: op, model: model, maxRetries: c.MaxRetries, base: c.BaseBackoff, max: c.MaxBackoff,
		logger: logger, sleep: sleepCtx}
	switch {
	case r.maxRetries == 0:
		r.maxRetries = DefaultMaxRetries
	case r.maxRetries < 0:
		r.maxRetries = 0
	}
	if r.base <= 0 {
		r.base = DefaultBaseBackoff
	}
	if r.max <= 0 {
		r.max = DefaultMaxBackoff
	}
	if r.max < r.base {
		r.max = r.base
	}
	return r
}

// hiding makes the retrier cut key out of every provider message it logs or returns: a
// provider that refuses a key may quote it ("Incorrect API key provided: sk-…"), and the
// message reaches logs, job errors and API responses.
func (r *retrier) hiding(key string) *retrier {
	r.secret = key
	return r
}

// classify is the package's classify with the key cut out of the message.
func (r *retrier) classify(err error) *Error {
	e := classify(r.op, r.model, err)
	if r.secret != "" {
		e.Message = strings.ReplaceAll(e.Message, r.secret, "[redacted]")
	}
	return e
}

// do calls attempt until it succeeds, fails permanently, runs out of retries or ctx ends.
// Each attempt gets a context carrying a fresh retryHint for the transport to fill in.
func (r *retrier) do(ctx context.Context, attempt func(ctx context.Context) error) error {
	for n := 0; ; n++ {
		hint := &retryHint{}
		err := attempt(context.WithValue(ctx, retryHintKey{}, hint))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// The caller gave up (or a sibling batch failed): report that, not the symptom.
			return fmt.Errorf("llm: %s: %w", r.op, context.Cause(ctx))
		}
		e := r.classify(err)
		e.Attempts = n + 1
		if !e.Transient || n >= r.maxRetries {
			return e
		}
		wait := r.backoff(n, hint.get())
		r.logger.Warn("model provider call failed, retrying",
			"op", r.op, "model", r.model, "attempt", n+1, "status", e.StatusCode,
			"error", e.Message, "wait", wait)
		if err := r.sleep(ctx, wait); err != nil {
			return fmt.Errorf("llm: %s: %w", r.op, err)
		}
	}
}

// backoff is base·2ⁿ with "equal jitter" (a random point in its upper half), capped at max.
// A server's Retry-After wins over the computed value, capped the same way.
func (r *retrier) backoff(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, r.max)
	}
	d := r.base << min(n, 30)
	if d <= 0 || d > r.max {
		d = r.max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// retryHint carries a Retry-After value from the transport, which sees response headers,
// back to the retrier, which go-openai's errors would otherwise hide it from.
type retryHint struct {
	mu sync.Mutex
	d  time.Duration
}

type retryHintKey struct{}

func (h *retryHint) set(d time.Duration) {
	h.mu.Lock()
	h.d = d
	h.mu.Unlock()
}

func (h *retryHint) get() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.d
}

// hintingDoer wraps the HTTP client and records Retry-After of failed responses.
type hintingDoer struct{ next openai.HTTPDoer }

func (d hintingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.next.Do(req)
	if err == nil && resp.StatusCode >= 400 {
		if h, ok := req.Context().Value(retryHintKey{}).(*retryHint); ok {
			h.set(parseRetryAfter(resp.Header, time.Now()))
		}
	}
	return resp, err
}

// parseRetryAfter reads OpenAI's retry-after-ms, then the standard Retry-After in seconds or
// as an HTTP date. It returns 0 when there is no usable value.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
