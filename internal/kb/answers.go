package kb

import "time"

// FAQ is a curated question with its answer: the operator's voice. A curated answer is
// returned as written when a customer's question matches the question or any similar one.
type FAQ struct {
	ID               int64      `json:"id"`
	KBID             int64      `json:"kb_id"`
	Question         string     `json:"question"`
	Answer           string     `json:"answer"`
	SimilarQuestions []string   `json:"similar_questions"`
	Tags             []string   `json:"tags"`
	ValidFrom        *time.Time `json:"valid_from,omitempty"`  // not matched before, when set
	ValidUntil       *time.Time `json:"valid_until,omitempty"` // not matched after, when set
	Source           string     `json:"source"`                // FAQSourceAPI or FAQSourceGap
	CreatedBy        string     `json:"created_by"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Where a FAQ came from.
const (
	FAQSourceAPI = "api" // created through the API or the admin UI
	FAQSourceGap = "gap" // an operator's answer to a gap of the closed loop
)

// Curated is one curated entry as the answer pipeline matches it: a FAQ of the faqs table,
// or an entry of an ingested FAQ file (a ready document of kind faq).
type Curated struct {
	Ref        string // "faq:<id>" for a FAQ, "doc:<document id>" for an ingested entry
	FAQID      int64  // the FAQ's id, 0 for an ingested entry
	DocumentID int64  // the document's id, 0 for a FAQ
	Question   string
	Similar    []string
	Answer     string
}

// Answer sources.
const (
	SourceCurated    = "curated"
	SourceGenerated  = "generated"
	SourceExtractive = "extractive"
	SourceNone       = "none"
)

// ExchangeResult is one passage an answer's retrieval found, as logged.
type ExchangeResult struct {
	ChunkID    int64   `json:"chunk_id"`
	DocumentID int64   `json:"document_id"`
	Score      float64 `json:"score"`
	Cited      bool    `json:"cited,omitempty"`
}

// Exchange is one question and Zhiku's answer, logged for the closed loop and analytics.
type Exchange struct {
	AnswerID       string           `json:"answer_id"`
	TenantID       int64            `json:"tenant_id"`
	KBID           int64            `json:"kb_id"`
	SessionID      string           `json:"session_id"`
	Channel        string           `json:"channel"`
	CustomerID     string           `json:"customer_id"`
	Question       string           `json:"question"`
	RewrittenQuery string           `json:"rewritten_query"`
	Language       string           `json:"language"`
	Answer         string           `json:"answer"`
	Source         string           `json:"source"`
	Answered       bool             `json:"answered"`
	Handoff        bool             `json:"handoff"`
	HandoffReason  string           `json:"handoff_reason"`
	Confidence     float64          `json:"confidence"`
	CuratedRef     string           `json:"curated_ref"` // Curated.Ref of a curated answer
	Results        []ExchangeResult `json:"results"`
	LatencyMS      float64          `json:"latency_ms"`
	CreatedAt      time.Time        `json:"created_at"`
}

// Feedback is a customer's or bot's verdict on one answer.
type Feedback struct {
	AnswerID string `json:"answer_id"`
	TenantID int64  `json:"tenant_id"`
	Helpful  bool   `json:"helpful"`
	Comment  string `json:"comment"`
}
