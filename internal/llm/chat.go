package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/zhiku/zhiku/internal/kb"
)

// Chat defaults.
const (
	// DefaultChatTemperature keeps answers close to the retrieved text.
	DefaultChatTemperature = 0.2
	// DefaultChatTimeout bounds a whole Complete attempt, and for Stream the wait for the
	// response to start and for each chunk after it.
	DefaultChatTimeout = 120 * time.Second
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a conversation sent to the chat model.
type Message struct {
	Role    string `json:"role"` // RoleSystem, RoleUser or RoleAssistant
	Content string `json:"content"`
}

// ChatConfig configures a Chat. Only Model is required.
type ChatConfig struct {
	// BaseURL of the OpenAI-compatible API, e.g. https://api.deepseek.com/v1. A bare host gets
	// /v1. Defaults to DefaultBaseURL (OpenAI).
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none.
	APIKey string
	// Model names the chat model, e.g. deepseek-chat, qwen-plus. Required.
	Model string
	// Temperature of sampling. 0 means DefaultChatTemperature (0.2); a negative value leaves
	// the provider's own default (the field is not sent), which OpenAI's o-series reasoning
	// models require.
	Temperature float32
	// MaxTokens caps the answer's length ("max_tokens"). 0 leaves the provider's default.
	MaxTokens int
	// Timeout: see DefaultChatTimeout (120 s).
	Timeout time.Duration
	// RetryConfig sets retries of the initial request; a stream is never retried once it has
	// started. See its fields for defaults.
	RetryConfig
	// HTTPClient replaces the default http.Client (no client-wide timeout).
	HTTPClient *http.Client
	// Logger receives retry warnings. Defaults to discarding them.
	Logger *slog.Logger
}

// Chat sends conversations to an OpenAI-compatible /chat/completions endpoint. It is safe for
// concurrent use.
type Chat struct {
	client      *openai.Client
	model       string
	temperature float32
	maxTokens   int
	timeout     time.Duration
	retry       *retrier
	streamRetry *retrier
}

// NewChat checks cfg, fills in defaults and returns a Chat. No request is sent.
func NewChat(cfg ChatConfig) (*Chat, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, kb.Invalid("llm: chat model name is required", "需要配置对话模型名称")
	}
	switch {
	case cfg.Temperature == 0:
		cfg.Temperature = DefaultChatTemperature
	case cfg.Temperature < 0:
		cfg.Temperature = 0 // go-openai omits a zero temperature
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultChatTimeout
	}
	logger := loggerOr(cfg.Logger)
	return &Chat{
		client:      newOpenAIClient(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient),
		model:       cfg.Model,
		temperature: cfg.Temperature,
		maxTokens:   max(cfg.MaxTokens, 0),
		timeout:     cfg.Timeout,
		retry:       newRetrier("chat", cfg.Model, cfg.RetryConfig, logger).hiding(cfg.APIKey),
		streamRetry: newRetrier("chat stream", cfg.Model, cfg.RetryConfig, logger).hiding(cfg.APIKey),
	}, nil
}

// Model returns the chat model name.
func (c *Chat) Model() string { return c.model }

func (c *Chat) request(msgs []Message) (openai.ChatCompletionRequest, error) {
	if len(msgs) == 0 {
		return openai.ChatCompletionRequest{}, kb.Invalid("llm: chat needs at least one message", "对话消息不能为空")
	}
	out := make([]openai.ChatCompletionMessage, len(msgs))
	for i, m := range msgs {
		out[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	return openai.ChatCompletionRequest{
		Model:       c.model,
		Messages:    out,
		Temperature: c.temperature,
		MaxTokens:   c.maxTokens,
	}, nil
}

// Complete sends msgs and returns the model's whole answer.
func (c *Chat) Complete(ctx context.Context, msgs []Message) (string, error) {
	req, err := c.request(msgs)
	if err != nil {
		return "", err
	}
	var resp openai.ChatCompletionResponse
	err = c.retry.do(ctx, func(ctx context.Context) error {
		return withTimeout(ctx, c.timeout, func(ctx context.Context) error {
			var err error
			resp, err = c.client.CreateChatCompletion(ctx, req)
			return err
		})
	})
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 {
		err := kb.Plain("provider returned no choices", "模型没有返回回答")
		return "", &Error{Op: "chat", Model: c.model, Message: err.Error(), Err: err, Attempts: 1}
	}
	return resp.Choices[0].Message.Content, nil
}

// errStreamIdle ends a stream whose next chunk took longer than Timeout.
var errStreamIdle = fmt.Errorf("%w: no data from the stream", errTimeout)

// Stream sends msgs with streaming on, calls onDelta with each piece of answer text as it
// arrives, and returns the whole text. An error from onDelta stops the stream and is returned
// as is. On a failure mid-stream the text received so far is returned with the error.
// Only the initial request is retried; reasoning text (DeepSeek's reasoning_content) is skipped.
func (c *Chat) Stream(ctx context.Context, msgs []Message, onDelta func(string) error) (string, error) {
	req, err := c.request(msgs)
	if err != nil {
		return "", err
	}
	var (
		stream *openai.ChatCompletionStream
		sctx   context.Context
		cancel context.CancelCauseFunc
		idle   *time.Timer
	)
	err = c.streamRetry.do(ctx, func(actx context.Context) error {
		sctx, cancel = context.WithCancelCause(actx)
		idle = time.AfterFunc(c.timeout, func() { cancel(errStreamIdle) })
		var err error
		stream, err = c.client.CreateChatCompletionStream(sctx, req)
		if err != nil {
			idle.Stop()
			cause := context.Cause(sctx)
			cancel(nil)
			if errors.Is(cause, errStreamIdle) {
				return fmt.Errorf("%w: %w", errStreamIdle, err)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	defer func() {
		idle.Stop()
		cancel(nil)
		stream.Close()
	}()

	var text strings.Builder
	for {
		idle.Reset(c.timeout)
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return text.String(), nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return text.String(), fmt.Errorf("llm: chat stream: %w", context.Cause(ctx))
			}
			if errors.Is(context.Cause(sctx), errStreamIdle) {
				err = fmt.Errorf("%w: %w", errStreamIdle, err)
			}
			e := c.streamRetry.classify(err)
			e.Attempts = 1
			return text.String(), e
		}
		if len(chunk.Choices) == 0 {
			continue // e.g. a final usage-only chunk
		}
		delta := chunk.Choices[0].Delta.Content
		if delta == "" {
			continue
		}
		text.WriteString(delta)
		if err := onDelta(delta); err != nil {
			return text.String(), err
		}
	}
}
