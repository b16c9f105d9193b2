package kb

import "time"

// User is a person who signs in to the admin UI: an operator, an admin or a manufacturer's
// uploader. KBIDs nil means every knowledge base of the tenant, as for API keys.
type User struct {
	ID           int64      `json:"id"`
	TenantID     int64      `json:"tenant_id"`
	Email        string     `json:"email"`
	DisplayName  string     `json:"display_name"`
	Role         Role       `json:"role"`
	KBIDs        []int64    `json:"kb_ids"`
	CreatedAt    time.Time  `json:"created_at"`
	DisabledAt   *time.Time `json:"disabled_at"`
	PasswordHash string     `json:"-"`
}

// UserPatch holds what an admin may change of a user; nil leaves a field as it is.
type UserPatch struct {
	DisplayName  *string
	Role         *Role
	KBIDs        *[]int64 // pointer to nil: all knowledge bases
	Disabled     *bool
	PasswordHash *string
}

// Session is a signed-in admin UI session. Exactly one of UserID, KeyID and AdminKeyHash
// says who signed in; the principal is resolved from it on every request.
type Session struct {
	IDHash       []byte
	TenantID     int64
	UserID       int64
	KeyID        int64
	AdminKeyHash []byte
	ExpiresAt    time.Time
}

// APIKey is an API key as operators see it: never the key itself, only its prefix.
type APIKey struct {
	ID         int64      `json:"id"`
	TenantID   int64      `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       Role       `json:"role"`
	KBIDs      []int64    `json:"kb_ids"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	ExpiresAt  *time.Time `json:"expires_at"` // nil: never
	RateLimit  *float64   `json:"rate_limit"` // requests per second; nil: the server's default, 0: unlimited
}

// AuditRecord is a stored audit log line, as the audit view lists it.
type AuditRecord struct {
	ID        int64          `json:"id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Details   map[string]any `json:"details"`
	RequestID string         `json:"request_id"`
	CreatedAt time.Time      `json:"created_at"`
}
