package kb

import (
	"encoding/json"
	"time"
)

// Gap statuses.
const (
	GapOpen      = "open"
	GapResolved  = "resolved"
	GapDismissed = "dismissed"
)

// Why a question became a gap occurrence.
const (
	ReasonUnanswered    = "unanswered"     // answered: false
	ReasonLowConfidence = "low_confidence" // answered, but barely above the threshold
	ReasonHandoff       = "handoff"        // handed to a person
	ReasonThumbsDown    = "thumbs_down"    // feedback helpful: false
	ReasonSearchMiss    = "search_miss"    // a search (API, Dify) found nothing above its threshold
)

// Gap is one missing piece of knowledge: look-alike questions that Zhiku could not answer
// well, grouped, for an operator to resolve or dismiss.
type Gap struct {
	ID              int64      `json:"id"`
	TenantID        int64      `json:"-"`
	KBID            int64      `json:"kb_id"`
	Question        string     `json:"question"` // the representative question
	Samples         []string   `json:"sample_questions"`
	Count           int        `json:"count"`
	Channels        []string   `json:"channels"`
	Status          string     `json:"status"`
	Assignee        string     `json:"assignee"`
	FAQID           *int64     `json:"faq_id"` // the curated answer that resolved it
	ResolvedBy      string     `json:"resolved_by,omitempty"`
	ResolvedAt      *time.Time `json:"resolved_at,omitempty"`
	DismissedReason string     `json:"dismissed_reason,omitempty"`
	Hits            int        `json:"hits"` // answers from its curated answer since it was resolved
	LastHitAt       *time.Time `json:"last_hit_at,omitempty"`
	FirstSeen       time.Time  `json:"first_seen"`
	LastSeen        time.Time  `json:"last_seen"`
	Last24h         int        `json:"last_24h"`     // occurrences in the last 24 hours
	Previous24h     int        `json:"previous_24h"` // occurrences in the 24 hours before
	Trend           string     `json:"trend"`        // up, down or flat: Last24h against Previous24h
	Impact          float64    `json:"impact"`       // frequency × recency; the default order
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// GapOccurrence is one question that is (part of) a gap.
type GapOccurrence struct {
	ID             int64           `json:"id"`
	GapID          int64           `json:"gap_id"`
	KBID           int64           `json:"kb_id"`
	AnswerID       string          `json:"answer_id"` // empty for a search miss
	Reason         string          `json:"reason"`    // Reason*
	Question       string          `json:"question"`
	RewrittenQuery string          `json:"rewritten_query"`
	SessionID      string          `json:"session_id"`
	Channel        string          `json:"channel"`
	CustomerID     string          `json:"customer_id"`
	Confidence     float64         `json:"confidence"`
	Results        json.RawMessage `json:"results"` // []ExchangeResult: the passages retrieved, with scores
	CreatedAt      time.Time       `json:"created_at"`
}

// GapFilter selects gaps of one tenant.
type GapFilter struct {
	TenantID int64
	KBIDs    []int64 // nil: every knowledge base of the tenant
	Status   string  // empty: any
	Channel  string  // empty: any
	Since    time.Time
	Sort     string // GapSortImpact (default), GapSortCount or GapSortLastSeen
	Limit    int    // defaults to 50, at most 500
	Offset   int
}

// Orders of a gap list.
const (
	GapSortImpact   = "impact"
	GapSortCount    = "count"
	GapSortLastSeen = "last_seen"
)

// ReviewItem is something curated awaiting an operator's review besides gaps: a
// ticket-derived Q&A document held for review, or a curated answer whose source document
// changed.
type ReviewItem struct {
	Type        string    `json:"type"` // "document" or "faq"
	KBID        int64     `json:"kb_id"`
	ID          int64     `json:"id"` // the document's or the FAQ's id
	Title       string    `json:"title"`
	Kind        string    `json:"kind,omitempty"` // the document's kind (tickets)
	Reason      string    `json:"reason"`
	ReasonZh    string    `json:"reason_zh"` // Reason in Chinese (empty when only English was recorded)
	ApprovePath string    `json:"approve_path,omitempty"`
	RejectPath  string    `json:"reject_path,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// DayStats are one knowledge base's figures of one day (UTC).
type DayStats struct {
	KBID             int64    `json:"kb_id"`
	KnowledgeBase    string   `json:"knowledge_base"`
	Day              string   `json:"day"` // YYYY-MM-DD
	Questions        int      `json:"questions"`
	Answered         int      `json:"answered"`
	AnsweredRate     float64  `json:"answered_rate"`
	CuratedShare     float64  `json:"curated_share"` // of the answered questions
	GeneratedShare   float64  `json:"generated_share"`
	ExtractiveShare  float64  `json:"extractive_share"`
	Handoffs         int      `json:"handoffs"`
	HandoffRate      float64  `json:"handoff_rate"`
	Feedback         int      `json:"feedback"`
	ThumbsDown       int      `json:"thumbs_down"`
	ThumbsDownRate   float64  `json:"thumbs_down_rate"` // of the answers that got feedback
	OpenGaps         int      `json:"open_gaps"`        // open at the end of the day
	GapsOpened       int      `json:"gaps_opened"`
	GapsResolved     int      `json:"gaps_resolved"`
	MedianResolveHrs *float64 `json:"median_hours_to_resolve"` // of the gaps resolved that day; null when none
	ResolvedGapHits  int      `json:"resolved_gap_hits"`       // answers from a resolved gap's curated answer
}

// GapCandidate is an open gap as grouping compares a new question with it.
type GapCandidate struct {
	ID       int64
	Question string
	Samples  []string
	Count    int
	Cosine   float64 // of the question's vector and the gap's mean vector
}

// NewOccurrence is a question to file under a gap: GapID's, or a new gap's when GapID is 0
// (or when GapID stopped being open meanwhile).
type NewOccurrence struct {
	TenantID   int64
	GapID      int64
	Occurrence GapOccurrence
	Vector     []float32
}

// ConversationFilter selects logged exchanges of one tenant to export.
type ConversationFilter struct {
	TenantID     int64
	KBIDs        []int64 // nil: every knowledge base of the tenant
	Since, Until time.Time
}

// TopQuestion is one question as the dashboard ranks the most asked (or most often
// unanswered) ones of a knowledge base: the phrasings that normalise alike (case, width,
// spaces and punctuation aside) counted together, shown in their commonest phrasing.
type TopQuestion struct {
	KBID          int64  `json:"kb_id"`
	KnowledgeBase string `json:"knowledge_base"`
	Question      string `json:"question"`
	Count         int    `json:"count"`      // times asked in the window
	Answered      int    `json:"answered"`   // of which answered
	Unanswered    int    `json:"unanswered"` // of which not answered
}
