package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/team"
)

// Limits on what a key may carry.
const (
	MaxNameLen   = 64
	MaxScopes    = 32
	MaxScopeLen  = 64
	MaxMetaBytes = 1024
	MaxExpiry    = 5 * 365 * 24 * time.Hour
)

// Grace periods a rotation may leave the old secret working for.
var GracePeriods = []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

var scopePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:._/*-]*$`)

// Config configures a Service.
type Config struct {
	Store Store
	Plans *plans.Catalog
	Now   func() time.Time // nil: time.Now; for tests
	// Verified, when set, reports whether a user's email address is
	// verified; users whose address is not may not create keys
	// (KEYHOLD_REQUIRE_VERIFIED_EMAIL). Nil: no such rule.
	Verified func(ctx context.Context, userID string) (bool, error)
}

// Service creates, lists, edits, rotates and revokes API keys. Its errors
// are *keyhold.Error values: EINVALID for bad settings, ENOTFOUND for a key
// that is not the account's, ELIMIT when the plan allows no more keys.
type Service struct {
	store    Store
	plans    *plans.Catalog
	now      func() time.Time
	events   keyhold.Listeners[Event]
	verified func(ctx context.Context, userID string) (bool, error)
}

// ErrUnverified refuses a new key to an account whose email address is not
// verified, when Config.Verified is set.
var ErrUnverified = keyhold.Errorf(keyhold.EFORBIDDEN,
	"Verify your email address before you create keys: follow the link we emailed you, or send it again from the banner at the top.")

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil || c.Plans == nil {
		return nil, errors.New("keys: Store and Plans are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, plans: c.Plans, now: c.Now, verified: c.Verified}, nil
}

// Subscribe registers fn to be called, synchronously, after every change
// to a key (create, revoke, rotate, edit). The verifier uses it to drop
// cached keys and to learn new secrets' hashes before their keys are
// handed out.
func (s *Service) Subscribe(fn func(Event)) { s.events.Subscribe(fn) }

// Settings are what an owner chooses for a key.
type Settings struct {
	Name      string
	Scopes    []string
	Meta      map[string]any // checked by CheckMeta; nil: none
	ExpiresAt *time.Time     // nil: never
	// IPAllowlist are the CIDRs (or bare addresses) the key may be
	// verified from, as given: ParseAllowlist checks them. Nil: none on
	// Create, unchanged on Update; empty: none (Update clears the list).
	IPAllowlist []string
	// Limits, when set, are the key's overrides of its plan's limits,
	// checked as the operator's are (checkOverrideValues) and stored with
	// the key: in Create's transaction, so that a key never exists
	// without them. Nil: none on Create, unchanged on Update.
	Limits *Limits

	// allow is IPAllowlist parsed, set by check when IPAllowlist is not
	// nil.
	allow []netip.Prefix
}

// Limits are a key's overrides of its plan's limits; a nil field is the
// plan's.
type Limits struct {
	Rate, Burst *int   // requests per second, and at once
	Quota       *int64 // verifications per quota window
}

// ParseScopes splits a comma-, space- or newline-separated list.
func ParseScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// normalize trims and checks settings in place and returns the metadata
// as it is to be stored. Every field's problem is reported at once, as an
// EINVALID error with keyhold.FieldErrors (fields "name", "scopes",
// "meta", "expires", "ip_allowlist").
func (s *Service) normalize(st *Settings) (json.RawMessage, error) {
	var fe keyhold.FieldErrors
	meta := s.check(st, &fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return meta, nil
}

// check trims st in place and adds what is wrong with it to fe; it
// returns the metadata to store when that field is sound.
func (s *Service) check(st *Settings, fe *keyhold.FieldErrors) json.RawMessage {
	st.Name = strings.TrimSpace(st.Name)
	switch {
	case st.Name == "":
		fe.Add("name", "Give the key a name, so you can tell it apart later.")
	case utf8.RuneCountInString(st.Name) > MaxNameLen:
		fe.Add("name", fmt.Sprintf("Key names are at most %d characters.", MaxNameLen))
	default:
		fe.AddErr("name", keyhold.CheckText("The key name", st.Name))
	}
	scopes, err := checkScopes(st.Scopes)
	fe.AddErr("scopes", err)
	st.Scopes = scopes
	meta, err := encodeMeta(st.Meta)
	fe.AddErr("meta", err)
	if st.IPAllowlist != nil {
		allow, err := ParseAllowlist(st.IPAllowlist)
		if fe.AddErr("ip_allowlist", err) {
			st.allow, st.IPAllowlist = allow, AllowlistStrings(allow)
		}
	}
	if st.ExpiresAt != nil {
		now := s.now()
		t := st.ExpiresAt.UTC()
		switch {
		case !t.After(now):
			fe.Add("expires", "The expiry date must be in the future.")
		case t.Sub(now) > MaxExpiry:
			fe.Add("expires", "The expiry date must be within five years.")
		}
		st.ExpiresAt = &t
	}
	return meta
}

// checkScopes trims scopes, drops empty and repeated ones, and checks the
// rest; the error names the first bad scope.
func checkScopes(in []string) ([]string, error) {
	seen := map[string]bool{}
	scopes := make([]string, 0, len(in))
	for _, sc := range in {
		sc = strings.TrimSpace(sc)
		if sc == "" || seen[sc] {
			continue
		}
		// The pattern below refuses these too; this says why.
		if err := keyhold.CheckText("A scope", sc); err != nil {
			return scopes, err
		}
		if len(sc) > MaxScopeLen || !scopePattern.MatchString(sc) {
			return scopes, keyhold.Errorf(keyhold.EINVALID, "Scope %q is not valid: use letters, digits and : . _ / * - (at most %d characters).", truncate(sc, 40), MaxScopeLen)
		}
		seen[sc] = true
		scopes = append(scopes, sc)
	}
	if len(scopes) > MaxScopes {
		return scopes, keyhold.Errorf(keyhold.EINVALID, "A key can have at most %d scopes.", MaxScopes)
	}
	return scopes, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *Service) entry(actor audit.Actor, accountID, action, keyID, detail string) audit.Entry {
	return actor.Entry(accountID, action, audit.TargetKey, keyID, detail, s.now())
}

// Create makes a key for accountID and returns it with its secret, which
// the caller shows once and forgets.
func (s *Service) Create(ctx context.Context, actor audit.Actor, accountID string, st Settings) (*Key, Secret, error) {
	if err := mayManage(actor, accountID); err != nil {
		return nil, "", err
	}
	// A root key acts for the platform, with no user to have verified an
	// address.
	if s.verified != nil && actor.RootKeyID == "" {
		ok, err := s.verified(ctx, actor.UserID)
		if err != nil {
			return nil, "", fmt.Errorf("keys: create: %w", err)
		}
		if !ok {
			return nil, "", ErrUnverified
		}
	}
	planID, err := s.store.AccountPlan(ctx, accountID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", errNoAccount
	}
	if err != nil {
		return nil, "", fmt.Errorf("keys: create: %w", err)
	}
	plan := s.plans.Get(planID)
	meta, err := s.checkAll(&st, plan)
	if err != nil {
		return nil, "", err
	}
	secret, err := Generate()
	if err != nil {
		return nil, "", fmt.Errorf("keys: create: %w", err)
	}
	now := s.now().UTC()
	k := &Key{ID: keyhold.NewID(), AccountID: accountID, Name: st.Name, Display: secret.Display(),
		Scopes: st.Scopes, Meta: meta, ExpiresAt: st.ExpiresAt, IPAllowlist: st.allow, CreatedAt: now, UpdatedAt: now, CreatedBy: actor.UserID}
	if l := st.Limits; l != nil {
		k.RateOverride, k.BurstOverride, k.QuotaOverride = l.Rate, l.Burst, l.Quota
	}
	hash := secret.Hash()
	err = s.store.CreateKey(ctx, k, hash, plan.MaxKeys, s.entry(actor, accountID, audit.KeyCreated, k.ID, fmt.Sprintf("Created %q (%s)", k.Name, k.Display)))
	switch {
	case errors.Is(err, ErrSuspended):
		return nil, "", errSuspended
	case errors.Is(err, ErrNotFound):
		return nil, "", errNoAccount
	}
	if errors.Is(err, ErrLimit) {
		return nil, "", &keyhold.Error{Code: keyhold.ELIMIT, Err: err, Message: fmt.Sprintf(
			"Your %s plan allows %d active key%s. Revoke a key you no longer use, or upgrade your plan.", plan.Name, plan.MaxKeys, plural(plan.MaxKeys))}
	}
	if err != nil {
		return nil, "", fmt.Errorf("keys: create: %w", err)
	}
	s.events.Publish(Event{Kind: KeyCreated, KeyID: k.ID, AccountID: accountID, SecretHash: hash})
	return k, secret, nil
}

// checkAll checks st (normalize) and its limits against plan, reporting
// every field's problem at once (the limits' as "rate", "burst",
// "quota"), and returns the metadata to store.
func (s *Service) checkAll(st *Settings, plan *plans.Plan) (json.RawMessage, error) {
	var fe keyhold.FieldErrors
	meta := s.check(st, &fe)
	if l := st.Limits; l != nil {
		checkOverrideValues(&fe, plan, l.Rate, l.Burst, l.Quota)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return meta, nil
}

var (
	errNoAccount = keyhold.Errorf(keyhold.ENOTFOUND, "We could not find that account.")
	errSuspended = keyhold.Errorf(keyhold.ECONFLICT, "This account is suspended: it cannot have new keys until an operator lifts the suspension.")
)

// mayManage checks that actor may change the keys of accountID: that it
// acts in that account (a key of another is not found, as everywhere) with
// a role that may (team.Rules).
func mayManage(actor audit.Actor, accountID string) error {
	if actor.AccountID != accountID {
		return errNoKey
	}
	return team.Authorize(actor, team.ManageKeys)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// List returns the account's keys, newest first.
func (s *Service) List(ctx context.Context, accountID string) ([]*Key, error) {
	ks, err := s.store.FindKeys(ctx, KeyFilter{AccountID: accountID})
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]*Key, len(ks))
	for i := range ks {
		out[i] = ks[i].Key
	}
	return out, nil
}

var errNoKey = keyhold.Errorf(keyhold.ENOTFOUND, "We could not find that key.")

// Get returns one of the account's keys, with OldSecretUntil set while a
// rotation's grace period runs.
func (s *Service) Get(ctx context.Context, accountID, id string) (*Key, error) {
	return s.one(ctx, KeyFilter{ID: id, AccountID: accountID}, "get")
}

// one returns the key f selects by id, with OldSecretUntil set while a
// rotation's grace period runs; errNoKey when there is none. op names the
// caller in wrapped errors.
func (s *Service) one(ctx context.Context, f KeyFilter, op string) (*Key, error) {
	ks, err := s.store.FindKeys(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", op, err)
	}
	if len(ks) == 0 {
		return nil, errNoKey
	}
	k := ks[0].Key
	k.EndGrace(s.now())
	return k, nil
}

// Update changes a key's name, scopes, metadata, expiry and, when
// st.IPAllowlist is not nil, its IP allow-list. A revoked key cannot be
// edited.
func (s *Service) Update(ctx context.Context, actor audit.Actor, accountID, id string, st Settings) (*Key, error) {
	k, err := s.Get(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	if err := mayManage(actor, accountID); err != nil {
		return nil, err
	}
	if k.RevokedAt != nil {
		return nil, keyhold.Errorf(keyhold.EINVALID, "This key is revoked and can no longer be edited.")
	}
	// An expiry kept as it was is no new choice: an expired key can still
	// be renamed, and stays expired. Only a changed one is checked.
	var kept *time.Time
	if st.ExpiresAt != nil && sameTime(k.ExpiresAt, st.ExpiresAt) {
		kept, st.ExpiresAt = k.ExpiresAt, nil
	}
	var meta json.RawMessage
	if st.Limits != nil {
		plan, err := s.plan(ctx, accountID)
		if err != nil {
			return nil, err
		}
		meta, err = s.checkAll(&st, plan)
		if err != nil {
			return nil, err
		}
	} else if meta, err = s.normalize(&st); err != nil {
		return nil, err
	}
	if kept != nil {
		st.ExpiresAt = kept
	}
	if st.IPAllowlist == nil {
		st.allow = k.IPAllowlist
	}
	action, detail := audit.KeyEdited, describeEdit(k, st, meta)
	if detail == "" {
		return s.updateLimits(ctx, actor, k, st.Limits) // nothing else changed
	}
	if k.Name != st.Name && detail == fmt.Sprintf("Renamed %q to %q", k.Name, st.Name) {
		action = audit.KeyRenamed
	}
	k.Name, k.Scopes, k.Meta, k.ExpiresAt, k.IPAllowlist, k.UpdatedAt = st.Name, st.Scopes, meta, st.ExpiresAt, st.allow, s.now().UTC()
	if err := s.store.UpdateKey(ctx, k, s.entry(actor, accountID, action, k.ID, detail)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errNoKey
		}
		return nil, fmt.Errorf("keys: update: %w", err)
	}
	s.events.Publish(Event{Kind: KeyChanged, KeyID: k.ID, AccountID: accountID})
	return s.updateLimits(ctx, actor, k, st.Limits)
}

// updateLimits sets k's overrides to l, already checked, as the
// operator's setter does (its own audit entry, key.overridden); nil
// leaves them. It returns k as it then is.
func (s *Service) updateLimits(ctx context.Context, actor audit.Actor, k *Key, l *Limits) (*Key, error) {
	if l == nil {
		return k, nil
	}
	if err := s.setOverrides(ctx, actor, k.ID, l.Rate, l.Burst, l.Quota); err != nil {
		return nil, err
	}
	k.RateOverride, k.BurstOverride, k.QuotaOverride = l.Rate, l.Burst, l.Quota
	return k, nil
}

// Lookup returns any account's key, with OldSecretUntil set while a
// rotation's grace period runs, for callers that may see every account's
// keys (root keys, operators). Errors: ENOTFOUND.
func (s *Service) Lookup(ctx context.Context, id string) (*Key, error) {
	return s.lookup(ctx, id)
}

// describeEdit summarises what an edit changes, or "" for nothing.
func describeEdit(k *Key, st Settings, meta json.RawMessage) string {
	var parts []string
	if k.Name != st.Name {
		parts = append(parts, fmt.Sprintf("Renamed %q to %q", k.Name, st.Name))
	}
	if strings.Join(k.Scopes, " ") != strings.Join(st.Scopes, " ") {
		parts = append(parts, fmt.Sprintf("scopes [%s] → [%s]", strings.Join(k.Scopes, " "), strings.Join(st.Scopes, " ")))
	}
	if !bytes.Equal(k.Meta, meta) {
		parts = append(parts, "metadata changed")
	}
	if !sameTime(k.ExpiresAt, st.ExpiresAt) {
		exp := "never"
		if st.ExpiresAt != nil {
			exp = st.ExpiresAt.Format("2006-01-02")
		}
		parts = append(parts, "expiry → "+exp)
	}
	if d := describeAllowlist(k.IPAllowlist, st.allow); d != "" {
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Revoke makes a key invalid at once, on every instance.
func (s *Service) Revoke(ctx context.Context, actor audit.Actor, accountID, id string) error {
	k, err := s.Get(ctx, accountID, id)
	if err != nil {
		return err
	}
	if err := mayManage(actor, accountID); err != nil {
		return err
	}
	return s.revoke(ctx, actor, k)
}

// revoke revokes k with no check of the actor: Revoke checks a member's
// role, RevokeAny is for operators, who act in no account of the key's.
func (s *Service) revoke(ctx context.Context, actor audit.Actor, k *Key) error {
	accountID, id := k.AccountID, k.ID
	if k.RevokedAt != nil {
		return keyhold.Errorf(keyhold.EINVALID, "This key is already revoked.")
	}
	err := s.store.RevokeKey(ctx, accountID, id, s.now().UTC(), s.entry(actor, accountID, audit.KeyRevoked, id, fmt.Sprintf("Revoked %q (%s)", k.Name, k.Display)))
	if errors.Is(err, ErrNotFound) {
		return errNoKey
	}
	if err != nil {
		return fmt.Errorf("keys: revoke: %w", err)
	}
	s.events.Publish(Event{Kind: KeyRevoked, KeyID: id, AccountID: accountID})
	return nil
}

// Rotate gives a key a new secret, keeping its id, settings and usage. The
// old secret keeps working for grace (one of GracePeriods), then stops.
func (s *Service) Rotate(ctx context.Context, actor audit.Actor, accountID, id string, grace time.Duration) (*Key, Secret, error) {
	k, err := s.Get(ctx, accountID, id)
	if err != nil {
		return nil, "", err
	}
	// Whose key and what role first: a member who may not rotate is told
	// so, whatever grace the form sent.
	if err := mayManage(actor, accountID); err != nil {
		return nil, "", err
	}
	if !slices.Contains(GracePeriods, grace) {
		return nil, "", keyhold.Errorf(keyhold.EINVALID, "Choose how long the old secret keeps working: %s.", graceList())
	}
	if k.Status(s.now()) == StatusRevoked {
		return nil, "", keyhold.Errorf(keyhold.EINVALID, "A revoked key cannot be rotated. Create a new key instead.")
	}
	secret, err := Generate()
	if err != nil {
		return nil, "", fmt.Errorf("keys: rotate: %w", err)
	}
	now := s.now().UTC()
	detail := fmt.Sprintf("Rotated %s → %s; old secret ", k.Display, secret.Display())
	if grace == 0 {
		detail += "stopped at once"
	} else {
		detail += "works until " + now.Add(grace).Format("2006-01-02 15:04 MST")
	}
	hash := secret.Hash()
	err = s.store.RotateKey(ctx, accountID, id, hash, secret.Display(), now, now.Add(grace), s.entry(actor, accountID, audit.KeyRotated, id, detail))
	if errors.Is(err, ErrNotFound) {
		return nil, "", errNoKey
	}
	if err != nil {
		return nil, "", fmt.Errorf("keys: rotate: %w", err)
	}
	k.Display, k.UpdatedAt = secret.Display(), now
	if grace > 0 {
		until := now.Add(grace)
		k.OldSecretUntil = &until
	} else {
		k.OldSecretUntil = nil
	}
	s.events.Publish(Event{Kind: KeyRotated, KeyID: id, AccountID: accountID, SecretHash: hash})
	return k, secret, nil
}

// graceList is GracePeriods in words, for messages.
func graceList() string {
	words := make([]string, len(GracePeriods))
	for i, g := range GracePeriods {
		words[i] = GraceLabel(g)
	}
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// ExpireOldSecret ends, now, the grace period of the key's previous
// secret (left working by Rotate): the next verification with it answers
// EXPIRED, on every instance, as when its grace period runs out. It is
// audited. Errors: ENOTFOUND for a key that is not the account's,
// EINVALID when no previous secret is working (none left, or the key is
// revoked).
func (s *Service) ExpireOldSecret(ctx context.Context, actor audit.Actor, accountID, id string) error {
	k, err := s.Get(ctx, accountID, id)
	if err != nil {
		return err
	}
	if err := mayManage(actor, accountID); err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return keyhold.Errorf(keyhold.EINVALID, "This key is revoked: none of its secrets works any more.")
	}
	if k.OldSecretUntil == nil {
		return keyhold.Errorf(keyhold.EINVALID, "The previous secret of this key no longer works; there is nothing to expire.")
	}
	now := s.now().UTC()
	err = s.store.ExpireOldSecrets(ctx, accountID, id, now, s.entry(actor, accountID, audit.KeyOldSecretExpired, id,
		fmt.Sprintf("Expired the previous secret of %q now, instead of at %s", k.Name, k.OldSecretUntil.Format("2006-01-02 15:04 MST"))))
	if errors.Is(err, ErrNotFound) {
		return keyhold.Errorf(keyhold.EINVALID, "The previous secret of this key no longer works; there is nothing to expire.")
	}
	if err != nil {
		return fmt.Errorf("keys: expire old secret: %w", err)
	}
	// The same event as a rotation: every instance drops what it cached
	// for the key, and reads the old secret's new end on its next use.
	s.events.Publish(Event{Kind: KeyRotated, KeyID: id, AccountID: accountID})
	return nil
}

// plan returns the account's plan.
func (s *Service) plan(ctx context.Context, accountID string) (*plans.Plan, error) {
	id, err := s.store.AccountPlan(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("keys: plan: %w", err)
	}
	return s.plans.Get(id), nil
}
