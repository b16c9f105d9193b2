package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// bindJSON decodes the body into v, rejecting unknown fields, trailing data and bodies over
// the limit. It answers the error itself and returns false when the body is unusable.
func bindJSON(c *gin.Context, v any) bool { return decodeJSON(c, v, true) }

// bindJSONLoose is bindJSON accepting unknown fields: OpenAI clients send parameters
// (temperature, max_tokens, ...) that Zhiku has no use for.
func bindJSONLoose(c *gin.Context, v any) bool { return decodeJSON(c, v, false) }

func decodeJSON(c *gin.Context, v any, strict bool) bool {
	dec := json.NewDecoder(c.Request.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil {
		return true
	}
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		fail(c, tooLarge(maxErr.Limit))
	case errors.Is(err, io.EOF):
		fail(c, badRequest("request body is empty; send a JSON object", "请求体为空，请发送 JSON 对象"))
	case errors.As(err, &typeErr):
		fail(c, badRequest(fmt.Sprintf("malformed JSON: field %q must be %s", typeErr.Field, typeErr.Type),
			fmt.Sprintf("JSON 格式错误：字段“%s”类型应为 %s", typeErr.Field, typeErr.Type)))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		fail(c, badRequest("malformed JSON: "+err.Error(), "JSON 格式错误："+err.Error()))
	default:
		fail(c, badRequest("malformed JSON: "+err.Error(), "JSON 格式错误："+err.Error()))
	}
	return false
}
