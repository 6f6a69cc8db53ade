// Package keyhold holds the vocabulary every other package shares: the
// coded error type and the identifiers of accounts and keys. It imports
// nothing internal, so any package may depend on it.
package keyhold

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error codes. Each maps to one HTTP status in internal/server/errors.go and
// nowhere else.
const (
	EINVALID      = "invalid"      // bad input from the user
	ENOTFOUND     = "not_found"    // no such thing, or not yours to see
	ECONFLICT     = "conflict"     // already exists
	EUNAUTHORIZED = "unauthorized" // not logged in, bad credentials
	EFORBIDDEN    = "forbidden"    // logged in but not allowed
	ETOOMANY      = "too_many"     // throttled
	ELIMIT        = "limit"        // a plan limit was reached
	EUNAVAILABLE  = "unavailable"  // a dependency is down; try again
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is a failure with a code callers decide on and a message that is
// safe to show to the user. Internal details belong in a wrapped error, never
// in Message.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, for logs only
	// Fields, for EINVALID, says which inputs of a form are wrong and why
	// (FieldErrors.Err makes them); empty for an error of the whole form.
	Fields FieldErrors
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the Message of its
// *Error, or a generic sentence for anything else so internals never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// FieldError is what is wrong with one input of a form: Field is the
// form field's name ("name", "scopes", …), Message a sentence for the
// user, shown under that input.
type FieldError struct {
	Field   string
	Message string
}

// FieldErrors collects every problem of one submission, in the order of
// the form's fields, so a form can show them all at once instead of one
// per submit. The zero value is ready to use.
type FieldErrors []FieldError

// Add records msg for field; a field keeps only its first message, the
// one that says what to fix first.
func (fe *FieldErrors) Add(field, msg string) {
	if fe.Has(field) {
		return
	}
	*fe = append(*fe, FieldError{Field: field, Message: msg})
}

// AddErr records err's public message for field; nil is nothing. It
// returns whether err was nil, so callers can go on checking a value
// only while it is sound.
func (fe *FieldErrors) AddErr(field string, err error) bool {
	if err == nil {
		return true
	}
	fe.Add(field, ErrorMessage(err))
	return false
}

// InOrder sorts fe by the position of each field in fields (the form's
// order); fields not named go last, in the order they were added.
func (fe FieldErrors) InOrder(fields ...string) {
	pos := func(f string) int {
		if i := slices.Index(fields, f); i >= 0 {
			return i
		}
		return len(fields)
	}
	slices.SortStableFunc(fe, func(a, b FieldError) int { return pos(a.Field) - pos(b.Field) })
}

// Has reports whether field has a message.
func (fe FieldErrors) Has(field string) bool {
	for _, f := range fe {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns nil when there is nothing to report, else an EINVALID
// *Error carrying every field's message (see Fields). Its Message is the
// fields' messages one after the other, so a caller that shows only
// Message (a command line, a flash) still says everything.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	msgs := make([]string, len(fe))
	for i, f := range fe {
		msgs[i] = f.Message
	}
	return &Error{Code: EINVALID, Message: strings.Join(msgs, " "), Fields: slices.Clone(fe)}
}

// Fields returns the per-field messages of err, field name → message, or
// nil when err carries none (a form-level error, or nil).
func Fields(err error) map[string]string {
	var e *Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return nil
	}
	m := make(map[string]string, len(e.Fields))
	for _, f := range e.Fields {
		m[f.Field] = f.Message
	}
	return m
}
