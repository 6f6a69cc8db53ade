// Package rootkey owns root keys: the kh_root_ credentials that
// authenticate the management API (DESIGN "Management API"). An operator
// creates one with a name and permissions and sees it once; the API
// authenticates every call with it; the operator revokes it.
//
// A root key uses the scheme of API keys (keys.Root: the same generator,
// checksum and SHA-256 at rest) under its own prefix, so neither kind of
// key is ever accepted where the other is expected.
package rootkey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// MaxNameLen bounds a root key's name, in characters.
const MaxNameLen = 64

// LastUseEvery is how often, at most, a key's last use is written: a burst
// of calls with one key writes once, not once per call.
const LastUseEvery = time.Minute

// RootKey is a root key as stored: never its secret.
type RootKey struct {
	ID          string
	Name        string
	Display     string   // kh_root_…abcd
	Permissions []string // in the order of Permissions
	CreatedBy   string   // the operator's user id; empty: the command line
	// CreatedByEmail is the creator's email, filled in by List; empty for
	// the command line or a user since gone.
	CreatedByEmail string
	CreatedAt      time.Time
	LastUsedAt     *time.Time // nil: never used
	RevokedAt      *time.Time // nil: active
}

// Has reports whether the key holds the permission.
func (k *RootKey) Has(permission string) bool { return slices.Contains(k.Permissions, permission) }

// ErrNotFound is what a Store returns for no such root key (or, from
// RevokeRootKey, one already revoked).
var ErrNotFound = errors.New("rootkey: not found")

// Store keeps root keys. Every write that changes a key appends its audit
// entry in the same transaction.
type Store interface {
	// CreateRootKey stores k with the SHA-256 of its secret.
	CreateRootKey(ctx context.Context, k *RootKey, hash [32]byte, e audit.Entry) error
	// RootKeys returns every root key, newest first.
	RootKeys(ctx context.Context) ([]RootKey, error)
	// RootKey returns one key, or ErrNotFound.
	RootKey(ctx context.Context, id string) (*RootKey, error)
	// RootKeyByHash returns the key whose secret has the hash, revoked or
	// not, or ErrNotFound; one indexed lookup.
	RootKeyByHash(ctx context.Context, hash [32]byte) (*RootKey, error)
	// RevokeRootKey sets revoked_at of an active key; ErrNotFound if
	// there is no such key or it is already revoked.
	RevokeRootKey(ctx context.Context, id string, at time.Time, e audit.Entry) error
	// TouchRootKey sets last_used_at to now only if it is null or before
	// before, and reports whether it did.
	TouchRootKey(ctx context.Context, id string, now, before time.Time) (bool, error)
}

// Config configures a Service.
type Config struct {
	Store Store
	Now   func() time.Time // nil: time.Now; for tests
}

// Service creates, lists, revokes and authenticates root keys. Its errors
// are *keyhold.Error values: EINVALID, ENOTFOUND, EUNAUTHORIZED.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("rootkey: Store is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, now: c.Now}, nil
}

// Errors callers decide on.
var (
	// ErrUnauthorized is every refused Authenticate: no key, a malformed
	// one, an API key, an unknown or a revoked root key. One answer for
	// all, so a caller learns nothing about which keys exist.
	ErrUnauthorized = keyhold.Errorf(keyhold.EUNAUTHORIZED, "Send a valid root key (kh_root_…) in Authorization: Bearer.")
	errNoKey        = keyhold.Errorf(keyhold.ENOTFOUND, "There is no such root key.")
	errRevoked      = keyhold.Errorf(keyhold.EINVALID, "This root key is already revoked.")
)

// Create makes a root key and returns it with its secret, which the caller
// shows once and forgets. The name is 1 to MaxNameLen characters of
// visible text; perms at least one of Permissions. Errors: EINVALID with
// fields "name" and "permissions".
func (s *Service) Create(ctx context.Context, actor audit.Actor, name string, perms []string) (*RootKey, keys.Secret, error) {
	name = strings.TrimSpace(name)
	var fe keyhold.FieldErrors
	switch {
	case name == "":
		fe.Add("name", "Give the root key a name, so you can tell it apart later.")
	case utf8.RuneCountInString(name) > MaxNameLen:
		fe.Add("name", fmt.Sprintf("Root key names are at most %d characters.", MaxNameLen))
	default:
		fe.AddErr("name", keyhold.CheckText("The root key name", name))
	}
	perms, err := CheckPermissions(perms)
	var pe *keyhold.Error
	if errors.As(err, &pe) {
		fe = append(fe, pe.Fields...)
	}
	if err := fe.Err(); err != nil {
		return nil, "", err
	}
	secret, err := keys.Root.Generate()
	if err != nil {
		return nil, "", fmt.Errorf("rootkey: create: %w", err)
	}
	now := s.now().UTC()
	k := &RootKey{ID: keyhold.NewID(), Name: name, Display: secret.Display(), Permissions: perms, CreatedBy: actor.UserID, CreatedAt: now}
	e := s.entry(actor, audit.RootKeyCreated, k, fmt.Sprintf("%s (%s): %s", k.Name, k.Display, strings.Join(perms, ", ")))
	if err := s.store.CreateRootKey(ctx, k, secret.Hash(), e); err != nil {
		return nil, "", fmt.Errorf("rootkey: create: %w", err)
	}
	return k, secret, nil
}

// List returns every root key, newest first, with its last use.
func (s *Service) List(ctx context.Context) ([]RootKey, error) {
	ks, err := s.store.RootKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("rootkey: list: %w", err)
	}
	return ks, nil
}

// Revoke revokes a root key and returns it as it was. Every instance
// refuses it from the next call on, since Authenticate reads the database
// each time. Errors: ENOTFOUND, EINVALID (already revoked; the key is
// returned with it).
func (s *Service) Revoke(ctx context.Context, actor audit.Actor, id string) (*RootKey, error) {
	k, err := s.store.RootKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("rootkey: revoke: %w", err)
	}
	if k.RevokedAt != nil {
		return k, errRevoked
	}
	e := s.entry(actor, audit.RootKeyRevoked, k, fmt.Sprintf("%s (%s)", k.Name, k.Display))
	err = s.store.RevokeRootKey(ctx, k.ID, s.now().UTC(), e)
	if errors.Is(err, ErrNotFound) {
		// Revoked by someone else since it was read.
		return k, errRevoked
	}
	if err != nil {
		return nil, fmt.Errorf("rootkey: revoke: %w", err)
	}
	return k, nil
}

// Authenticate returns the active root key whose secret is presented, or
// ErrUnauthorized. Anything that is not a well-formed kh_root_ key (an API
// key included) is refused before any lookup; otherwise it is one indexed
// lookup by hash.
//
// There is deliberately no cache: every call reads the key, so a revoke is
// in force at once on every instance, with no event to miss. The lookup is
// by primary-key-like unique index and costs what a session lookup does.
//
// The key's last use is written at most once per LastUseEvery: the UPDATE
// is conditional on the stored time being older, so a burst of calls, on
// one instance or many, writes once. A database that fails the lookup or
// the write answers EUNAVAILABLE: the caller cannot tell a good key then.
func (s *Service) Authenticate(ctx context.Context, presented string) (*RootKey, error) {
	secret, err := keys.Root.Parse(presented)
	if err != nil {
		return nil, ErrUnauthorized
	}
	k, err := s.store.RootKeyByHash(ctx, secret.Hash())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if k.RevokedAt != nil {
		return nil, ErrUnauthorized
	}
	now := s.now().UTC()
	before := now.Add(-LastUseEvery)
	if k.LastUsedAt == nil || k.LastUsedAt.Before(before) {
		// Last use is bookkeeping: a write that fails (SQLite busy under
		// load) must not refuse a key that checked out, so its error is
		// dropped; the next call a minute on writes it again.
		if touched, err := s.store.TouchRootKey(ctx, k.ID, now, before); err == nil && touched {
			k.LastUsedAt = &now
		}
	}
	return k, nil
}

// unavailable is a failed read or write of Authenticate.
func unavailable(err error) error {
	return &keyhold.Error{Code: keyhold.EUNAVAILABLE, Message: "Root keys cannot be checked right now; try again.",
		Err: fmt.Errorf("rootkey: authenticate: %w", err)}
}

// entry is the audit entry of a change to k. Root keys belong to no
// account, so the entry has none.
func (s *Service) entry(actor audit.Actor, action string, k *RootKey, detail string) audit.Entry {
	return actor.Entry("", action, audit.TargetRootKey, k.ID, detail, s.now())
}
