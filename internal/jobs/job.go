package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
	ErrorZh    string `json:"error_zh"`
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
	Warnings           []kb.Text `json:"warnings"`
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
	ErrorZh         string     `json:"error_zh"`       // the same in Chinese
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

// Queue is the job table as the River workers use it; *store.Store implements it. The
// table is the record the API shows; River decides when and where each job runs. Methods
// that change a running job act only while it is running and return kb.ErrNotFound
// otherwise (it finished, or its knowledge base was deleted).
type Queue interface {
	// EnqueueJob stores a job and its file and calls schedule with the new job's id in the
	// same transaction, so the job exists exactly when River has it.
	EnqueueJob(ctx context.Context, n NewJob, schedule Schedule) (Job, error)
	// ScheduleOrphans calls schedule for every unfinished job River does not know yet (queued
	// by an older binary), in one transaction, and returns how many it scheduled.
	ScheduleOrphans(ctx context.Context, schedule Schedule) (int, error)
	GetJob(ctx context.Context, tenantID, id int64) (Job, error)
	ListJobs(ctx context.Context, tenantID, kbID int64, limit int) ([]Job, error)
	CancelJob(ctx context.Context, tenantID, id int64) (Job, error)

	// StartJob marks the job running as attempt, or returns kb.ErrNotFound when it is
	// finished (cancelled while queued, or an earlier run finished it) or gone.
	StartJob(ctx context.Context, id int64, attempt int) (Job, error)
	// JobFile returns a job's uploaded bytes.
	JobFile(ctx context.Context, id int64) (File, error)
	// SaveProgress stores progress and reports whether a cancel was asked.
	SaveProgress(ctx context.Context, id int64, p Progress) (cancelRequested bool, err error)
	// RetryJob queues the job again for runAt, recording why this attempt failed.
	RetryJob(ctx context.Context, id int64, runAt time.Time, attemptErr string, r Result) error
	// RequeueJob shows the job queued again without counting the attempt (the process is
	// stopping; River hands the job to the next worker), keeping what it did so far.
	RequeueJob(ctx context.Context, id int64, r Result) error
	// FinishJob records a final state and deletes the uploaded bytes.
	FinishJob(ctx context.Context, id int64, state State, msg kb.Text, r Result) error
	// GetKB loads the job's knowledge base (id as a decimal string).
	GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error)

	// SetTaskStatus records a knowledge base's maintenance run; TaskStatus reads it back,
	// or kb.ErrNotFound when none ran.
	SetTaskStatus(ctx context.Context, kbID int64, task string, s TaskStatus) error
	TaskStatus(ctx context.Context, kbID int64, task string) (TaskStatus, error)
	// SetDocumentTaskStatus and DocumentTaskStatus are the same for a run over one document.
	SetDocumentTaskStatus(ctx context.Context, kbID, docID int64, task string, s TaskStatus) error
	DocumentTaskStatus(ctx context.Context, kbID, docID int64, task string) (TaskStatus, error)
}

// Schedule hands job id to River inside tx and returns River's id for it.
type Schedule func(ctx context.Context, tx pgx.Tx, id int64, maxAttempts int) (riverID int64, err error)

// TaskStatus is a knowledge base's latest maintenance run (re-index, re-embed).
type TaskStatus struct {
	State      string    `json:"state"` // queued, running, done or failed
	Done       int       `json:"done"`
	Total      int       `json:"total"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Task states.
const (
	TaskQueued  = "queued"
	TaskRunning = "running"
	TaskDone    = "done"
	TaskFailed  = "failed"
)

// Processor does a job's work: it reads the file and writes its documents, calling report
// as it goes (from any goroutine). It returns what it did even when it fails part-way.
// It must return promptly once ctx ends.
type Processor interface {
	Process(ctx context.Context, j Job, k kb.KnowledgeBase, f File, report func(Progress)) (Result, error)
}
