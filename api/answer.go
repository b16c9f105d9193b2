package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// Answerer answers questions; *answer.Service implements it.
type Answerer interface {
	Answer(ctx context.Context, r answer.Request) (answer.Response, error)
	// AnswerStream calls onDelta with each piece of the answer text as it is composed, then returns the whole response.
	AnswerStream(ctx context.Context, r answer.Request, onDelta func(string) error) (answer.Response, error)
	Assist(ctx context.Context, r answer.Request) ([]answer.Suggestion, error)
}

// Limits of one question. A customer-service question is a sentence or two; the limits
// keep a runaway client from sending a document as a question.
const (
	maxQuestionChars = 2000
	maxHistoryTurns  = 50
	maxTurnChars     = 4000
	maxTagChars      = 200 // session_id, channel, customer_id
)

// answerRoutes registers the answer API and its OpenAI-compatible and MCP faces, when
// Deps.Answers is set.
func (s *Server) answerRoutes(r *gin.Engine, v1 *gin.RouterGroup) {
	if s.deps.Answers == nil {
		return
	}
	v1.POST("/answer", s.require(kb.PermSearch), s.answer)
	v1.POST("/assist", s.require(kb.PermSearch), s.assist)
	s.openAIRoutes(r)
	s.mcpRoutes(r)
}

type answerRequest struct {
	KnowledgeBase string          `json:"knowledge_base"`
	Question      string          `json:"question"`
	History       []answer.Turn   `json:"history"`
	SessionID     string          `json:"session_id"`
	Channel       string          `json:"channel"`
	CustomerID    string          `json:"customer_id"`
	Filters       json.RawMessage `json:"filters"`
	Stream        bool            `json:"stream"`
	Debug         bool            `json:"debug"`
}

type assistRequest struct {
	KnowledgeBase string        `json:"knowledge_base"`
	Question      string        `json:"question"`
	History       []answer.Turn `json:"history"`
	SessionID     string        `json:"session_id"`
	Channel       string        `json:"channel"`
	CustomerID    string        `json:"customer_id"`
}

func (s *Server) answer(c *gin.Context) {
	var req answerRequest
	if !bindJSON(c, &req) {
		return
	}
	filter, err := parseFilters(req.Filters)
	if err != nil {
		fail(c, err)
		return
	}
	p, _ := principal(c)
	ar, err := s.answerInput(c.Request.Context(), p, questionInput{
		KB: req.KnowledgeBase, Question: req.Question, History: req.History,
		SessionID: req.SessionID, Channel: req.Channel, CustomerID: req.CustomerID,
	})
	if err != nil {
		fail(c, err)
		return
	}
	ar.Filter, ar.Debug = filter, req.Debug
	if req.Stream {
		s.answerSSE(c, ar)
		return
	}
	resp, err := s.deps.Answers.Answer(c.Request.Context(), ar)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, withCitations(resp))
}

func (s *Server) assist(c *gin.Context) {
	var req assistRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	ar, err := s.answerInput(c.Request.Context(), p, questionInput{
		KB: req.KnowledgeBase, Question: req.Question, History: req.History,
		SessionID: req.SessionID, Channel: req.Channel, CustomerID: req.CustomerID,
	})
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.deps.Answers.Assist(c.Request.Context(), ar)
	if err != nil {
		fail(c, err)
		return
	}
	if list == nil {
		list = []answer.Suggestion{}
	}
	for i := range list {
		if list[i].Citations == nil {
			list[i].Citations = []answer.Citation{}
		}
	}
	c.JSON(http.StatusOK, gin.H{"suggestions": list})
}

// questionInput is a question as the answer, assist, chat-completions and MCP faces receive it.
type questionInput struct {
	KB                             string // name or id
	Question                       string
	History                        []answer.Turn
	SessionID, Channel, CustomerID string
}

// answerInput validates a question and resolves its knowledge base in p's reach: the one
// place the answer, assist, chat-completions and MCP faces check their input. The
// knowledge base is looked up last, so bad input costs no database round trip.
func (s *Server) answerInput(ctx context.Context, p kb.Principal, in questionInput) (answer.Request, error) {
	if err := in.validate(); err != nil {
		return answer.Request{}, err
	}
	k, err := s.lookupKB(ctx, p, in.KB)
	if err != nil {
		return answer.Request{}, err
	}
	return answer.Request{
		KB: k, Question: in.Question, History: in.History,
		SessionID: in.SessionID, Channel: in.Channel, CustomerID: in.CustomerID,
	}, nil
}

// validate checks what a question input must satisfy before any knowledge base is looked
// up: the question and history within limits, the tags short, a knowledge base named.
func (in questionInput) validate() error {
	if err := validateQuestion(in.Question, in.History); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"session_id", in.SessionID}, {"channel", in.Channel}, {"customer_id", in.CustomerID}} {
		if err := checkText(f.name, f.v, maxTagChars); err != nil {
			return err
		}
	}
	if strings.TrimSpace(in.KB) == "" {
		return invalid("knowledge_base is required: a knowledge base name or id", "knowledge_base 不能为空：请填写知识库名称或 ID")
	}
	return nil
}

// validateQuestion checks a question and the conversation before it against the limits.
func validateQuestion(question string, history []answer.Turn) error {
	if strings.TrimSpace(question) == "" {
		return invalid("question is required", "question（问题）不能为空")
	}
	if err := checkText("question", question, maxQuestionChars); err != nil {
		return err
	}
	if len(history) > maxHistoryTurns {
		return invalid(fmt.Sprintf("history has %d turns; at most %d are allowed", len(history), maxHistoryTurns),
			fmt.Sprintf("history（对话历史）有 %d 条，最多允许 %d 条", len(history), maxHistoryTurns))
	}
	for i, t := range history {
		if t.Role != "user" && t.Role != "assistant" {
			return invalid(fmt.Sprintf("history[%d].role must be user or assistant, not %q", i, t.Role),
				fmt.Sprintf("history[%d].role 只能是 user 或 assistant，而不是“%s”", i, t.Role))
		}
		if err := checkText(fmt.Sprintf("history[%d].content", i), t.Content, maxTurnChars); err != nil {
			return err
		}
	}
	return nil
}

// checkText rejects text over max characters or holding NUL bytes, which PostgreSQL
// cannot store in text columns.
func checkText(field, v string, max int) error {
	if strings.IndexByte(v, 0) >= 0 {
		return invalid(field+" must not contain NUL bytes", field+" 不能包含 NUL 字符")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid(fmt.Sprintf("%s is %d characters long; at most %d are allowed", field, n, max),
			fmt.Sprintf("%s 长度为 %d 个字符，最多允许 %d 个", field, n, max))
	}
	return nil
}

// lookupKB resolves a knowledge base by id or name in p's tenant. Another tenant's
// knowledge base, or one the key is not bound to, is reported as not found, naming ref.
func (s *Server) lookupKB(ctx context.Context, p kb.Principal, ref string) (kb.KnowledgeBase, error) {
	if strings.ContainsRune(ref, 0) || !utf8.ValidString(ref) || len(ref) > 200 {
		// No such name can exist; PostgreSQL must never see a NUL byte.
		return kb.KnowledgeBase{}, notFound("knowledge base", strings.ToValidUTF8(strings.ReplaceAll(ref, "\x00", ""), ""))
	}
	k, err := s.deps.Store.GetKB(ctx, p.TenantID, ref)
	if err == nil && !p.CanAccessKB(k.ID) {
		err = kb.ErrNotFound
	}
	if errors.Is(err, kb.ErrNotFound) {
		return k, notFound("knowledge base", ref)
	}
	return k, err
}

// withCitations gives the response an empty list rather than null, so clients can iterate.
func withCitations(r answer.Response) answer.Response {
	if r.Citations == nil {
		r.Citations = []answer.Citation{}
	}
	return r
}

// answerSSE streams an answer as Server-Sent Events: "delta" events with {"text"} pieces,
// then "done" with the whole response. The stream starts with the first piece, so an error
// before it (unknown filter field, a failed search) is an ordinary JSON error with its
// status; an error after it is an "error" event with the same body.
func (s *Server) answerSSE(c *gin.Context, ar answer.Request) {
	w := sseWriter{c: c}
	resp, err := s.deps.Answers.AnswerStream(c.Request.Context(), ar, func(piece string) error {
		if piece == "" {
			return nil
		}
		return w.event("delta", struct {
			Text string `json:"text"`
		}{piece})
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
		_ = w.event("error", zhikuError(c, ae))
		return
	}
	if !w.started && resp.Answer != "" {
		// Nothing was streamed (a curated or cached answer): send it as one piece.
		_ = w.event("delta", struct {
			Text string `json:"text"`
		}{resp.Answer})
	}
	_ = w.event("done", withCitations(resp))
}

// sseWriter writes Server-Sent Events, sending the headers with the first one and
// flushing each, so proxies and clients see every piece at once.
type sseWriter struct {
	c       *gin.Context
	started bool
}

func (w *sseWriter) start() {
	h := w.c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.c.Writer.WriteHeader(http.StatusOK)
	w.started = true
}

// event writes one event; an empty name writes a bare "data:" line (OpenAI's stream).
func (w *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.raw(name, data)
}

func (w *sseWriter) raw(name string, data []byte) error {
	if !w.started {
		w.start()
	}
	buf := make([]byte, 0, len(data)+len(name)+16)
	if name != "" {
		buf = append(buf, "event: "...)
		buf = append(buf, name...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, '\n', '\n')
	if _, err := w.c.Writer.Write(buf); err != nil {
		return err
	}
	w.c.Writer.Flush()
	return nil
}
