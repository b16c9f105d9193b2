package answer

import (
	"context"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

// Turn is one earlier message of the conversation: role "user" (the customer) or
// "assistant" (the bot).
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Message is one message sent to the chat model.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// Request is one question to answer.
type Request struct {
	KB         kb.KnowledgeBase
	Question   string
	History    []Turn // the conversation so far, oldest first, without Question
	SessionID  string
	Channel    string
	CustomerID string
	Filter     kb.Filter
	Debug      bool // fill Response.Debug
	// NoLog leaves the exchange out of the log (the admin UI's hit test, evaluations).
	NoLog bool
}

// Citation is a passage an answer rests on; Index is its [n] in a generated answer.
type Citation struct {
	Index      int     `json:"index"`
	ChunkID    int64   `json:"chunk_id"`
	DocumentID int64   `json:"document_id"`
	ExternalID string  `json:"external_id"`
	Title      string  `json:"title"`
	Snippet    string  `json:"snippet"`
	Page       int     `json:"page"`
	Score      float64 `json:"score"`
}

// Response is the answer to a Request.
type Response struct {
	AnswerID       string     `json:"answer_id"`
	Answer         string     `json:"answer"`
	Answered       bool       `json:"answered"`
	Handoff        bool       `json:"handoff"`
	HandoffReason  string     `json:"handoff_reason"`
	Confidence     float64    `json:"confidence"`
	Source         string     `json:"source"` // kb.SourceCurated, SourceGenerated, SourceExtractive or SourceNone
	RewrittenQuery string     `json:"rewritten_query"`
	Language       string     `json:"language"` // "zh" or "en": the question's
	Citations      []Citation `json:"citations"`
	CuratedID      int64      `json:"curated_id,omitempty"` // the FAQ's id for a curated answer from the faqs table
	Cached         bool       `json:"cached"`
	LatencyMS      float64    `json:"latency_ms"`
	// Degraded says what the answer had to do without, when a provider failed: "vector leg
	// unavailable, text search only: …", "curated questions matched by wording only: …".
	// Empty when nothing was missing. Such an answer is not cached.
	Degraded string `json:"degraded,omitempty"`
	Debug    *Debug `json:"debug,omitempty"`
}

// Debug shows each step of the pipeline.
type Debug struct {
	Normalized      string             `json:"normalized"`
	Language        string             `json:"language"`
	CuratedMatch    *CuratedDebug      `json:"curated_match,omitempty"`
	Rewrite         string             `json:"rewrite"` // "none", "heuristic" or "llm"
	Hits            []kb.Hit           `json:"hits"`
	ConfidenceParts map[string]float64 `json:"confidence_parts,omitempty"`
	Threshold       float64            `json:"threshold"`
	Composer        string             `json:"composer"` // curated, llm, extractive, catalog, none
	LLMError        string             `json:"llm_error,omitempty"`
	Degraded        string             `json:"degraded,omitempty"` // as Response.Degraded
	StepsMS         map[string]float64 `json:"steps_ms"`
}

// CuratedDebug is the best curated candidate, matched or not.
type CuratedDebug struct {
	Ref       string  `json:"ref"`
	Question  string  `json:"question"`
	Matched   string  `json:"matched"` // the phrasing that scored best
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
}

// Suggestion is one reply proposed to a human agent.
type Suggestion struct {
	Text      string     `json:"text"`
	Source    string     `json:"source"` // curated, generated or extractive
	Score     float64    `json:"score"`
	Citations []Citation `json:"citations"`
}

// Searcher runs hybrid searches; *retrieval.Engine implements it.
type Searcher interface {
	Search(ctx context.Context, r retrieval.Request) ([]kb.Hit, error)
}

// CuratedSource lists a knowledge base's curated entries that are valid now.
type CuratedSource interface {
	CuratedEntries(ctx context.Context, kbID int64) ([]kb.Curated, error)
}

// Chat is an OpenAI-compatible chat model. Stream calls onDelta with each piece of text
// as it arrives and returns the whole text.
type Chat interface {
	Complete(ctx context.Context, msgs []Message) (string, error)
	Stream(ctx context.Context, msgs []Message, onDelta func(string) error) (string, error)
}

// ExchangeSink receives every exchange once answered (the closed loop and the log). It
// must not block: it is called on the request path.
type ExchangeSink interface {
	Record(e kb.Exchange)
}
