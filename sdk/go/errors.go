package keyhold

import (
	"errors"
	"strconv"
	"time"
)

// The kinds of *Error, for errors.Is. Each means that Keyhold gave no
// answer about the key, so the key is neither valid nor refused: answer
// your own client 503 (see Error.RetryAfter), never 401.
var (
	// ErrTimeout: the call ran out of time (the Client's timeout or the
	// context's deadline) before Keyhold answered.
	ErrTimeout = errors.New("keyhold: timed out")
	// ErrCanceled: the caller's context was canceled.
	ErrCanceled = errors.New("keyhold: canceled")
	// ErrUnreachable: no connection to Keyhold (refused, reset, DNS).
	ErrUnreachable = errors.New("keyhold: unreachable")
	// ErrServer: Keyhold answered with a 5xx status, including its own 503
	// UNAVAILABLE when it cannot read an uncached key from its database.
	ErrServer = errors.New("keyhold: server error")
	// ErrBadAnswer: the answer is not a verify answer (not JSON, or a
	// status verify never gives): the base URL probably points elsewhere.
	ErrBadAnswer = errors.New("keyhold: not a verify answer")
	// ErrInvalidBaseURL: the base URL given to New is not an absolute
	// http or https URL.
	ErrInvalidBaseURL = errors.New("keyhold: the base URL must be an absolute http or https URL")
)

// Error is a call to Keyhold that got no answer about the key. Its text
// names the kind and the cause, never the key.
type Error struct {
	// Kind is one of the Err* variables of this package; errors.Is
	// matches it.
	Kind error
	// StatusCode is the HTTP status Keyhold answered, or 0 without one.
	StatusCode int
	// Code is the verify code of the answer when it had one (UNAVAILABLE
	// for Keyhold's own 503), else empty.
	Code Code
	// RetryAfter is the answer's Retry-After, or 0 without one.
	RetryAfter time.Duration
	// Err is the cause (a net or context error), or nil.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := "keyhold: no answer"
	if e.Kind != nil {
		s = e.Kind.Error()
	}
	if e.StatusCode != 0 {
		s += ": HTTP " + strconv.Itoa(e.StatusCode)
	}
	if e.Code != "" {
		s += " " + string(e.Code)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e's kind, so errors.Is(err, ErrTimeout)
// works without errors.As.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded)
// works too.
func (e *Error) Unwrap() error { return e.Err }
