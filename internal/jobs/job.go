package jobs

import (
	"context"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// State is where a job is in its life.
type State string

// Job states. Succeeded, failed and cancelled are final.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Final reports whether a job in state s will not change any more.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Stages of a running job, shown in Progress.Stage.
const (
	StageQueued    = "queued"
	StageParsing   = "parsing"
	StageEmbedding = "embedding"
	StageWriting   = "writing"
	StageDone      = "done"
)

// Kinds a job may be asked to read a file as; "auto" sniffs the content.
var Kinds = []string{"auto", kb.KindManual, kb.KindCatalog, kb.KindTickets, kb.KindFAQ, kb.KindRecords}

// ValidKind reports whether k is one of Kinds.
func ValidKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Spec is what a job was asked to do, fixed at upload.
type Spec struct {
	FileName string         `json:"file_name"`
	Size     int64          `json:"size_bytes"`
	Format   string         `json:"format"` // sniffed from the content at upload: pdf, csv, xlsx, ...
	Kind     string         `json:"kind"`   // auto, manual, catalog, tickets, faq, records
	Metadata map[string]any `json:"metadata,omitempty"`
	Replace  bool           `json:"replace"` // a catalog import removes products missing from the file
}

// Progress is how far a running job has got. Stage is the latest activity.
type Progress struct {
	Stage          string `json:"stage"`
	PagesParsed    int    `json:"pages_parsed"`
	DocumentsDone  int    `json:"documents_done"`
	DocumentsTotal int    `json:"documents_total"`
	ChunksEmbedded int    `json:"chunks_embedded"`
}

// Failure names one document that did not land, and why.
type Failure struct {
	ExternalID string `json:"external_id"`
	Error      string `json:"error"`
}

// MaxFailures bounds how many failed documents a Result lists by name.
const MaxFailures = 20

// Result summarises what a job did to the knowledge base.
type Result struct {
	Kind               string    `json:"kind,omitempty"`   // the kind used (after sniffing)
	Method             string    `json:"method,omitempty"` // how the text was obtained
	Pages              int       `json:"pages"`
	DocumentsNew       int       `json:"documents_new"`
	DocumentsUpdated   int       `json:"documents_updated"`
	DocumentsUnchanged int       `json:"documents_unchanged"`
	DocumentsFailed    int       `json:"documents_failed"`
	DocumentsRemoved   int       `json:"documents_removed"` // pruned by replace
	Chunks             int       `json:"chunks"`
	Warnings           []string  `json:"warnings"`
	Failures           []Failure `json:"failures,omitempty"`
}

// Job is one queued file and everything known about its processing.
type Job struct {
	ID              int64      `json:"id"`
	TenantID        int64      `json:"-"`
	KBID            int64      `json:"kb_id"`
	KBName          string     `json:"knowledge_base"`
	State           State      `json:"state"`
	Spec            Spec       `json:"file"`
	Progress        Progress   `json:"progress"`
	Result          *Result    `json:"result"`
	Error           string     `json:"error"`          // the final error of a failed or cancelled job
	AttemptErrors   []string   `json:"attempt_errors"` // why earlier attempts were retried
	Attempt         int        `json:"attempt"`
	MaxAttempts     int        `json:"max_attempts"`
	CancelRequested bool       `json:"cancel_requested"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	RunAt           time.Time  `json:"run_at"` // when a queued job may start (later while backing off)
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
}

// File is a job's uploaded bytes, kept in the database until the job ends.
type File struct {
	Data     []byte
	Password string // for encrypted PDFs; empty when none was given
}

// NewJob is what enqueueing needs.
type NewJob struct {
	TenantID    int64
	KBID        int64
	Spec        Spec
	File        File
	CreatedBy   string
	MaxAttempts int // defaults to DefaultMaxAttempts
}

// DefaultMaxAttempts bounds how often a job runs before it fails for good.
const DefaultMaxAttempts = 5

// Queue is the job table as workers use it; *store.Store implements it. Methods that take
// a worker name only act while that worker still holds the job, and return kb.ErrNotFound
// otherwise (the lease ran out and another worker took it, or the job was deleted).
type Queue interface {
	// ClaimJob marks the next runnable job running for worker until now+lease, counting an
	// attempt: a queued job whose run_at has come, or a running one whose lease ran out.
	// It returns kb.ErrNotFound when there is none.
	ClaimJob(ctx context.Context, worker string, lease time.Duration) (Job, error)
	// JobFile returns a job's uploaded bytes.
	JobFile(ctx context.Context, id int64) (File, error)
	// HeartbeatJob renews the lease, saves progress and reports whether a cancel was asked.
	HeartbeatJob(ctx context.Context, id int64, worker string, lease time.Duration, p Progress) (cancelRequested bool, err error)
	// RetryJob queues the job again for runAt, recording why this attempt failed.
	RetryJob(ctx context.Context, id int64, worker string, runAt time.Time, attemptErr string, r Result) error
	// RequeueJob hands a job back at once without counting the attempt (graceful stop),
	// keeping what it did so far.
	RequeueJob(ctx context.Context, id int64, worker string, r Result) error
	// FinishJob records a final state and deletes the uploaded bytes.
	FinishJob(ctx context.Context, id int64, worker string, state State, errMsg string, r Result) error
	// GetKB loads the job's knowledge base (id as a decimal string).
	GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error)
}

// Processor does a job's work: it reads the file and writes its documents, calling report
// as it goes (from any goroutine). It returns what it did even when it fails part-way.
// It must return promptly once ctx ends.
type Processor interface {
	Process(ctx context.Context, j Job, k kb.KnowledgeBase, f File, report func(Progress)) (Result, error)
}
