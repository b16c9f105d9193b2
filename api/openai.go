package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// OpenAI-compatible chat: POST /v1/chat/completions and GET /v1/models, so any OpenAI
// client (SDKs, chat UIs, bot frameworks) can talk to a knowledge base by naming it as
// the model. Errors take OpenAI's shape, {"error":{"message","type","param","code"}}.

// ctxOpenAIErrors marks a request whose errors fail() writes in OpenAI's shape.
const ctxOpenAIErrors = "openai_errors"

// openAIErrors makes fail() answer in OpenAI's error shape for the rest of the request,
// including the 401 of authenticate and the 413 of limitBody.
func openAIErrors(c *gin.Context) {
	c.Set(ctxOpenAIErrors, true)
	c.Next()
}

func (s *Server) openAIRoutes(r *gin.Engine) {
	oa := r.Group("/v1", openAIErrors, s.limitBody(s.deps.MaxBodyBytes), s.authenticate)
	oa.POST("/chat/completions", s.require(kb.PermSearch), s.chatCompletions)
	oa.GET("/models", s.require(kb.PermReadKB), s.listModels)
}

type openAIError struct {
	Error struct {
		Message   string  `json:"message"`
		MessageZh string  `json:"message_zh,omitempty"`
		Type      string  `json:"type"`
		Param     *string `json:"param"`
		Code      *string `json:"code"`
	} `json:"error"`
}

// openAIErrorOf maps an error to OpenAI's shape: a bad key is invalid_api_key, an unknown
// knowledge base model_not_found, other 4xx invalid_request_error, 5xx server_error.
func openAIErrorOf(ae *apiError) openAIError {
	var e openAIError
	e.Error.Message, e.Error.MessageZh = ae.Message, ae.MessageZh
	code := ae.Code
	switch {
	case ae.Status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case ae.Code == "model_not_found":
		param := "model"
		e.Error.Param = &param
	}
	e.Error.Code = &code
	e.Error.Type = "invalid_request_error"
	if ae.Status >= 500 {
		e.Error.Type = "server_error"
	}
	return e
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	User string `json:"user"` // the customer id
	// Zhiku's own, optional: tie the exchange to a conversation and a channel.
	SessionID string `json:"session_id"`
	Channel   string `json:"channel"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or a list of {"type":"text","text"} parts
}

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
	Zhiku   *zhikuExtra  `json:"zhiku,omitempty"`
}

type chatChoice struct {
	Index        int        `json:"index"`
	Message      *chatReply `json:"message,omitempty"`
	Delta        *chatDelta `json:"delta,omitempty"`
	FinishReason *string    `json:"finish_reason"`
}

type chatReply struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// zhikuExtra is what Zhiku knows about the answer beyond its text; OpenAI clients ignore it.
type zhikuExtra struct {
	AnswerID       string            `json:"answer_id"`
	Answered       bool              `json:"answered"`
	Handoff        bool              `json:"handoff"`
	HandoffReason  string            `json:"handoff_reason"`
	Confidence     float64           `json:"confidence"`
	Source         string            `json:"source"`
	Citations      []answer.Citation `json:"citations"`
	RewrittenQuery string            `json:"rewritten_query"`
}

func extraOf(r answer.Response) *zhikuExtra {
	r = withCitations(r)
	return &zhikuExtra{
		AnswerID: r.AnswerID, Answered: r.Answered, Handoff: r.Handoff, HandoffReason: r.HandoffReason,
		Confidence: r.Confidence, Source: r.Source, Citations: r.Citations, RewrittenQuery: r.RewrittenQuery,
	}
}

type chatModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// listModels lists the knowledge bases the key can see, as models.
func (s *Server) listModels(c *gin.Context) {
	p, _ := principal(c)
	list, err := s.deps.Store.ListKBs(c.Request.Context(), p.TenantID, p.KBIDs)
	if err != nil {
		fail(c, err)
		return
	}
	data := make([]chatModel, len(list))
	for i, k := range list {
		data[i] = chatModel{ID: k.Name, Object: "model", Created: k.CreatedAt.Unix(), OwnedBy: "zhiku"}
	}
	c.JSON(http.StatusOK, gin.H{"object": "list", "data": data})
}

func (s *Server) chatCompletions(c *gin.Context) {
	var req chatRequest
	if !bindJSONLoose(c, &req) {
		return
	}
	ar, err := s.chatInput(c, req)
	if err != nil {
		fail(c, err)
		return
	}
	prompt := 0
	for _, t := range ar.History {
		prompt += approxTokens(t.Content)
	}
	prompt += approxTokens(ar.Question)
	cc := chatCompletion{ID: "chatcmpl-" + randomHex(12), Created: time.Now().Unix(), Model: ar.KB.Name}
	if req.Stream {
		s.chatStream(c, ar, cc, prompt, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	resp, err := s.deps.Answers.Answer(c.Request.Context(), ar)
	if err != nil {
		fail(c, err)
		return
	}
	stop := "stop"
	cc.Object = "chat.completion"
	cc.Choices = []chatChoice{{Message: &chatReply{Role: "assistant", Content: resp.Answer}, FinishReason: &stop}}
	cc.Usage = usage(prompt, resp.Answer)
	cc.Zhiku = extraOf(resp)
	c.JSON(http.StatusOK, cc)
}

// chatInput turns the conversation into a question and its history: the last user message
// is the question, earlier user and assistant messages the history (the most recent
// maxHistoryTurns of them, as a long chat keeps growing); system, developer and tool
// messages are left out.
func (s *Server) chatInput(c *gin.Context, req chatRequest) (answer.Request, error) {
	question, history, err := chatTurns(req)
	if err != nil {
		return answer.Request{}, err
	}
	p, _ := principal(c)
	ar, err := s.answerInput(c.Request.Context(), p, questionInput{
		KB: req.Model, Question: question, History: history,
		SessionID: req.SessionID, Channel: req.Channel, CustomerID: req.User,
	})
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return ar, newError(http.StatusNotFound, "model_not_found",
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it: models are knowledge base names (GET /v1/models lists them)", req.Model),
			fmt.Sprintf("模型“%s”不存在或无权访问：模型名即知识库名（GET /v1/models 可列出）", req.Model))
	}
	return ar, err
}

// chatTurns reads the question (the last user message) and the history before it.
func chatTurns(req chatRequest) (string, []answer.Turn, error) {
	if strings.TrimSpace(req.Model) == "" {
		return "", nil, invalid("model is required: the knowledge base's name or id", "model 不能为空：请填写知识库名称或 ID")
	}
	last := -1
	for i, m := range req.Messages {
		if m.Role == "user" {
			last = i
		}
	}
	if last < 0 {
		return "", nil, invalid("messages must hold a user message: the question", "messages 中必须有一条 user 消息作为问题")
	}
	question, err := messageText(last, req.Messages[last].Content)
	if err != nil {
		return "", nil, err
	}
	var history []answer.Turn
	for i, m := range req.Messages[:last] {
		if m.Role != "user" && m.Role != "assistant" {
			continue
		}
		text, err := messageText(i, m.Content)
		if err != nil {
			return "", nil, err
		}
		if strings.TrimSpace(text) != "" {
			history = append(history, answer.Turn{Role: m.Role, Content: text})
		}
	}
	if len(history) > maxHistoryTurns {
		history = history[len(history)-maxHistoryTurns:]
	}
	return question, history, nil
}

// messageText reads a message's content: a string, or a list of text parts joined by
// newlines. Images and audio have no place in a knowledge-base question.
func messageText(i int, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", badRequest(fmt.Sprintf("messages[%d].content must be a string or a list of content parts", i),
			fmt.Sprintf("messages[%d].content 必须是字符串或内容片段列表", i))
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" {
			return "", invalid(fmt.Sprintf("messages[%d].content: only text parts are supported, not %q", i, p.Type),
				fmt.Sprintf("messages[%d].content 只支持文本片段，不支持“%s”", i, p.Type))
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// chatStream streams chat.completion.chunk events: the assistant role, the content pieces,
// a last chunk with finish_reason "stop" and the zhiku extra, then [DONE]. As with
// /v1/answer, an error before the first piece is an ordinary HTTP error; after it, a
// data line holding the error object, which OpenAI's SDKs raise.
func (s *Server) chatStream(c *gin.Context, ar answer.Request, cc chatCompletion, prompt int, withUsage bool) {
	w := sseWriter{c: c}
	cc.Object = "chat.completion.chunk"
	send := func(ch chatCompletion) error { return w.event("", ch) }
	chunk := func(d chatDelta) chatCompletion {
		ch := cc
		ch.Choices = []chatChoice{{Delta: &d}}
		return ch
	}
	begin := func() error {
		if w.started {
			return nil
		}
		return send(chunk(chatDelta{Role: "assistant"}))
	}
	resp, err := s.deps.Answers.AnswerStream(c.Request.Context(), ar, func(piece string) error {
		if piece == "" {
			return nil
		}
		if err := begin(); err != nil {
			return err
		}
		return send(chunk(chatDelta{Content: piece}))
	})
	if err != nil {
		if !w.started {
			fail(c, err)
			return
		}
		if c.Request.Context().Err() != nil {
			return // the client left
		}
		ae := classify(err)
		if ae.Status >= 500 {
			c.Error(err) //nolint:errcheck // logged once by the access log
		}
		_ = w.event("", openAIErrorOf(ae))
		return
	}
	if !w.started {
		// Nothing was streamed (a curated or cached answer): send it as one piece.
		if begin() != nil {
			return
		}
		if resp.Answer != "" && send(chunk(chatDelta{Content: resp.Answer})) != nil {
			return
		}
	}
	stop := "stop"
	last := chunk(chatDelta{})
	last.Choices[0].FinishReason = &stop
	last.Zhiku = extraOf(resp)
	if send(last) != nil {
		return
	}
	if withUsage {
		u := cc
		u.Choices = []chatChoice{}
		u.Usage = usage(prompt, resp.Answer)
		if send(u) != nil {
			return
		}
	}
	_ = w.raw("", []byte("[DONE]"))
}

func usage(prompt int, completion string) *chatUsage {
	n := approxTokens(completion)
	return &chatUsage{PromptTokens: prompt, CompletionTokens: n, TotalTokens: prompt + n}
}

// approxTokens estimates a token count without a tokenizer: one per Han character, one per
// four other non-space characters. Clients use usage for display and budgeting only.
func approxTokens(s string) int {
	han, other := 0, 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case !unicode.IsSpace(r):
			other++
		}
	}
	return han + (other+3)/4
}
