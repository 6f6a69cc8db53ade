// Package audit defines the entries of Keyhold's append-only audit log:
// who did what to which resource, when, and from which address. Services
// build entries; the store writes them in the same transaction as the change
// they describe, so the log never claims a change that did not happen.
package audit

import "time"

// Actions recorded in the log.
const (
	KeyCreated = "key.created"
	KeyRenamed = "key.renamed"
	KeyEdited  = "key.edited"
	KeyRotated = "key.rotated"
	KeyRevoked = "key.revoked"
)

// Entry is one line of the audit log.
type Entry struct {
	ID         string
	AccountID  string // the account that owns the target
	ActorID    string // the account that acted; empty for the system
	Action     string
	TargetType string // "key", "account", …
	TargetID   string
	IP         string
	Detail     string // short human summary; never a secret
	CreatedAt  time.Time
}

// Actor is who performs an action, and from where.
type Actor struct {
	AccountID string
	IP        string
}
