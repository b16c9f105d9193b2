package kb

import (
	"encoding/json"
	"fmt"
	"time"
)

// Document statuses. Only ready documents are searched; review documents (tickets) wait for
// an operator, who approves them (ready) or rejects them (rejected); failed means ingestion
// failed; superseded ones are older versions kept for audit.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusReview     = "review"
	StatusRejected   = "rejected"
	StatusFailed     = "failed"
	StatusSuperseded = "superseded"
)

// StatusChange moves a current document from one status to another.
type StatusChange struct {
	KBID, DocID int64
	// From is the status the caller read; the UPDATE applies only while the document still
	// has it. Empty accepts any status.
	From string
	// To is the new status; chunks are searched exactly when it is ready.
	To string
	// Detail and DetailZh are the status line operators read, in English and Chinese.
	Detail, DetailZh string
}

// ReviewTarget is the one rule of document review: only a document in review (a mined
// ticket Q&A) can be approved (it becomes ready, and searched) or rejected (rejected);
// anything else is an ErrConflict. A decision is final: an approved document leaves search by
// being deleted or re-ingested. Whoever applies the change conditions its UPDATE on the
// status still being review, so that of two operators acting at once exactly one wins.
func ReviewTarget(from string, approve bool) (string, error) {
	if from != StatusReview {
		return "", Conflict(fmt.Sprintf("the document is %s, not in review", from), fmt.Sprintf("文档状态为 %s，不在待审核状态", from))
	}
	if approve {
		return StatusReady, nil
	}
	return StatusRejected, nil
}

// Document is one version of an ingested file or record in a knowledge base. ExternalID
// (the record id, or the file name) identifies it across versions.
type Document struct {
	ID           int64  `json:"id"`
	KBID         int64  `json:"kb_id"`
	ExternalID   string `json:"external_id"`
	Title        string `json:"title"`
	Kind         string `json:"kind"`
	Version      int    `json:"version"`
	IsCurrent    bool   `json:"is_current"`
	ContentHash  string `json:"content_hash"`
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail"`
	// StatusDetailZh is StatusDetail in Chinese (empty on documents written before it existed).
	StatusDetailZh string         `json:"status_detail_zh"`
	SourceName     string         `json:"source_name"`
	MimeType       string         `json:"mime_type"`
	SizeBytes      int64          `json:"size_bytes"`
	Pages          int            `json:"pages"`
	Chunks         int            `json:"chunks"`
	Metadata       map[string]any `json:"metadata"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// Chunk is a retrievable passage of a document, with what search needs: its embedding
// (made by the knowledge base's model) and its search tokens (from internal/segment).
type Chunk struct {
	ID          int64          `json:"id"`
	DocumentID  int64          `json:"document_id"`
	Ord         int            `json:"ord"`
	Content     string         `json:"content"`
	SectionPath []string       `json:"section_path"`
	Page        int            `json:"page"`
	Metadata    map[string]any `json:"metadata"`
	ContentHash string         `json:"content_hash"`
	Embedding   []float32      `json:"-"`
	Tokens      []string       `json:"-"`
	// Units are the chunk's question-sized texts, matched by the vector leg besides the
	// chunk itself (see ingest.UnitTexts).
	Units []Unit `json:"-"`
}

// Unit kinds: what a question-sized unit of a chunk is.
const (
	UnitPassage   = "passage"   // sentences of a long chunk, packed to question size
	UnitQuestion  = "question"  // an FAQ entry's question or one of its similar questions
	UnitGenerated = "generated" // a customer question an LLM wrote for the chunk at ingest
)

// Unit is a question-sized text that points to its chunk.
type Unit struct {
	Kind      string
	Content   string
	Embedding []float32
}

// Search modes.
const (
	ModeHybrid = "hybrid"
	ModeVector = "vector"
	ModeText   = "text"
)

// ValidMode reports whether m is a search mode.
func ValidMode(m string) bool { return m == ModeHybrid || m == ModeVector || m == ModeText }

// Scores explains a hit: each leg's own score and the fused rank score.
type Scores struct {
	Vector *float64 `json:"vector"`         // cosine similarity, when the vector leg found the chunk
	Text   *float64 `json:"text"`           // BM25 relative to an average-length chunk holding each query term once, 0..1
	BM25   *float64 `json:"bm25,omitempty"` // Okapi BM25 score, when the chunk holds a query term
	Fused  float64  `json:"fused"`          // weighted reciprocal-rank fusion
	Rerank *float64 `json:"rerank,omitempty"`
}

// Hit is one search result.
type Hit struct {
	ChunkID      int64          `json:"chunk_id"`
	DocumentID   int64          `json:"document_id"`
	ExternalID   string         `json:"external_id"`
	Title        string         `json:"title"`
	Content      string         `json:"content"`
	SectionPath  []string       `json:"section_path"`
	Page         int            `json:"page"`
	Kind         string         `json:"kind"`
	Metadata     map[string]any `json:"metadata"`
	Score        float64        `json:"score"` // 0..1, comparable across queries, for thresholds
	Scores       Scores         `json:"scores"`
	MatchedTerms []string       `json:"matched_terms"`
}

// Filter operators on metadata fields.
const (
	OpEq       = "eq"
	OpNe       = "ne"
	OpIn       = "in"
	OpNotIn    = "not_in"
	OpGt       = "gt"
	OpGte      = "gte"
	OpLt       = "lt"
	OpLte      = "lte"
	OpContains = "contains" // string contains, or array contains the value
	OpExists   = "exists"
	OpEmpty    = "empty" // missing, null or ""
)

// Condition restricts results by one field. Field is a metadata key of the chunk or its
// document, or one of the built-ins "kind", "document_id", "external_id", "title".
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value"`
}

// Filter is a set of conditions joined by And (default) or Or.
type Filter struct {
	Or         bool
	Conditions []Condition
}

// Ranked is a chunk id with one search leg's score, in that leg's order.
type Ranked struct {
	ChunkID int64
	Score   float64 // vector leg: cosine similarity; text leg: Okapi BM25 score
}

// TextQuery is one Okapi BM25 full-text search: the chunks holding any of Match are the
// candidates, ranked by the BM25 score of Terms (each with its IDF) with parameters K1 and
// B and the knowledge base's average chunk length in tokens, AvgLen.
type TextQuery struct {
	Match  []string
	Terms  []string
	IDF    []float64
	K1, B  float64
	AvgLen float64
}

// ChunkStats are a knowledge base's live chunk count and their average length in tokens.
type ChunkStats struct {
	Chunks int
	AvgLen float64
}

// Candidate is a hit as loaded for scoring: the result fields, which of the query's search
// terms the chunk holds, and its cosine similarity to the query vector (nil when no vector
// was given).
type Candidate struct {
	Hit
	Terms  []string
	Cosine *float64
	// TF holds each query term's frequency in the chunk (in the order of the terms asked
	// for) and Length the chunk's length in tokens: its BM25 score follows from them.
	TF     []int
	Length int
}

// Dictionary returns the custom words and synonym groups in a knowledge base's settings
// ({"dictionary": ["XR-500", ...], "synonyms": [["退货","退回"], ...]}); both sides of
// search (indexing and querying) segment with them.
func (k KnowledgeBase) Dictionary() (words []string, synonyms [][]string) {
	var s struct {
		Dictionary []string   `json:"dictionary"`
		Synonyms   [][]string `json:"synonyms"`
	}
	if len(k.Settings) > 0 {
		_ = json.Unmarshal(k.Settings, &s) // settings are validated as an object on write
	}
	return s.Dictionary, s.Synonyms
}

// RetrievalSettings are a knowledge base's own search settings, from its settings object
// ({"retrieval": {"fusion": "score", "vector_weight": 0.3, "text_weight": 0.7,
// "bm25": {"k1": 1.2, "b": 0.3}}}). Unset (or invalid) fields leave the engine's defaults.
type RetrievalSettings struct {
	Fusion       string   `json:"fusion"`
	VectorWeight *float64 `json:"vector_weight"`
	TextWeight   *float64 `json:"text_weight"`
	BM25         struct {
		K1 *float64 `json:"k1"`
		B  *float64 `json:"b"`
		// TitleWeight weighs a query term in a chunk's title against one in its text.
		TitleWeight *float64 `json:"title_weight"`
	} `json:"bm25"`
	// Units, when false, makes the vector leg match chunks only, not also their
	// question-sized units (FAQ questions, packed sentences of long chunks). Default true.
	Units *bool `json:"units"`
	// Passages, when true, indexes long chunks' sentences, packed to question size, as
	// units at ingestion. Default false: on generated customer questions whose words come
	// from all over a chunk, matching sentences found the source chunk less often than
	// matching the chunk (see README, question-sized units).
	Passages *bool `json:"passages"`
	// Questions is how many likely customer questions an LLM writes per chunk at
	// ingestion, indexed as units (when the process has an LLM: ZHIKU_LLM_BASE_URL).
	// Default 0: it costs one chat request per chunk written.
	Questions *int `json:"questions"`
	// HNSW are the knowledge base's vector index parameters (its chunks' and its units'):
	// m and ef_construction apply when the index is (re)built, ef_search to every search.
	HNSW HNSWSettings `json:"hnsw"`
}

// HNSWSettings are a knowledge base's HNSW parameters; unset ones take the process's
// (ZHIKU_HNSW_M, ZHIKU_HNSW_EF_CONSTRUCTION, ZHIKU_HNSW_EF_SEARCH).
type HNSWSettings struct {
	M              *int `json:"m"`
	EfConstruction *int `json:"ef_construction"`
	EfSearch       *int `json:"ef_search"`
}

// UseUnits reports whether the vector leg matches question-sized units (the default).
func (s RetrievalSettings) UseUnits() bool { return s.Units == nil || *s.Units }

// Retrieval returns the knowledge base's retrieval settings.
func (k KnowledgeBase) Retrieval() RetrievalSettings {
	var s struct {
		Retrieval RetrievalSettings `json:"retrieval"`
	}
	if len(k.Settings) > 0 {
		_ = json.Unmarshal(k.Settings, &s) // a malformed section leaves the defaults
	}
	return s.Retrieval
}

// ReplaceResult says what writing a document version did.
type ReplaceResult struct {
	Document  Document
	Unchanged bool // the current version already had this content hash; nothing was written
	Replaced  int  // the version that was superseded, 0 for a new document
	// DuplicateOf names another current document of the knowledge base with the same
	// content (a manual uploaded again under another name); nothing was written.
	DuplicateOf string
}

// More filter operators, for Dify's metadata conditions.
const (
	OpNotContains = "not_contains"
	OpNotEmpty    = "not_empty"
	OpStartsWith  = "starts_with"
	OpEndsWith    = "ends_with"
)

// DocumentWrite is one document version to write, with its chunks.
type DocumentWrite struct {
	Doc    Document
	Chunks []Chunk
}

// HNSW bounds of a knowledge base's settings (the same as the process's ZHIKU_HNSW_*).
const (
	MinHNSWM, MaxHNSWM               = 4, 100
	MaxHNSWEfConstruction            = 1000
	MinHNSWEfSearch, MaxHNSWEfSearch = 10, 1000
	// MaxQuestions bounds the generated questions per chunk (retrieval.questions).
	MaxQuestions = 10
)

// ValidateRetrievalSettings checks the retrieval section of a settings object (as a
// knowledge base update sends it) where this package reads it: units must be a boolean;
// hnsw.m 4..100, hnsw.ef_construction 2×m..1000 (8..1000 without m), hnsw.ef_search
// 10..1000, each an integer. Errors are bilingual (ErrInvalid).
func ValidateRetrievalSettings(settings json.RawMessage) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(settings, &top); err != nil || top["retrieval"] == nil {
		return nil // not an object (the caller says so), or no retrieval section
	}
	var r struct {
		Units    *bool           `json:"units"`
		Passages *bool           `json:"passages"`
		HNSW     json.RawMessage `json:"hnsw"`
	}
	var q struct {
		Questions json.RawMessage `json:"questions"`
	}
	if err := json.Unmarshal(top["retrieval"], &r); err != nil {
		return Invalid("settings.retrieval must be an object; units and passages are true or false", "settings.retrieval 必须是对象，units 和 passages 只能是 true 或 false")
	}
	if err := json.Unmarshal(top["retrieval"], &q); err == nil && len(q.Questions) > 0 && string(q.Questions) != "null" {
		var n int
		if err := json.Unmarshal(q.Questions, &n); err != nil || n < 0 || n > MaxQuestions {
			return Invalid(fmt.Sprintf("settings.retrieval.questions must be an integer 0..%d", MaxQuestions),
				fmt.Sprintf("settings.retrieval.questions 须为 0..%d 的整数", MaxQuestions))
		}
	}
	if len(r.HNSW) == 0 || string(r.HNSW) == "null" {
		return nil
	}
	var h HNSWSettings
	if err := json.Unmarshal(r.HNSW, &h); err != nil {
		return Invalid("settings.retrieval.hnsw must be an object of integers m, ef_construction, ef_search", "settings.retrieval.hnsw 必须是对象，m、ef_construction、ef_search 为整数")
	}
	if h.M != nil && (*h.M < MinHNSWM || *h.M > MaxHNSWM) {
		return Invalid(fmt.Sprintf("settings.retrieval.hnsw.m must be %d..%d, got %d", MinHNSWM, MaxHNSWM, *h.M),
			fmt.Sprintf("settings.retrieval.hnsw.m 须在 %d..%d 之间，当前为 %d", MinHNSWM, MaxHNSWM, *h.M))
	}
	if h.EfConstruction != nil {
		least := 2 * MinHNSWM
		if h.M != nil {
			least = 2 * *h.M
		}
		if *h.EfConstruction < least || *h.EfConstruction > MaxHNSWEfConstruction {
			return Invalid(fmt.Sprintf("settings.retrieval.hnsw.ef_construction must be %d (2×m)..%d, got %d", least, MaxHNSWEfConstruction, *h.EfConstruction),
				fmt.Sprintf("settings.retrieval.hnsw.ef_construction 须在 %d（2×m）..%d 之间，当前为 %d", least, MaxHNSWEfConstruction, *h.EfConstruction))
		}
	}
	if h.EfSearch != nil && (*h.EfSearch < MinHNSWEfSearch || *h.EfSearch > MaxHNSWEfSearch) {
		return Invalid(fmt.Sprintf("settings.retrieval.hnsw.ef_search must be %d..%d, got %d", MinHNSWEfSearch, MaxHNSWEfSearch, *h.EfSearch),
			fmt.Sprintf("settings.retrieval.hnsw.ef_search 须在 %d..%d 之间，当前为 %d", MinHNSWEfSearch, MaxHNSWEfSearch, *h.EfSearch))
	}
	return nil
}
