package llm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// newOpenAIClient builds a go-openai client whose transport reports Retry-After to the retrier.
func newOpenAIClient(baseURL, apiKey string, hc *http.Client) *openai.Client {
	cfg := openai.DefaultConfig(apiKey)
	cfg.BaseURL = normalizeOpenAIBase(baseURL)
	if hc == nil {
		// No client-wide timeout: each attempt carries its own deadline, and streams must
		// be allowed to run longer than one.
		hc = &http.Client{}
	}
	cfg.HTTPClient = hintingDoer{next: hc}
	return openai.NewClientWithConfig(cfg)
}

// normalizeOpenAIBase accepts what operators paste: a bare host ("http://localhost:11434"
// gets /v1, as Ollama and vLLM serve there), a trailing slash, or a full endpoint URL.
func normalizeOpenAIBase(base string) string {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if base == "" {
		return DefaultBaseURL
	}
	for _, suffix := range []string{"/embeddings", "/chat/completions"} {
		base = strings.TrimSuffix(base, suffix)
	}
	if u, err := url.Parse(base); err == nil && u.Host != "" && (u.Path == "" || u.Path == "/") {
		base += "/v1"
	}
	return base
}

// withTimeout runs f under a per-attempt deadline and reports that deadline, rather than the
// transport's "context deadline exceeded", when it is what ended the attempt.
func withTimeout(ctx context.Context, d time.Duration, f func(ctx context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(actx)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("%w (timeout %s): %w", errTimeout, d, err)
	}
	return err
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "llm")
}
