package llm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// ErrDimensionMismatch marks an embedding whose length differs from the configured (or first
// seen) dimension. It is permanent: the knowledge base was built with another model or size.
var ErrDimensionMismatch = errors.New("embedding dimension mismatch")

// errTimeout stands for a single attempt that ran past its Timeout while the caller's context
// was still live; it is transient.
var errTimeout = errors.New("provider did not answer in time")

// Error is what the clients return when a provider call fails after the retry policy gave up
// (or decided not to try). It keeps the HTTP status and the provider's own message so that an
// operator can see why a key, model or input was refused.
type Error struct {
	Op         string // "embeddings", "chat", "chat stream" or "rerank"
	Model      string // the model named in the request
	StatusCode int    // HTTP status, 0 when no response arrived (timeout, refused connection)
	Message    string // the provider's message, or the transport error text
	Transient  bool   // whether the same request may succeed later
	Attempts   int    // requests sent, retries included
	Err        error  // the underlying error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm: %s", e.Op)
	if e.Model != "" {
		fmt.Fprintf(&b, " (model %s)", e.Model)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": provider returned HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	} else {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Texts is the message in both languages (kb.Bilingual): the English one is Error's; the
// Chinese one says what failed without the provider's own (English) words.
func (e *Error) Texts() (en, zh string) {
	if e.StatusCode != 0 {
		zh = fmt.Sprintf("模型服务（%s）返回错误（HTTP %d）", e.Op, e.StatusCode)
	} else {
		zh = fmt.Sprintf("模型服务（%s）请求失败", e.Op)
	}
	if e.Attempts > 1 {
		zh += fmt.Sprintf("，已尝试 %d 次", e.Attempts)
	}
	return e.Error(), zh
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports e.Transient: packages that must not import this one (ingest) test
// for it through this method.
func (e *Error) IsTransient() bool { return e.Transient }

// ProviderOp names the call that failed ("embeddings", "chat"...): the API answers a
// provider's failure with 503 by this method, without importing this package.
func (e *Error) ProviderOp() string { return e.Op }

// IsTransient reports whether err, as returned by this package, may go away if the same call
// is made later: rate limits, provider 5xx, timeouts and dropped connections. Bad keys, bad
// input, unknown models, dimension mismatches and the caller's own cancellation are not.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// maxMessageLen bounds how much of a provider's error body lands in an error message.
const maxMessageLen = 300

// statusError is the reranker's counterpart of go-openai's APIError.
type statusError struct {
	status  int
	message string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.message) }

// classify turns any failure of one attempt into an *Error, deciding whether it is transient.
func classify(op, model string, err error) *Error {
	out := &Error{Op: op, Model: model, Err: err, Message: err.Error()}
	var (
		apiErr  *openai.APIError
		reqErr  *openai.RequestError
		stErr   *statusError
		dnsErr  *net.DNSError
		netErr  net.Error
		codeStr string
	)
	switch {
	case errors.As(err, &apiErr):
		out.StatusCode, out.Message = apiErr.HTTPStatusCode, apiErr.Message
		codeStr = fmt.Sprint(apiErr.Code) + " " + apiErr.Type
	case errors.As(err, &reqErr):
		out.StatusCode, out.Message = reqErr.HTTPStatusCode, strings.TrimSpace(string(reqErr.Body))
	case errors.As(err, &stErr):
		out.StatusCode, out.Message = stErr.status, stErr.message
	}
	if out.StatusCode != 0 {
		out.Message = truncate(out.Message, maxMessageLen)
		// OpenAI answers 429 for an exhausted balance too; waiting does not refill it.
		out.Transient = transientStatus(out.StatusCode) && !strings.Contains(codeStr, "insufficient_quota")
		return out
	}
	switch {
	case errors.Is(err, errTimeout):
		out.Transient = true
	case errors.As(err, &dnsErr):
		out.Transient = !dnsErr.IsNotFound
	case errors.As(err, &netErr) && netErr.Timeout():
		out.Transient = true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		out.Transient = true
	default:
		var opErr *net.OpError
		out.Transient = errors.As(err, &opErr)
	}
	return out
}

// transientStatus: rate limits, request timeouts and server errors, except the 5xx that mean
// "this will never work" (not implemented, HTTP version).
func transientStatus(code int) bool {
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		return true
	case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
