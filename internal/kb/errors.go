package kb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

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
	// Cause is the error this one reports, if any: errors.Is and errors.As see it too.
	Cause error
}

func (e *Error) Error() string {
	kind := e.Kind
	for {
		inner, ok := kind.(*Error)
		if !ok {
			break
		}
		kind = inner.Kind // En already says what the inner kinds' messages say
	}
	switch {
	case kind != nil:
		return kind.Error() + ": " + e.En
	case e.Cause != nil && !strings.Contains(e.En, e.Cause.Error()):
		return e.En + ": " + e.Cause.Error()
	}
	return e.En
}

// Unwrap makes errors.Is(err, e.Kind) (and the Cause's kinds) hold.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.Cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Plain is an error of no kind (a 500 if it reaches the API) whose message an operator
// still reads in both languages: a provider's bad reply, a job's internal failure.
func Plain(en, zh string) error { return &Error{En: en, Zh: zh} }

// Invalid is an ErrInvalid naming the rule broken, in both languages.
func Invalid(en, zh string) error { return &Error{Kind: ErrInvalid, En: en, Zh: zh} }

// NotSupported is an ErrNotSupported saying what is not offered and why, in both languages.
func NotSupported(en, zh string) error { return &Error{Kind: ErrNotSupported, En: en, Zh: zh} }

// TooLarge is an ErrTooLarge naming the limit, in both languages.
func TooLarge(en, zh string) error { return &Error{Kind: ErrTooLarge, En: en, Zh: zh} }

// Unsupported is an ErrUnsupported naming what cannot be read, in both languages.
func Unsupported(en, zh string) error { return &Error{Kind: ErrUnsupported, En: en, Zh: zh} }

// Conflict is an ErrConflict naming what is in the way, in both languages.
func Conflict(en, zh string) error { return &Error{Kind: ErrConflict, En: en, Zh: zh} }

// NewError is an error of any kind (a sentinel of this package, or an error wrapping one,
// such as a parser's ErrCorrupt) with its message in both languages.
func NewError(kind error, en, zh string) *Error { return &Error{Kind: kind, En: en, Zh: zh} }

// Texts returns err's user-facing message in both languages: those of the outermost
// Bilingual error (an *Error...) in its chain, or err.Error() and "" for an error that carries no Chinese.
func Texts(err error) (en, zh string) {
	if err == nil {
		return "", ""
	}
	var b Bilingual
	if errors.As(err, &b) {
		return b.Texts()
	}
	return err.Error(), ""
}

// Bilingual is an error that composes its message in both languages from its fields (an
// *Error, a list of bad rows); Texts finds the outermost one in an error's chain.
type Bilingual interface {
	error
	Texts() (en, zh string)
}

// Texts returns the message in both languages.
func (e *Error) Texts() (en, zh string) { return e.En, e.Zh }

// Text is a message in both languages that is not an error: a job's warning, a note.
// It travels as {"message","message_zh"}, like the API's errors.
type Text struct {
	En string `json:"message"`
	Zh string `json:"message_zh"`
}

// T is a Text.
func T(en, zh string) Text { return Text{En: en, Zh: zh} }

// TextOf is err's message as a Text (see Texts).
func TextOf(err error) Text {
	en, zh := Texts(err)
	return Text{En: en, Zh: zh}
}

// String is the English message, for logs and the CLI.
func (t Text) String() string { return t.En }

// UnmarshalJSON reads a Text, or a plain string as written before messages had two fields
// (its English and Chinese then stand together in En).
func (t *Text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text{En: s}
		return nil
	}
	type plain Text
	return json.Unmarshal(b, (*plain)(t))
}

// Detailf is kind (an *Error, or an error wrapping one) with a detail added to the message
// in both languages: technical text that reads the same in either, such as a count, a
// library's error or a part's name. The result still matches kind with errors.Is.
func Detailf(kind error, format string, args ...any) *Error {
	en, zh := Texts(kind)
	d := fmt.Sprintf(format, args...)
	if zh == "" {
		zh = en
	}
	return &Error{Kind: kind, En: en + ": " + d, Zh: zh + "：" + d}
}
