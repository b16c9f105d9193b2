package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/fuzzseed"
	"github.com/zhiku/zhiku/internal/kb"
)

func init() { gin.SetMode(gin.TestMode) }

func storableText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkFilter asserts that an accepted filter can reach PostgreSQL: every field named and
// storable, every string value (nested ones too) storable.
func checkFilter(t *testing.T, f kb.Filter) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if !storableText(v) {
				t.Fatalf("filter value %q is not storable text", v)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for k, x := range v {
				walk(k)
				walk(x)
			}
		}
	}
	for _, c := range f.Conditions {
		if c.Field == "" || !storableText(c.Field) || !storableText(c.Op) {
			t.Fatalf("condition %+v: field empty or not storable", c)
		}
		walk(c.Value)
	}
}

// FuzzParseFilters: the search and answer routes' filters either parse into storable
// conditions or fail with kb.ErrInvalid (a 422), nothing else.
func FuzzParseFilters(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		filter, err := parseFilters(raw)
		if err != nil {
			if !errors.Is(err, kb.ErrInvalid) || !storableText(err.Error()) {
				t.Fatalf("parseFilters(%q): %v is not a readable ErrInvalid", raw, err)
			}
			return
		}
		checkFilter(t, filter)
	})
}

// FuzzDifyMetadataCondition: Dify's metadata_condition either gives storable conditions or
// an error message (a 400).
func FuzzDifyMetadataCondition(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var req difyRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		filter, err := difyFilter(req)
		if err != nil {
			if err.Error() == "" || !storableText(err.Error()) {
				t.Fatalf("difyFilter: unreadable error %q", err)
			}
			return
		}
		checkFilter(t, filter)
	})
}

// decodeContext is a gin context over a POST of body, limited as the server limits bodies.
func decodeContext(body []byte) (*gin.Context, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	req := httptest.NewRequest(http.MethodPost, "/v1/answer", bytes.NewReader(body))
	req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
	c.Request = req
	return c, w
}

// checkRejected asserts a refused request got a 4xx with Zhiku's JSON error body.
func checkRejected(t *testing.T, w *httptest.ResponseRecorder, err error) {
	if err != nil {
		ae := classify(err)
		if ae.Status < 400 || ae.Status >= 500 || ae.Code == "" || !storableText(ae.Message) || !storableText(ae.MessageZh) {
			t.Fatalf("refusal %v became %d %q", err, ae.Status, ae.Code)
		}
		return
	}
	var body errorBody
	if w.Code < 400 || w.Code >= 500 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error.Code == "" || !storableText(body.Error.Message) {
		t.Fatalf("refused with %d %s", w.Code, w.Body.String())
	}
}

// checkAccepted asserts what the answer service may rely on for an accepted question.
func checkAccepted(t *testing.T, in questionInput) {
	if strings.TrimSpace(in.Question) == "" || !storableText(in.Question) || utf8.RuneCountInString(in.Question) > maxQuestionChars {
		t.Fatalf("accepted question %q", in.Question)
	}
	if len(in.History) > maxHistoryTurns {
		t.Fatalf("accepted %d history turns", len(in.History))
	}
	for _, h := range in.History {
		if (h.Role != "user" && h.Role != "assistant") || !storableText(h.Content) {
			t.Fatalf("accepted history turn %+v", h)
		}
	}
	for _, s := range []string{in.KB, in.SessionID, in.Channel, in.CustomerID} {
		if !storableText(s) {
			t.Fatalf("accepted tag %q", s)
		}
	}
}

// FuzzAnswerRequest decodes a /v1/answer body as the handler does before it looks up the
// knowledge base: a refusal is always a 4xx with a JSON error, never a 5xx, and what is
// accepted is storable.
func FuzzAnswerRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, w := decodeContext(body)
		var req answerRequest
		if !bindJSON(c, &req) {
			checkRejected(t, w, nil)
			return
		}
		filter, err := parseFilters(req.Filters)
		if err != nil {
			checkRejected(t, w, err)
			return
		}
		in := questionInput{KB: req.KnowledgeBase, Question: req.Question, History: req.History,
			SessionID: req.SessionID, Channel: req.Channel, CustomerID: req.CustomerID}
		if err := in.validate(); err != nil {
			checkRejected(t, w, err)
			return
		}
		checkAccepted(t, in)
		checkFilter(t, filter)
	})
}

// FuzzChatRequest does the same for /v1/chat/completions (OpenAI's shape).
func FuzzChatRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, w := decodeContext(body)
		var req chatRequest
		if !bindJSONLoose(c, &req) {
			checkRejected(t, w, nil)
			return
		}
		question, history, err := chatTurns(req)
		if err != nil {
			checkRejected(t, w, err)
			return
		}
		in := questionInput{KB: req.Model, Question: question, History: history,
			SessionID: req.SessionID, Channel: req.Channel, CustomerID: req.User}
		if err := in.validate(); err != nil {
			checkRejected(t, w, err)
			return
		}
		checkAccepted(t, in)
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzParseFilters", "object", []byte(`{"brand":"智净","tags":["a","b"],"price":{"gte":10,"lt":100}}`))
	fuzzseed.Write(t, "FuzzParseFilters", "list", []byte(`[{"field":"document_id","op":"in","value":[1,2]},{"field":"lang","op":"eq","value":"zh"}]`))
	fuzzseed.Write(t, "FuzzParseFilters", "bad", []byte(`[{"op":"eq"}]`))
	fuzzseed.Write(t, "FuzzParseFilters", "nul", []byte(`{"a\u0000b":"x\u0000"}`))
	fuzzseed.Write(t, "FuzzDifyMetadataCondition", "and", []byte(`{"knowledge_id":"demo","query":"q","metadata_condition":{"logical_operator":"and","conditions":[{"name":["brand"],"comparison_operator":"is","value":"智净"},{"name":"sku","comparison_operator":"in","value":"A1, B2"}]}}`))
	fuzzseed.Write(t, "FuzzDifyMetadataCondition", "or-bad-op", []byte(`{"metadata_condition":{"logical_operator":"or","conditions":[{"name":"x","comparison_operator":"≥","value":3},{"name":"y","comparison_operator":"near","value":1}]}}`))
	fuzzseed.Write(t, "FuzzAnswerRequest", "full", []byte(`{"knowledge_base":"demo","question":"E104 怎么办？","history":[{"role":"user","content":"扫地机报错"},{"role":"assistant","content":"哪个代码？"}],"session_id":"s1","channel":"web","customer_id":"c1","filters":{"lang":"zh"},"debug":true}`))
	fuzzseed.Write(t, "FuzzAnswerRequest", "wrong-types", []byte(`{"knowledge_base":1,"question":["x"],"history":{}}`))
	fuzzseed.Write(t, "FuzzAnswerRequest", "nul", []byte(`{"knowledge_base":"demo","question":"a\u0000b"}`))
	fuzzseed.Write(t, "FuzzAnswerRequest", "deep", []byte(strings.Repeat(`{"filters":`, 200)+"1"+strings.Repeat("}", 200)))
	fuzzseed.Write(t, "FuzzAnswerRequest", "trailing", []byte(`{"knowledge_base":"demo","question":"q"} {}`))
	fuzzseed.Write(t, "FuzzChatRequest", "openai", []byte(`{"model":"demo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"保修多久"},{"role":"assistant","content":"一年"},{"role":"user","content":[{"type":"text","text":"电池呢"}]}],"stream":false,"temperature":0.2,"user":"c1"}`))
	fuzzseed.Write(t, "FuzzChatRequest", "image-part", []byte(`{"model":"demo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`))
	fuzzseed.Write(t, "FuzzChatRequest", "no-user", []byte(`{"model":"demo","messages":[{"role":"assistant","content":null}]}`))
}
