package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/sync/errgroup"

	"github.com/zhiku/zhiku/internal/kb"
)

// Embedder defaults.
const (
	// DefaultEmbedBatchSize is how many texts go into one request. DashScope (Qwen) accepts at
	// most 10 inputs a request; OpenAI, Ollama and vLLM accept far more.
	DefaultEmbedBatchSize = 10
	// DefaultEmbedConcurrency is how many batch requests may be in flight at once.
	DefaultEmbedConcurrency = 4
	// DefaultEmbedTimeout bounds one embeddings request (one attempt).
	DefaultEmbedTimeout = 60 * time.Second
	// DefaultQueryTimeout bounds one attempt to embed a query: a customer is waiting, and a
	// search can answer from its text leg alone.
	DefaultQueryTimeout = 5 * time.Second
	// DefaultQueryRetries is how often a query's embedding is retried (so 2 attempts).
	DefaultQueryRetries = 1
	// DefaultQueryCooldown is how long queries skip a provider that just failed them.
	DefaultQueryCooldown = 10 * time.Second
)

// Encoding formats an embeddings request may ask for.
const (
	EncodingFloat  = "float"
	EncodingBase64 = "base64"
)

// EmbedderConfig configures an Embedder. Only Model is required.
type EmbedderConfig struct {
	// BaseURL of the OpenAI-compatible API, e.g. https://dashscope.aliyuncs.com/compatible-mode/v1
	// or http://localhost:11434/v1. A bare host gets /v1. Defaults to DefaultBaseURL (OpenAI).
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (local Ollama, vLLM).
	APIKey string
	// Model names the embedding model, e.g. text-embedding-v3, bge-m3. Required.
	Model string
	// Dimension every returned vector must have. 0 means the first response fixes it.
	Dimension int
	// SendDimensions sends Dimension as the request's "dimensions" field, for models that can
	// shorten their output (OpenAI text-embedding-3-*, DashScope text-embedding-v3/v4). Off by
	// default, because older models reject the field and some servers silently ignore it.
	SendDimensions bool
	// EncodingFormat is EncodingFloat (the default) or EncodingBase64, which is about a quarter
	// smaller on the wire. If the provider answers in the other format, the embedder switches.
	EncodingFormat string
	// QueryPrefix and DocumentPrefix are prepended to queries and documents, for models
	// trained with instructions (e5: "query: ", "passage: "). Both default to empty.
	QueryPrefix, DocumentPrefix string
	// BatchSize is the number of texts a request carries. Defaults to DefaultEmbedBatchSize (10).
	BatchSize int
	// Concurrency bounds batch requests in flight. Defaults to DefaultEmbedConcurrency (4).
	Concurrency int
	// Timeout bounds each request attempt. Defaults to DefaultEmbedTimeout (60 s).
	Timeout time.Duration
	// RetryConfig sets retries and backoff; see its fields for defaults.
	RetryConfig
	// QueryTimeout bounds each attempt of EmbedQuery. Defaults to DefaultQueryTimeout (5 s).
	QueryTimeout time.Duration
	// QueryRetries is how often EmbedQuery retries a transient failure (with RetryConfig's
	// backoff). 0 means DefaultQueryRetries (1); a negative value turns retries off.
	QueryRetries int
	// QueryCooldown: once EmbedQuery failed transiently (after its retries), later queries
	// fail at once for this long, then one query tries the provider again; so an outage costs
	// searches their vector leg, not seconds each. 0 means DefaultQueryCooldown (10 s); a
	// negative value turns it off.
	QueryCooldown time.Duration
	// HTTPClient replaces the default http.Client (no client-wide timeout).
	HTTPClient *http.Client
	// Logger receives retry warnings. Defaults to discarding them.
	Logger *slog.Logger
}

// Embedder turns texts into vectors through an OpenAI-compatible /embeddings endpoint. It is
// safe for concurrent use.
type Embedder struct {
	client         *openai.Client
	model          string
	sendDims       bool
	configuredDim  int
	dim            atomic.Int64 // configuredDim, or the first dimension seen
	format         atomic.Value // string: the encoding format currently requested
	queryPrefix    string
	docPrefix      string
	batchSize      int
	concurrency    int
	timeout        time.Duration
	retry          *retrier
	queryTimeout   time.Duration
	queryRetry     *retrier
	queryCooldown  *cooldown
	logger         *slog.Logger
	formatSwitched sync.Once
}

// NewEmbedder checks cfg, fills in defaults and returns an Embedder. No request is sent.
func NewEmbedder(cfg EmbedderConfig) (*Embedder, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, kb.Invalid("llm: embedding model name is required", "需要配置向量模型名称")
	}
	if cfg.Dimension < 0 {
		return nil, kb.Invalid(fmt.Sprintf("llm: embedding dimension %d is negative", cfg.Dimension), "向量维度不能为负数")
	}
	if cfg.SendDimensions && cfg.Dimension == 0 {
		return nil, kb.Invalid("llm: SendDimensions needs a Dimension", "发送维度参数需要先配置向量维度")
	}
	switch cfg.EncodingFormat {
	case "":
		cfg.EncodingFormat = EncodingFloat
	case EncodingFloat, EncodingBase64:
	default:
		return nil, kb.Invalid(fmt.Sprintf("llm: embedding encoding format %q is not float or base64", cfg.EncodingFormat), "不支持的向量编码格式")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultEmbedBatchSize
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultEmbedConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEmbedTimeout
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	queryRetry := cfg.RetryConfig
	switch {
	case cfg.QueryRetries == 0:
		queryRetry.MaxRetries = DefaultQueryRetries
	default:
		queryRetry.MaxRetries = cfg.QueryRetries // negative: none, as in RetryConfig
	}
	if cfg.QueryCooldown == 0 {
		cfg.QueryCooldown = DefaultQueryCooldown
	}
	logger := loggerOr(cfg.Logger)
	e := &Embedder{
		client:        newOpenAIClient(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient),
		model:         cfg.Model,
		sendDims:      cfg.SendDimensions,
		configuredDim: cfg.Dimension,
		queryPrefix:   cfg.QueryPrefix,
		docPrefix:     cfg.DocumentPrefix,
		batchSize:     cfg.BatchSize,
		concurrency:   cfg.Concurrency,
		timeout:       cfg.Timeout,
		retry:         newRetrier("embeddings", cfg.Model, cfg.RetryConfig, logger).hiding(cfg.APIKey),
		queryTimeout:  cfg.QueryTimeout,
		queryRetry:    newRetrier("embeddings", cfg.Model, queryRetry, logger).hiding(cfg.APIKey),
		queryCooldown: &cooldown{d: cfg.QueryCooldown},
		logger:        logger,
	}
	e.dim.Store(int64(cfg.Dimension))
	e.format.Store(cfg.EncodingFormat)
	return e, nil
}

// Model returns the embedding model name, to be recorded with each chunk.
func (e *Embedder) Model() string { return e.model }

// Dimension returns the configured dimension, or the one learned from the first response;
// 0 before any response when none was configured.
func (e *Embedder) Dimension() int { return int(e.dim.Load()) }

// EmbedQuery embeds one search query (with QueryPrefix), under the query policy: shorter
// attempts, fewer retries, and a cooldown after a failure during which queries fail at once
// (an *Error, transient) instead of waiting on a provider that is down.
func (e *Embedder) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	if err := checkNotBlank([]string{q}); err != nil {
		return nil, err
	}
	probe, skip := e.queryCooldown.enter(time.Now())
	if skip != nil {
		return nil, &Error{Op: "embeddings", Model: e.model, Message: skip.Error(), Transient: true, Err: skip, Attempts: 0}
	}
	vecs, err := e.embedWith(ctx, []string{e.queryPrefix + q}, e.queryRetry, e.queryTimeout)
	e.queryCooldown.done(probe, err, time.Now())
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// EmbedDocuments embeds texts (with DocumentPrefix) in batches of BatchSize, up to Concurrency
// batches at once, and returns the vectors in the order of texts. An empty list returns an
// empty result without a request. A blank text (empty or whitespace only) is an error wrapping
// kb.ErrInvalid rather than a silently meaningless vector: providers reject empty input, and a
// vector of " " would match queries at random.
func (e *Embedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	if err := checkNotBlank(texts); err != nil {
		return nil, err
	}
	inputs := texts
	if e.docPrefix != "" {
		inputs = make([]string, len(texts))
		for i, t := range texts {
			inputs[i] = e.docPrefix + t
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.concurrency)
	for start := 0; start < len(inputs); start += e.batchSize {
		end := min(start+e.batchSize, len(inputs))
		g.Go(func() error {
			vecs, err := e.embedBatch(gctx, inputs[start:end])
			if err != nil {
				return fmt.Errorf("embed texts %d-%d of %d: %w", start, end-1, len(inputs), err)
			}
			copy(out[start:end], vecs)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("llm: embeddings: %w", context.Cause(ctx))
		}
		return nil, err
	}
	return out, nil
}

func checkNotBlank(texts []string) error {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return kb.Invalid(fmt.Sprintf("llm: text %d to embed is empty", i), fmt.Sprintf("第 %d 条待向量化文本为空", i+1))
		}
	}
	return nil
}

// embedBatch sends one request (with retries) and checks the answer's shape and dimensions.
func (e *Embedder) embedBatch(ctx context.Context, inputs []string) ([][]float32, error) {
	return e.embedWith(ctx, inputs, e.retry, e.timeout)
}

// embedWith is embedBatch under a given retry policy and attempt timeout.
func (e *Embedder) embedWith(ctx context.Context, inputs []string, retry *retrier, timeout time.Duration) ([][]float32, error) {
	var resp openai.EmbeddingResponse
	err := retry.do(ctx, func(ctx context.Context) error {
		return withTimeout(ctx, timeout, func(ctx context.Context) error {
			var err error
			resp, err = e.create(ctx, inputs)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	vecs, err := placeByIndex(resp.Data, len(inputs))
	if err != nil {
		return nil, &Error{Op: "embeddings", Model: e.model, Message: err.Error(), Err: err, Attempts: 1}
	}
	for _, v := range vecs {
		if err := e.checkDim(len(v)); err != nil {
			return nil, err
		}
	}
	return vecs, nil
}

// create sends one embeddings request. A provider that answers in the other encoding than
// asked (some ignore encoding_format), or refuses base64 outright, gets the request again in
// the other format, which is then kept for later calls.
func (e *Embedder) create(ctx context.Context, inputs []string) (openai.EmbeddingResponse, error) {
	format := e.format.Load().(string)
	resp, err := e.client.CreateEmbeddings(ctx, e.request(inputs, format))
	if err == nil || !wrongEncoding(err, format) {
		return resp, err
	}
	other := EncodingBase64
	if format == EncodingBase64 {
		other = EncodingFloat
	}
	resp, err = e.client.CreateEmbeddings(ctx, e.request(inputs, other))
	if err == nil {
		e.formatSwitched.Do(func() {
			e.format.Store(other)
			e.logger.Info("provider answered in another embedding encoding; switching",
				"model", e.model, "asked", format, "using", other)
		})
	}
	return resp, err
}

func (e *Embedder) request(inputs []string, format string) openai.EmbeddingRequestStrings {
	req := openai.EmbeddingRequestStrings{
		Input:          inputs,
		Model:          openai.EmbeddingModel(e.model),
		EncodingFormat: openai.EmbeddingEncodingFormat(format),
	}
	if e.sendDims {
		req.Dimensions = e.configuredDim
	}
	return req
}

// placeByIndex orders the vectors by their "index" field. Providers that number every item 0
// (seen in some proxies) are taken in the order sent, when the count matches.
func placeByIndex(data []openai.Embedding, n int) ([][]float32, error) {
	if len(data) != n {
		return nil, kb.Plain(fmt.Sprintf("provider returned %d embeddings for %d inputs", len(data), n), "返回的向量数量与输入数量不符")
	}
	out := make([][]float32, n)
	for _, d := range data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			// Not a permutation of 0..n-1: fall back to response order.
			for i, d := range data {
				out[i] = d.Embedding
			}
			break
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if len(v) == 0 {
			return nil, kb.Plain(fmt.Sprintf("provider returned an empty embedding for input %d", i), "返回了空向量")
		}
	}
	return out, nil
}

// checkDim enforces the configured dimension, or fixes it from the first vector seen.
func (e *Embedder) checkDim(got int) error {
	if e.dim.CompareAndSwap(0, int64(got)) {
		return nil
	}
	want := int(e.dim.Load())
	if got == want {
		return nil
	}
	what := "knowledge base dimension"
	if e.configuredDim == 0 {
		what = "dimension of earlier embeddings"
	}
	return kb.NewError(ErrDimensionMismatch, fmt.Sprintf("llm: embedding dimension %d from provider (model %s) does not match %s %d", got, e.model, what, want), fmt.Sprintf("向量维度不一致：模型返回 %d 维，应为 %d 维", got, want))
}

// wrongEncoding: go-openai could not decode the vectors as the asked format, or the provider
// answered 400 to a base64 request with a message about the encoding.
func wrongEncoding(err error, asked string) bool {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return true
	}
	if asked != EncodingBase64 {
		return false
	}
	e := classify("", "", err)
	return e.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "encoding")
}
