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
	// ErrNotSupported: the operation exists but this deployment does not offer it (yet),
	// e.g. re-embedding on Citus; the API answers 501.
	ErrNotSupported = errors.New("not supported")
)

// Error is a user-facing error with its message in both languages, of one sentinel kind
// (ErrInvalid, ErrTooLarge...): the API reads it with errors.As and answers message and
// message_zh as they were written, never by cutting one string apart.
type Error struct {
	Kind error  // the sentinel, for errors.Is and the HTTP status
	En   string // English
	Zh   string // Chinese, for operators
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.En }

// Unwrap makes errors.Is(err, e.Kind) hold.
func (e *Error) Unwrap() error { return e.Kind }

// Invalid is an ErrInvalid naming the rule broken, in both languages.
func Invalid(en, zh string) error { return &Error{Kind: ErrInvalid, En: en, Zh: zh} }

// NotSupported is an ErrNotSupported saying what is not offered and why, in both languages.
func NotSupported(en, zh string) error { return &Error{Kind: ErrNotSupported, En: en, Zh: zh} }

// TooLarge is an ErrTooLarge naming the limit, in both languages.
func TooLarge(en, zh string) error { return &Error{Kind: ErrTooLarge, En: en, Zh: zh} }
