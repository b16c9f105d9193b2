package kb

import "errors"

// Sentinel errors. The store maps database outcomes onto them and the API maps them onto
// HTTP statuses in one place, so callers test with errors.Is instead of inspecting SQL errors.
var (
	// ErrNotFound: the thing does not exist, or exists in another tenant (never say which).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or id is already taken.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule; wrap it with a message that names the field.
	ErrInvalid = errors.New("invalid input")
	// ErrForbidden: the caller is known but lacks the right.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no credentials, or credentials that match nothing.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrTooLarge: an upload or request exceeds a configured limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnsupported: a file type or kind Zhiku cannot read.
	ErrUnsupported = errors.New("unsupported")
)
