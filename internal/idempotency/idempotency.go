// Package idempotency is the vocabulary of Idempotency-Key (DESIGN
// "Management API"): a first answer kept per root key and key for a day,
// and the store that keeps it in the database so that every instance
// replays it. The management API's middleware applies it. The headers and
// the rule for a key are shared with /v1/verify and /v1/tokens, whose
// answers are kept ten minutes in memory and Redis (verify.Replays).
package idempotency

import (
	"context"
	"errors"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Headers of an idempotent request and of its replayed answer.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// KeyRule says what CheckKey accepts, for the answer that refuses a key.
const KeyRule = "Idempotency-Key must be 1 to 255 characters of visible text; a UUID is a good choice."

// ErrKey is CheckKey's answer for a key it refuses.
var ErrKey = errors.New("idempotency: the key is not 1 to 255 characters of visible text")

// CheckKey reports whether key is a usable Idempotency-Key: not empty, at
// most MaxKey bytes, valid UTF-8 without control or invisible characters
// (keyhold.CheckText), so that what is kept under it can be named in a log
// and typed again.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKey || keyhold.CheckText(Header, key) != nil {
		return ErrKey
	}
	return nil
}

// Limits of Idempotency-Key.
const (
	MaxKey = 255            // characters
	TTL    = 24 * time.Hour // how long a first answer is kept and replayed
	// Abandoned is how long a claim may stay running before it is taken
	// to be lost (its instance died mid-request) and may be claimed
	// again: far longer than any request runs.
	Abandoned = 5 * time.Minute
)

// Record is a kept first answer. Status 0: the first request is still
// running (or died running; it is taken over after Abandoned).
type Record struct {
	RequestHash string
	Status      int
	Headers     map[string]string
	Body        []byte
	CreatedAt   time.Time
}

// ErrTaken is Claim's answer when another request holds the key: the
// kept record comes with it.
var ErrTaken = errors.New("idempotency: key taken")

// Store keeps records per root key and Idempotency-Key.
type Store interface {
	// ClaimIdempotency records that the request of hash runs under key,
	// unless a record younger than since exists (or, still running, one
	// younger than running): then it returns that record and ErrTaken.
	// An older record is replaced.
	ClaimIdempotency(ctx context.Context, rootKeyID, key, hash string, now, since, running time.Time) (*Record, error)
	// FinishIdempotency keeps the answer of a claimed request.
	FinishIdempotency(ctx context.Context, rootKeyID, key string, status int, headers map[string]string, body []byte) error
	// ReleaseIdempotency forgets a claim whose request failed on our
	// side, so that a retry runs again.
	ReleaseIdempotency(ctx context.Context, rootKeyID, key string) error
	// SweepIdempotency deletes records older than before.
	SweepIdempotency(ctx context.Context, before time.Time) error
}
