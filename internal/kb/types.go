package kb

import (
	"encoding/json"
	"time"
)

// Tenant isolates customers: keys, users and knowledge bases belong to exactly one tenant.
type Tenant struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// DefaultTenant is the tenant the CLI and ZHIKU_ADMIN_KEY act in when none is named.
const DefaultTenant = "default"

// KnowledgeBase is a searchable collection. Its embedder and dimension are fixed by what its
// chunks were embedded with: queries must use the same model, so both are recorded here.
type KnowledgeBase struct {
	ID             int64           `json:"id"`
	TenantID       int64           `json:"tenant_id"`
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Language       string          `json:"language"`
	Embedder       string          `json:"embedder"`
	EmbeddingModel string          `json:"embedding_model"`
	EmbeddingDim   int             `json:"embedding_dim"`
	Settings       json.RawMessage `json:"settings"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// Languages a knowledge base may declare; it steers segmentation and answer wording.
const (
	LanguageZh = "zh"
	LanguageEn = "en"
)

// ValidLanguage reports whether l is a supported knowledge-base language.
func ValidLanguage(l string) bool { return l == LanguageZh || l == LanguageEn }

// Document kinds, as accepted by `zhiku ingest --kind` and the upload API.
const (
	KindManual  = "manual"
	KindCatalog = "catalog"
	KindTickets = "tickets"
	KindFAQ     = "faq"
	KindRecords = "records"
)

// Role is what an API key or user may do inside its tenant.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin    Role = "admin"    // everything in the tenant, including keys and deleting KBs
	RoleOperator Role = "operator" // curate knowledge, work the gap queue, test retrieval
	RoleUploader Role = "uploader" // upload documents to the KBs it is bound to, and read them
	RoleBot      Role = "bot"      // search, answer and give feedback
)

// ValidRole reports whether r is one of the four roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleUploader, RoleBot:
		return true
	}
	return false
}

// Permission is one right a route needs.
type Permission string

// Permissions checked by the API.
const (
	PermReadKB     Permission = "kb:read"
	PermWriteKB    Permission = "kb:write"    // create and update knowledge bases
	PermDeleteKB   Permission = "kb:delete"   // delete knowledge bases
	PermUpload     Permission = "doc:upload"  // add and replace documents
	PermCurate     Permission = "doc:curate"  // delete documents, FAQs, approvals
	PermSearch     Permission = "search"      // search and answer
	PermGaps       Permission = "gaps"        // read and work the gap queue
	PermManageKeys Permission = "keys:manage" // create and revoke keys
)

var rolePerms = map[Role][]Permission{
	RoleAdmin:    {PermReadKB, PermWriteKB, PermDeleteKB, PermUpload, PermCurate, PermSearch, PermGaps, PermManageKeys},
	RoleOperator: {PermReadKB, PermWriteKB, PermUpload, PermCurate, PermSearch, PermGaps},
	RoleUploader: {PermReadKB, PermUpload},
	RoleBot:      {PermReadKB, PermSearch},
}

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool {
	for _, q := range rolePerms[r] {
		if q == p {
			return true
		}
	}
	return false
}

// Principal is an authenticated caller: who it is, its tenant, its role, and, when the key is
// bound to some knowledge bases, which ones (nil means all of its tenant's).
type Principal struct {
	KeyID    int64  // 0 for the bootstrap admin key
	Name     string // key name or user email, for the audit log
	TenantID int64
	Role     Role
	KBIDs    []int64
	// ExpiresAt is when the key stops working (nil: never); the API checks it on every
	// request, so a cached principal cannot outlive its key.
	ExpiresAt *time.Time
	// RateLimit is the key's own requests per second (nil: the server's default; 0:
	// unlimited).
	RateLimit *float64
}

// CanAccessKB reports whether the principal may touch knowledge base id at all.
func (p Principal) CanAccessKB(id int64) bool {
	if p.KBIDs == nil {
		return true
	}
	for _, k := range p.KBIDs {
		if k == id {
			return true
		}
	}
	return false
}

// KBPatch holds the fields a knowledge-base update may change; nil leaves a field as it is.
type KBPatch struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Language    *string         `json:"language"`
	Settings    json.RawMessage `json:"settings"` // merged into the existing settings object
}

// AuditEntry is one line of the audit log: who did what to which target.
type AuditEntry struct {
	TenantID  int64
	Actor     string
	Action    string // e.g. kb.create, kb.delete, key.create
	Target    string
	Details   map[string]any
	RequestID string
}
