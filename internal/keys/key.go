package keys

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
)

// Key is an API key as its owner and the verifier see it. It never holds
// the plaintext: that exists only as a Secret, once.
type Key struct {
	ID        string
	AccountID string
	Name      string
	Display   string // kh_live_…abcd
	Scopes    []string
	// Meta is the metadata object as stored, JSON text: compact and checked
	// by CheckMeta when Keyhold wrote it, but passed through unchecked when
	// read, so that a value stored before a rule existed never breaks a
	// read (see ReadableMeta). {} when there is none.
	Meta      json.RawMessage
	ExpiresAt *time.Time
	RevokedAt *time.Time
	// IPAllowlist are the only client addresses the key verifies from
	// (ParseAllowlist's form: masked, IPv4 unmapped); empty: any address.
	IPAllowlist []netip.Prefix
	// OldSecretUntil is when the previous secret stops working, while a
	// rotation's grace period runs (Service.Get); nil: only the current
	// secret works. Only FindKeys by ID fills it.
	OldSecretUntil *time.Time
	LastUsed       *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// CreatedBy is the id of the user who made the key ("" for the
	// operator's tools); CreatedByEmail their email, filled by the reads
	// that show it ("" when unknown or the user is gone).
	CreatedBy      string
	CreatedByEmail string
	// Operator overrides of the plan's limits; nil means the plan's.
	RateOverride, BurstOverride *int
	QuotaOverride               *int64
}

// Key statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
	StatusExpired = "expired"
)

// Status returns the key's status at now.
func (k *Key) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return StatusRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StatusExpired
	}
	return StatusActive
}

// Store errors.
var (
	// ErrNotFound: no such key, or it belongs to another account.
	ErrNotFound = errors.New("keys: not found")
	// ErrLimit: the account already holds as many live keys as its plan allows.
	ErrLimit = errors.New("keys: key limit reached")
	// ErrSuspended: the account is suspended and may have no new keys.
	ErrSuspended = errors.New("keys: account suspended")
)

// Store is what the key service needs from the database. Every method that
// changes a key writes its audit entry in the same transaction.
type Store interface {
	// CreateKey inserts k, overrides included, with the hash of its first
	// secret, unless the account is unknown (ErrNotFound), suspended
	// (ErrSuspended) or already holds maxKeys keys that are not revoked
	// (ErrLimit), all read in the same transaction.
	CreateKey(ctx context.Context, k *Key, hash [32]byte, maxKeys int, e audit.Entry) error
	// FindKeys returns the keys f selects, newest first, with their
	// owners' emails. With f.ID set it fills OldSecretUntil: the latest
	// end of a secret rotated away (in the past too: the service decides).
	FindKeys(ctx context.Context, f KeyFilter) ([]OwnedKey, error)
	// UpdateKey stores name, scopes, meta, expiry and IP allow-list.
	UpdateKey(ctx context.Context, k *Key, e audit.Entry) error
	// RevokeKey marks the key revoked at at; ErrNotFound if it is not the
	// account's or is revoked already.
	RevokeKey(ctx context.Context, accountID, id string, at time.Time, e audit.Entry) error
	// RotateKey gives the key a new secret and display form; its current
	// secrets stop working at oldUntil (now: at once).
	RotateKey(ctx context.Context, accountID, id string, hash [32]byte, display string, now, oldUntil time.Time, e audit.Entry) error
	// ExpireOldSecrets ends at at every secret of the key that would work
	// past at (the previous secret in a rotation's grace period), keeping
	// them so that they answer EXPIRED; ErrNotFound when the key is not
	// the account's, is revoked, or has no such secret.
	ExpireOldSecrets(ctx context.Context, accountID, id string, at time.Time, e audit.Entry) error
	// AccountPlan returns the id of the account's plan.
	AccountPlan(ctx context.Context, accountID string) (string, error)
	// KeyUsageHourly returns a key's hourly usage from since on, oldest
	// first.
	KeyUsageHourly(ctx context.Context, keyID string, since time.Time) ([]HourlyUsage, error)
	// AccountUsageHourly returns the usage of all of an account's keys
	// summed per hour from since on, oldest first.
	AccountUsageHourly(ctx context.Context, accountID string, since time.Time) ([]HourlyUsage, error)

	// The operator's views of every account's keys (operator.go).

	// OverrideKey sets a key's rate, burst and quota overrides (nil: the
	// plan's), or ErrNotFound.
	OverrideKey(ctx context.Context, keyID string, rate, burst *int, quota *int64, e audit.Entry) error
	// UsageByHour returns every key's usage summed per hour from since on,
	// oldest first.
	UsageByHour(ctx context.Context, since time.Time) ([]HourlyUsage, error)
	// TopKeys returns the limit keys with the most verifications from
	// since on, most first.
	TopKeys(ctx context.Context, since time.Time, limit int) ([]KeyVolume, error)
	// KeyVolumes returns the usage of each of keyIDs from since on; keys
	// without usage are left out.
	KeyVolumes(ctx context.Context, keyIDs []string, since time.Time) (map[string]UsageCounts, error)
	// QuotaUsedByAccount returns, for each account of windows, the quota
	// its keys used in the window starting at windows[account].
	QuotaUsedByAccount(ctx context.Context, windows map[string]time.Time) (map[string]int64, error)
}

// UsageCounts are verifications of a key by outcome; Cost is the quota
// units the valid ones took.
type UsageCounts struct {
	Valid, RateLimited, QuotaExceeded int64
	ScopeDenied                       int64 // INSUFFICIENT_SCOPE
	TokenIssued                       int64 // VALID exchanges of the key for a token (POST /v1/tokens)
	Invalid                           int64 // REVOKED, EXPIRED, DISABLED, FORBIDDEN; before 0012 also INSUFFICIENT_SCOPE
	Cost                              int64
}

// HourlyUsage is one UTC hour of a key's usage.
type HourlyUsage struct {
	Hour time.Time
	UsageCounts
}

// DailyUsage is one UTC day of a key's usage.
type DailyUsage struct {
	Day time.Time
	UsageCounts
}

// EndGrace clears OldSecretUntil when the rotation's grace period is over
// at now, or the key is revoked: pages show the previous secret's end only
// while that secret still works.
func (k *Key) EndGrace(now time.Time) {
	if k.OldSecretUntil != nil && (!k.OldSecretUntil.After(now) || k.RevokedAt != nil) {
		k.OldSecretUntil = nil
	}
}
