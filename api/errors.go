package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

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
)

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
	// A kb.Error carries both languages as fields.
	var ke *kb.Error
	if errors.As(err, &ke) {
		if ae := classify(ke.Kind); ae != errInternal {
			return newError(ae.Status, ae.Code, ke.En, ke.Zh)
		}
	}
	// Older sentinel errors carry their detail in one string after the sentinel text
	// ("invalid input: name is required / 名称不能为空", or "… / 文件过大: too large" when
	// the sentinel was wrapped last): drop the sentinel's text wherever it stands, and cut
	// at the last " / ", since English text may hold one ("1 / 3 HP") and Chinese does not.
	detail := func(sentinel error) (string, string) {
		msg := err.Error()
		if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
			msg = msg[i+len(sentinel.Error())+2:]
		}
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
		if i := strings.LastIndex(msg, " / "); i >= 0 {
			return msg[:i], msg[i+3:]
		}
		return msg, ""
	}
	switch {
	case errors.Is(err, kb.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "not found", "未找到")
	case errors.Is(err, kb.ErrConflict):
		return newError(http.StatusConflict, "conflict", "already exists", "已存在")
	case errors.Is(err, kb.ErrInvalid):
		en, zh := detail(kb.ErrInvalid)
		return newError(http.StatusUnprocessableEntity, "invalid", en, zh)
	case errors.Is(err, kb.ErrForbidden):
		return newError(http.StatusForbidden, "forbidden", "this key lacks the right for this action", "该密钥无权执行此操作")
	case errors.Is(err, kb.ErrUnauthenticated):
		return errBadKey
	case errors.Is(err, kb.ErrTooLarge):
		en, zh := detail(kb.ErrTooLarge)
		return newError(http.StatusRequestEntityTooLarge, "too_large", en, zh)
	case errors.Is(err, kb.ErrUnsupported):
		en, zh := detail(kb.ErrUnsupported)
		return newError(http.StatusUnsupportedMediaType, "unsupported", en, zh)
	}
	return errInternal
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
