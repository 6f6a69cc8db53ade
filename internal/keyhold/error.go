// Package keyhold holds the vocabulary every other package shares: the
// coded error type and the identifiers of accounts and keys. It imports
// nothing internal, so any package may depend on it.
package keyhold

import (
	"errors"
	"fmt"
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
