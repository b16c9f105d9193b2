// Package config reads Zhiku's settings from the environment once, in main, validates them
// and passes them down; nothing else reads the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting Zhiku reads. Field comments give the variable and the default.
type Config struct {
	DatabaseURL string // DATABASE_URL; defaults to postgres://postgres@127.0.0.1:5432/zhiku?sslmode=disable
	Addr        string // ZHIKU_ADDR; defaults to :8080
	AdminKey    string // ZHIKU_ADMIN_KEY (or ZHIKU_ADMIN_KEY_FILE); bootstrap admin of the default tenant; empty disables it

	// DatabaseReadURL (DATABASE_READ_URL) is where searches and the answer pipeline's reads
	// go: streaming replicas of DATABASE_URL, usually behind a pooler or load balancer.
	// Unset: every query goes to DATABASE_URL.
	DatabaseReadURL string

	Embedder     string // ZHIKU_EMBEDDER: local (default) or openai
	EmbedBaseURL string // ZHIKU_EMBED_BASE_URL; required for openai
	EmbedAPIKey  string // ZHIKU_EMBED_API_KEY (or _FILE)
	EmbedModel   string // ZHIKU_EMBED_MODEL; required for openai
	EmbedDim     int    // ZHIKU_EMBED_DIM; required for openai; defaults to 768 for local
	// ZHIKU_EMBED_QUERY_PREFIX and ZHIKU_EMBED_DOCUMENT_PREFIX are prepended to queries and
	// documents for models trained with instructions (e5: "query: " / "passage: "; bge-zh's
	// query instruction), taken as written, spaces included.
	EmbedQueryPrefix, EmbedDocumentPrefix string

	LLMBaseURL string // ZHIKU_LLM_BASE_URL; unset means no generation
	LLMAPIKey  string // ZHIKU_LLM_API_KEY (or _FILE)
	LLMModel   string // ZHIKU_LLM_MODEL

	RerankBaseURL string // ZHIKU_RERANK_BASE_URL; unset means no reranking
	RerankAPIKey  string // ZHIKU_RERANK_API_KEY (or _FILE)
	RerankModel   string // ZHIKU_RERANK_MODEL

	LogFormat       string        // ZHIKU_LOG_FORMAT: json (default) or text
	LogLevel        string        // ZHIKU_LOG_LEVEL: debug, info (default), warn, error
	MaxBodyBytes    int64         // ZHIKU_MAX_BODY_BYTES: JSON request bodies; defaults to 1 MiB
	MaxUploadBytes  int64         // ZHIKU_MAX_UPLOAD_BYTES: uploaded files; defaults to 100 MiB
	ShutdownTimeout time.Duration // ZHIKU_SHUTDOWN_TIMEOUT: grace for in-flight requests; defaults to 20s
	MaxPages        int           // ZHIKU_MAX_PAGES: pages of one PDF; defaults to 2000
	MaxRows         int           // ZHIKU_MAX_ROWS: rows of one catalog, FAQ, records or ticket file; defaults to 200000
	KeepVersions    int           // ZHIKU_KEEP_VERSIONS: previous versions of a document kept for audit; defaults to 3
	HNSWEfSearch    int           // ZHIKU_HNSW_EF_SEARCH: HNSW candidates per vector search (recall vs speed); defaults to 100
	HNSWM           int           // ZHIKU_HNSW_M: links per node of HNSW indexes built from now on; defaults to 16
	HNSWEfConstruct int           // ZHIKU_HNSW_EF_CONSTRUCTION: candidates while building them; defaults to 64
	TextPostingsMB  int           // ZHIKU_TEXT_POSTINGS_MB: memory of the text leg's postings cache (0: off); defaults to 512
	IngestWorkers   int           // ZHIKU_INGEST_WORKERS: upload jobs this process runs at once; defaults to 2
	// RateLimit (ZHIKU_RATE_LIMIT): requests per second each API key may send, on average,
	// for keys that set no rate of their own; 0 (the default) is unlimited. 0..MaxRateLimit.
	RateLimit float64
	// LogRetentionDays (ZHIKU_LOG_RETENTION_DAYS): how many days conversation logs (the
	// answer log, its feedback, and the customer ids of gap occurrences) are kept before the
	// periodic purge deletes them; defaults to 90, 1..3650.
	LogRetentionDays int
	// Citus (ZHIKU_CITUS=1): DATABASE_URL is a Citus coordinator. `zhiku migrate` (and serve's
	// start) then distributes the per-knowledge-base tables by kb_id and makes the small
	// global ones reference tables, and the store uses one distributed chunks table instead
	// of per-knowledge-base partitions (docs/citus.md). Default off (plain PostgreSQL).
	Citus bool
}

// Defaults used when a variable is unset.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/zhiku?sslmode=disable"
	DefaultAddr        = ":8080"
	// DefaultIngestWorkers bounds concurrent upload jobs per process: parsing and embedding
	// are CPU- and provider-heavy, and searches must stay fast meanwhile.
	DefaultIngestWorkers = 2
	// DefaultLogRetentionDays keeps a quarter of conversations: enough for the weekly and
	// monthly stats and for gaps to be worked, short enough to bound personal data.
	DefaultLogRetentionDays = 90
)

// ZHIKU_EMBED_DIM: the one declaration of its default and ranges. The local embedder
// (internal/embedding) reads its bounds from here, so a dimension Validate accepts is one the
// embedder accepts; MaxEmbedDim is the documents table's CHECK (embedding_dim BETWEEN 1 AND
// 16000, migrations/00001_init.sql), which the store enforces.
const (
	// DefaultLocalDim is the local embedder's dimension when ZHIKU_EMBED_DIM is unset.
	DefaultLocalDim = 768
	// MinLocalDim and MaxLocalDim bound the local embedder: below 256 buckets its hashed
	// features collide too often; above 4096 vectors only cost space.
	MinLocalDim = 256
	MaxLocalDim = 4096
	// MaxEmbedDim bounds any provider's dimension (ZHIKU_EMBEDDER=openai): what a knowledge
	// base can record.
	MaxEmbedDim = 16000
)

// MaxRateLimit bounds ZHIKU_RATE_LIMIT as the api_keys table bounds a key's own rate
// (migrations/00019_key_expiry_rate.sql).
const MaxRateLimit = 1_000_000

// Load reads the configuration through getenv (os.Getenv in main, a map in tests) and
// validates it. The error names every bad variable.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	// secret reads NAME, or the file named by NAME_FILE (for Docker/Kubernetes secrets).
	secret := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		if path := getenv(name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		return ""
	}
	integer := func(name string, def int64) int64 {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
			return def
		}
		return n
	}
	number := func(name string, def float64) float64 {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", name, v))
			return def
		}
		return f
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration (e.g. 20s)", name, v))
			return def
		}
		return d
	}

	c := Config{
		DatabaseURL:     str("DATABASE_URL", DefaultDatabaseURL),
		DatabaseReadURL: str("DATABASE_READ_URL", ""),
		Addr:            str("ZHIKU_ADDR", DefaultAddr),
		AdminKey:        secret("ZHIKU_ADMIN_KEY"),
		Embedder:        str("ZHIKU_EMBEDDER", "local"),
		EmbedBaseURL:    str("ZHIKU_EMBED_BASE_URL", ""),
		EmbedAPIKey:     secret("ZHIKU_EMBED_API_KEY"),
		EmbedModel:      str("ZHIKU_EMBED_MODEL", ""),
		LLMBaseURL:      str("ZHIKU_LLM_BASE_URL", ""),
		LLMAPIKey:       secret("ZHIKU_LLM_API_KEY"),
		LLMModel:        str("ZHIKU_LLM_MODEL", ""),
		RerankBaseURL:   str("ZHIKU_RERANK_BASE_URL", ""),
		RerankAPIKey:    secret("ZHIKU_RERANK_API_KEY"),
		RerankModel:     str("ZHIKU_RERANK_MODEL", ""),
		LogFormat:       str("ZHIKU_LOG_FORMAT", "json"),
		LogLevel:        str("ZHIKU_LOG_LEVEL", "info"),
		MaxBodyBytes:    integer("ZHIKU_MAX_BODY_BYTES", 1<<20),
		MaxUploadBytes:  integer("ZHIKU_MAX_UPLOAD_BYTES", 100<<20),
		ShutdownTimeout: duration("ZHIKU_SHUTDOWN_TIMEOUT", 20*time.Second),
		HNSWEfSearch:    int(integer("ZHIKU_HNSW_EF_SEARCH", 100)),
		HNSWM:           int(integer("ZHIKU_HNSW_M", 16)),
		HNSWEfConstruct: int(integer("ZHIKU_HNSW_EF_CONSTRUCTION", 64)),
		TextPostingsMB:  int(integer("ZHIKU_TEXT_POSTINGS_MB", 512)),
		MaxPages:        int(integer("ZHIKU_MAX_PAGES", 2000)),
		MaxRows:         int(integer("ZHIKU_MAX_ROWS", 200_000)),
		KeepVersions:    int(integer("ZHIKU_KEEP_VERSIONS", 3)),
		IngestWorkers:   int(integer("ZHIKU_INGEST_WORKERS", DefaultIngestWorkers)),
		RateLimit:       number("ZHIKU_RATE_LIMIT", 0),

		LogRetentionDays: int(integer("ZHIKU_LOG_RETENTION_DAYS", DefaultLogRetentionDays)),

		// Not trimmed: "query: " ends in the space the model was trained with.
		EmbedQueryPrefix:    getenv("ZHIKU_EMBED_QUERY_PREFIX"),
		EmbedDocumentPrefix: getenv("ZHIKU_EMBED_DOCUMENT_PREFIX"),
	}
	switch v := strings.TrimSpace(getenv("ZHIKU_CITUS")); v {
	case "", "0", "false":
	case "1", "true":
		c.Citus = true
	default:
		errs = append(errs, fmt.Errorf("ZHIKU_CITUS: want 1 or 0, got %q", v))
	}
	defDim := int64(0)
	if c.Embedder == "local" {
		defDim = DefaultLocalDim
	}
	c.EmbedDim = int(integer("ZHIKU_EMBED_DIM", defDim))

	errs = append(errs, c.Validate())
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Validate checks the values together; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL: want postgres://user@host:port/dbname, got %q", redactURL(c.DatabaseURL))
	}
	if c.DatabaseReadURL != "" {
		if u, err := url.Parse(c.DatabaseReadURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_READ_URL: want postgres://user@host:port/dbname (a replica of DATABASE_URL), got %q", redactURL(c.DatabaseReadURL))
		}
	}
	if _, port, ok := strings.Cut(c.Addr, ":"); !ok || port == "" {
		bad("ZHIKU_ADDR: want host:port or :port, got %q", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("ZHIKU_ADDR: bad port %q", port)
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		bad("ZHIKU_ADMIN_KEY: too short (at least 16 characters)")
	}
	switch c.Embedder {
	case "local":
		if c.EmbedDim < MinLocalDim || c.EmbedDim > MaxLocalDim {
			bad("ZHIKU_EMBED_DIM: want %d..%d for the local embedder, got %d", MinLocalDim, MaxLocalDim, c.EmbedDim)
		}
	case "openai":
		if !validHTTPURL(c.EmbedBaseURL) {
			bad("ZHIKU_EMBED_BASE_URL: required for ZHIKU_EMBEDDER=openai, an http(s) URL, got %q", c.EmbedBaseURL)
		}
		if c.EmbedModel == "" {
			bad("ZHIKU_EMBED_MODEL: required for ZHIKU_EMBEDDER=openai")
		}
		if c.EmbedDim < 1 || c.EmbedDim > MaxEmbedDim {
			bad("ZHIKU_EMBED_DIM: required for ZHIKU_EMBEDDER=openai, want 1..%d, got %d", MaxEmbedDim, c.EmbedDim)
		}
	default:
		bad("ZHIKU_EMBEDDER: want local or openai, got %q", c.Embedder)
	}
	if c.LLMBaseURL != "" {
		if !validHTTPURL(c.LLMBaseURL) {
			bad("ZHIKU_LLM_BASE_URL: want an http(s) URL, got %q", c.LLMBaseURL)
		}
		if c.LLMModel == "" {
			bad("ZHIKU_LLM_MODEL: required when ZHIKU_LLM_BASE_URL is set")
		}
	}
	if c.RerankBaseURL != "" {
		if !validHTTPURL(c.RerankBaseURL) {
			bad("ZHIKU_RERANK_BASE_URL: want an http(s) URL, got %q", c.RerankBaseURL)
		}
		if c.RerankModel == "" {
			bad("ZHIKU_RERANK_MODEL: required when ZHIKU_RERANK_BASE_URL is set")
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("ZHIKU_LOG_FORMAT: want json or text, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("ZHIKU_LOG_LEVEL: want debug, info, warn or error, got %q", c.LogLevel)
	}
	// within names a variable whose value must lie in lo..hi (hi 0: no upper bound).
	within := func(name string, v, lo, hi int64) {
		switch {
		case hi == 0 && v < lo:
			bad("%s: at least %d, got %d", name, lo, v)
		case hi != 0 && (v < lo || v > hi):
			bad("%s: want %d..%d, got %d", name, lo, hi, v)
		}
	}
	within("ZHIKU_MAX_BODY_BYTES", c.MaxBodyBytes, 1024, 0)
	within("ZHIKU_MAX_UPLOAD_BYTES", c.MaxUploadBytes, 1024, 0)
	within("ZHIKU_INGEST_WORKERS", int64(c.IngestWorkers), 1, 64)
	within("ZHIKU_MAX_PAGES", int64(c.MaxPages), 1, 0)
	within("ZHIKU_MAX_ROWS", int64(c.MaxRows), 1, 0)
	within("ZHIKU_KEEP_VERSIONS", int64(c.KeepVersions), 1, 100)
	within("ZHIKU_LOG_RETENTION_DAYS", int64(c.LogRetentionDays), 1, 3650)
	within("ZHIKU_HNSW_EF_SEARCH", int64(c.HNSWEfSearch), 10, 1000)
	within("ZHIKU_HNSW_M", int64(c.HNSWM), 4, 100)
	within("ZHIKU_TEXT_POSTINGS_MB", int64(c.TextPostingsMB), 0, 1<<20)
	if c.HNSWEfConstruct < 2*c.HNSWM || c.HNSWEfConstruct > 1000 {
		bad("ZHIKU_HNSW_EF_CONSTRUCTION: want 2×ZHIKU_HNSW_M (%d)..1000, got %d", 2*c.HNSWM, c.HNSWEfConstruct)
	}
	if c.RateLimit < 0 || c.RateLimit > MaxRateLimit {
		bad("ZHIKU_RATE_LIMIT: want 0 (unlimited)..%d requests per second per key, got %g", MaxRateLimit, c.RateLimit)
	}
	if c.ShutdownTimeout <= 0 {
		bad("ZHIKU_SHUTDOWN_TIMEOUT: must be positive, got %s", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

// LogRetention is LogRetentionDays as a duration.
func (c Config) LogRetention() time.Duration {
	return time.Duration(c.LogRetentionDays) * 24 * time.Hour
}

// String prints the configuration with secrets redacted, for logs and `zhiku config`.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	return fmt.Sprintf("DATABASE_URL=%s DATABASE_READ_URL=%s ZHIKU_ADDR=%s ZHIKU_ADMIN_KEY=%s ZHIKU_EMBEDDER=%s ZHIKU_EMBED_BASE_URL=%s ZHIKU_EMBED_API_KEY=%s ZHIKU_EMBED_MODEL=%s ZHIKU_EMBED_DIM=%d ZHIKU_LLM_BASE_URL=%s ZHIKU_LLM_API_KEY=%s ZHIKU_LLM_MODEL=%s ZHIKU_RERANK_BASE_URL=%s ZHIKU_RERANK_MODEL=%s",
		redactURL(c.DatabaseURL), redactURL(c.DatabaseReadURL), c.Addr, mask(c.AdminKey), c.Embedder, c.EmbedBaseURL, mask(c.EmbedAPIKey), c.EmbedModel, c.EmbedDim,
		c.LLMBaseURL, mask(c.LLMAPIKey), c.LLMModel, c.RerankBaseURL, c.RerankModel)
}

// LogValue makes Config a slog.LogValuer, so a Config logged as an attribute prints
// String(): secrets redacted.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURL hides a password in a connection URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	return u.String()
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
