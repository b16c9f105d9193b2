package kb

// ConversationQuery selects logged exchanges of one tenant to list, newest first.
type ConversationQuery struct {
	ConversationFilter        // tenant, knowledge bases (nil: all of the tenant's), since, until
	Text               string // a case-insensitive substring of the question, rewritten query or answer
	Channel            string // exact; empty: any
	Customer           string // exact customer id; empty: any
	Session            string // exact session id; empty: any
	Answered           *bool  // nil: either
	Limit              int    // defaults to 50, at most 200
	Offset             int
}

// ConversationPassage is one passage an answer's retrieval found, as logged, with the
// chunk's text when it is still in the knowledge base (Gone when it was re-ingested or
// deleted since).
type ConversationPassage struct {
	ExchangeResult
	Title       string   `json:"title"`
	ExternalID  string   `json:"external_id"`
	Content     string   `json:"content"`
	Page        int      `json:"page,omitempty"`
	SectionPath []string `json:"section_path"`
	Gone        bool     `json:"gone"`
}
