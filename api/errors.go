package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zhiku/zhiku/internal/kb"
)

// apiError is an error with its HTTP status, stable code and bilingual message.
type apiError struct {
	Status    int
	Code      string
	Message   string // English
	MessageZh string // Chinese, for operators
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, code, en, zh string) *apiError {
	return &apiError{Status: status, Code: code, Message: en, MessageZh: zh}
}

var (
	errRouteNotFound    = newError(http.StatusNotFound, "not_found", "no such route", "接口不存在")
	errMethodNotAllowed = newError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", "不支持该请求方法")
	errNoKey            = newError(http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer <key>", "缺少 API 密钥：请在请求头中发送 Authorization: Bearer <key>")
	errBadKey           = newError(http.StatusUnauthorized, "unauthorized", "invalid or revoked API key", "API 密钥无效或已吊销")
	errInternal         = newError(http.StatusInternalServerError, "internal", "internal error; quote the request_id when reporting it", "服务器内部错误；反馈时请附上 request_id")
	errDatabaseDown     = newError(http.StatusServiceUnavailable, "database_unavailable",
		"the database is unavailable; try again shortly (the server reconnects by itself)", "数据库暂时无法连接，请稍后重试（服务会自动重新连接）")
)

// retryAfterSeconds is the Retry-After sent with a 503: about how long a PostgreSQL restart
// or a provider's brief outage takes.
const retryAfterSeconds = "5"

// errorBody is the JSON shape of every error: {"error":{"code","message"},"request_id"}.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		MessageZh string `json:"message_zh,omitempty"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// fail writes err as a JSON error and aborts the request. Known errors map to their status;
// anything else is logged once with the request id and answered with a generic 500 that
// never echoes internals.
func fail(c *gin.Context, err error) {
	ae := classify(err)
	if ae.Status >= 500 {
		c.Error(err) //nolint:errcheck // recorded for the access log, which logs it once
	}
	if ae.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfterSeconds)
	}
	if c.GetBool(ctxOpenAIErrors) {
		c.AbortWithStatusJSON(ae.Status, openAIErrorOf(ae))
		return
	}
	c.AbortWithStatusJSON(ae.Status, zhikuError(c, ae))
}

func zhikuError(c *gin.Context, ae *apiError) errorBody {
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.MessageZh = ae.Code, ae.Message, ae.MessageZh
	body.RequestID = c.GetString(ctxRequestID)
	return body
}

func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	ae = classifyKind(err)
	// A kb.Error (or a list of bad rows...) carries its message in both languages as
	// fields; they are answered as written, never cut out of one string.
	var be kb.Bilingual
	if (ae.Status < 500 || ae.Code == "not_supported") && errors.As(err, &be) {
		en, zh := be.Texts()
		return newError(ae.Status, ae.Code, en, zh)
	}
	return ae
}

// classifyKind maps an error's sentinel (or a provider's or the database's failure) onto
// its status and code, with a generic message.
func classifyKind(err error) *apiError {
	// Without a bilingual message (see classify) the detail is in English only.
	switch {
	case errors.Is(err, kb.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "not found", "未找到")
	case errors.Is(err, kb.ErrConflict):
		return newError(http.StatusConflict, "conflict", "already exists", "已存在")
	case errors.Is(err, kb.ErrInvalid):
		return newError(http.StatusUnprocessableEntity, "invalid", err.Error(), "输入无效")
	case errors.Is(err, kb.ErrForbidden):
		return newError(http.StatusForbidden, "forbidden", "this key lacks the right for this action", "该密钥无权执行此操作")
	case errors.Is(err, kb.ErrUnauthenticated):
		return errBadKey
	case errors.Is(err, kb.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, "too_large", err.Error(), "超出大小上限")
	case errors.Is(err, kb.ErrNotSupported):
		return newError(http.StatusNotImplemented, "not_supported", "not supported in this deployment", "当前部署不支持该操作")
	case errors.Is(err, kb.ErrUnsupported):
		return newError(http.StatusUnsupportedMediaType, "unsupported", err.Error(), "不支持的格式")
	}
	// A model provider's failure first: it may wrap a network error too.
	var pe providerFailure
	if errors.As(err, &pe) {
		op := pe.ProviderOp()
		return newError(http.StatusServiceUnavailable, "provider_unavailable",
			fmt.Sprintf("the model provider (%s) is unavailable; try again shortly", op), fmt.Sprintf("模型服务（%s）暂时不可用，请稍后重试", op))
	}
	if DatabaseUnavailable(err) {
		return errDatabaseDown
	}
	return errInternal
}

// providerFailure is a model provider's error (internal/llm's Error) as the API sees it,
// without importing the client package.
type providerFailure interface {
	error
	ProviderOp() string
}

// DatabaseUnavailable reports whether err means PostgreSQL could not be reached or dropped
// the connection (stopped, restarting, refusing connections): a condition that passes by
// itself, as the pool reconnects. The API answers it with 503 instead of a 500, and the
// ingest workers retry a job that failed of it.
func DatabaseUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exceptions; 57P01..57P03: shut down by an administrator or a
		// crash, or not accepting connections yet; 53300: too many connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return false // an HTTP call's failure (a model provider), not the database's
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// notFound names what was not found, in both languages.
func notFound(what, name string) *apiError {
	zh := map[string]string{"knowledge base": "知识库", "document": "文档", "job": "任务", "FAQ": "问答", "answer": "回答", "gap": "缺口", "user": "用户"}[what]
	return newError(http.StatusNotFound, "not_found", fmt.Sprintf("%s %q not found", what, name), fmt.Sprintf("%s“%s”不存在", zh, name))
}

// badRequest reports input that could not be read at all (malformed JSON, wrong types).
func badRequest(en, zh string) *apiError {
	return newError(http.StatusBadRequest, "bad_request", en, zh)
}

// invalid reports well-formed input that breaks a rule, naming the field.
func invalid(en, zh string) *apiError {
	return newError(http.StatusUnprocessableEntity, "invalid", en, zh)
}

// joinedForDisplay is the one place where both languages share a string: Dify's error_msg
// and an MCP tool error have a single text field, read by people and models. Nothing reads
// it back apart (internal/archtest allows " / " here only).
func joinedForDisplay(en, zh string) string {
	if zh == "" || zh == en {
		return en
	}
	return en + " / " + zh
}
