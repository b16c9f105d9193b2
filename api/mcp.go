package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

// MCP at /mcp (streamable HTTP: POST for messages, GET for the server's stream, DELETE to
// end a session) with the same bearer keys as /v1. Tools: search_knowledge and
// answer_question. Each HTTP request is authenticated in front (Zhiku's 401), and its
// principal travels to the tool handlers as the request's MCP token info; a session is
// bound to the key that opened it.

// Limits of search_knowledge's top_k. Defaults to 5: passages go into a model's context.
const (
	mcpDefaultTopK = 5
	mcpMaxTopK     = 50
	mcpSessionIdle = 30 * time.Minute // idle sessions are closed after it
)

type principalKey struct{}

func (s *Server) mcpRoutes(r *gin.Engine) {
	h := s.mcpHandler()
	serve := func(c *gin.Context) {
		p, _ := principal(c)
		h.ServeHTTP(c.Writer, c.Request.WithContext(context.WithValue(c.Request.Context(), principalKey{}, p)))
	}
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		r.Handle(method, "/mcp", s.authenticate, s.require(kb.PermSearch), serve)
	}
}

// mcpHandler is the MCP endpoint behind authentication: the caller's principal travels in
// the request's context (principalKey).
func (s *Server) mcpHandler() http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "zhiku", Title: "Zhiku knowledge base", Version: "1"}, &mcp.ServerOptions{
		Instructions: "Zhiku answers customer-service questions from a knowledge base. Use answer_question for a ready answer with citations, search_knowledge for raw passages. knowledge_base is a knowledge base's name or id.",
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "search_knowledge",
		Description: "Search a knowledge base (hybrid vector and keyword search) and return the best passages with title, page and score.",
	}, s.mcpSearch)
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "answer_question",
		Description: "Answer a customer's question from a knowledge base, with the passages it rests on. answered=false or handoff=true means a human should take over.",
	}, s.mcpAnswer)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Logger:              s.log.With("component", "mcp"),
		SessionTimeout:      mcpSessionIdle,
		MaxRequestBodyBytes: s.deps.MaxBodyBytes,
		// The protection is for unauthenticated servers on a developer's machine; every
		// request here carries a key, and Zhiku usually runs behind a reverse proxy on
		// loopback, where the Host header is the public name.
		DisableLocalhostProtection: true,
	})
	// RequireBearerToken is the SDK's way to hand token info to the tool handlers and to
	// bind sessions to a user; the key itself was checked by authenticate.
	return auth.RequireBearerToken(principalToken, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// principalToken passes the principal authenticate resolved on as MCP token info.
func principalToken(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	p, ok := ctx.Value(principalKey{}).(kb.Principal)
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{
		UserID: fmt.Sprintf("%d/%d/%s", p.TenantID, p.KeyID, p.Name),
		Extra:  map[string]any{"principal": p},
	}, nil
}

func mcpPrincipal(req *mcp.CallToolRequest) (kb.Principal, error) {
	if req.Extra != nil && req.Extra.TokenInfo != nil {
		if p, ok := req.Extra.TokenInfo.Extra["principal"].(kb.Principal); ok {
			return p, nil
		}
	}
	return kb.Principal{}, kb.ErrUnauthenticated
}

type mcpSearchInput struct {
	KnowledgeBase string `json:"knowledge_base" jsonschema:"the knowledge base's name or id"`
	Query         string `json:"query" jsonschema:"what to search for, in the customer's words"`
	TopK          int    `json:"top_k,omitempty" jsonschema:"how many passages to return: 1 to 50, default 5"`
}

type mcpPassage struct {
	ChunkID    int64   `json:"chunk_id"`
	DocumentID int64   `json:"document_id"`
	Title      string  `json:"title"`
	Page       int     `json:"page,omitempty"`
	Score      float64 `json:"score"`
	Content    string  `json:"content"`
}

type mcpSearchOutput struct {
	Results []mcpPassage `json:"results"`
}

func (s *Server) mcpSearch(ctx context.Context, req *mcp.CallToolRequest, in mcpSearchInput) (*mcp.CallToolResult, mcpSearchOutput, error) {
	var out mcpSearchOutput
	p, err := mcpPrincipal(req)
	if err != nil {
		return nil, out, s.toolError(err)
	}
	if strings.TrimSpace(in.Query) == "" {
		return nil, out, s.toolError(invalid("query is required", "query（查询）不能为空"))
	}
	if err := checkText("query", in.Query, maxQuestionChars); err != nil {
		return nil, out, s.toolError(err)
	}
	if in.TopK < 0 {
		return nil, out, s.toolError(invalid(fmt.Sprintf("top_k must be 1 to %d (0 or absent: %d)", mcpMaxTopK, mcpDefaultTopK),
			fmt.Sprintf("top_k 须在 1 到 %d 之间（0 或不填：%d）", mcpMaxTopK, mcpDefaultTopK)))
	}
	if in.TopK == 0 {
		in.TopK = mcpDefaultTopK
	}
	k, err := s.lookupKB(ctx, p, in.KnowledgeBase)
	if err != nil {
		return nil, out, s.toolError(err)
	}
	hits, err := s.deps.Search.Search(ctx, retrieval.Request{KB: k, Query: in.Query, TopK: min(in.TopK, mcpMaxTopK), Rerank: true})
	if err != nil {
		return nil, out, s.toolError(err)
	}
	out.Results = make([]mcpPassage, len(hits))
	var b strings.Builder
	if len(hits) == 0 {
		fmt.Fprintf(&b, "No passages in %s match %q.", k.Name, in.Query)
	}
	for i, h := range hits {
		title := h.Title
		if title == "" {
			title = h.ExternalID
		}
		out.Results[i] = mcpPassage{ChunkID: h.ChunkID, DocumentID: h.DocumentID, Title: title, Page: h.Page, Score: h.Score, Content: h.Content}
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "[%d] %s", i+1, title)
		if h.Page > 0 {
			fmt.Fprintf(&b, " (page %d)", h.Page)
		}
		fmt.Fprintf(&b, " score %.2f\n%s", h.Score, h.Content)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, out, nil
}

type mcpAnswerInput struct {
	KnowledgeBase string `json:"knowledge_base" jsonschema:"the knowledge base's name or id"`
	Question      string `json:"question" jsonschema:"the customer's question"`
}

type mcpAnswerOutput struct {
	Answer string `json:"answer"`
	zhikuExtra
}

func (s *Server) mcpAnswer(ctx context.Context, req *mcp.CallToolRequest, in mcpAnswerInput) (*mcp.CallToolResult, mcpAnswerOutput, error) {
	var out mcpAnswerOutput
	p, err := mcpPrincipal(req)
	if err != nil {
		return nil, out, s.toolError(err)
	}
	ar, err := s.answerInput(ctx, p, questionInput{KB: in.KnowledgeBase, Question: in.Question, Channel: "mcp"})
	if err != nil {
		return nil, out, s.toolError(err)
	}
	resp, err := s.deps.Answers.Answer(ctx, ar)
	if err != nil {
		return nil, out, s.toolError(err)
	}
	out = mcpAnswerOutput{Answer: resp.Answer, zhikuExtra: *extraOf(resp)}
	var b strings.Builder
	b.WriteString(resp.Answer)
	if len(out.Citations) > 0 {
		b.WriteString("\n\nSources:")
		for i, ct := range out.Citations {
			n := ct.Index
			if n <= 0 {
				n = i + 1
			}
			fmt.Fprintf(&b, "\n[%d] %s", n, ct.Title)
			if ct.Page > 0 {
				fmt.Fprintf(&b, " (page %d)", ct.Page)
			}
		}
	}
	fmt.Fprintf(&b, "\n\nanswered: %t; handoff: %t", resp.Answered, resp.Handoff)
	if resp.HandoffReason != "" {
		fmt.Fprintf(&b, " (%s)", resp.HandoffReason)
	}
	fmt.Fprintf(&b, "; source: %s; confidence: %.2f; answer_id: %s", resp.Source, resp.Confidence, resp.AnswerID)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, out, nil
}

// toolError turns an error into the message of a tool error result (isError), which the
// calling model reads: the user-facing text in both languages for known errors, a generic
// one for the rest, which is logged here.
func (s *Server) toolError(err error) error {
	ae := classify(err)
	if ae.Status >= 500 {
		s.log.Error("mcp tool failed", "error", err)
	}
	return errors.New(joinedForDisplay(ae.Message, ae.MessageZh))
}
