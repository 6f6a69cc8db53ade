package keys

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
)

// The operator's side of the service: every account's keys, their
// overrides and their volume. Callers check that the user is an operator.

// MaxPageSize bounds how many keys one Search returns.
const MaxPageSize = 500

// MaxQuotaOverride bounds a quota override.
const MaxQuotaOverride = 1_000_000_000_000

// KeyFilter selects keys of every account; zero fields match all.
type KeyFilter struct {
	ID        string // one key
	AccountID string // one account's keys
	// Search is part of the key's name (any case), or the last four
	// characters of its secret (exact), which its display form ends with.
	Search string
	Status string    // StatusActive, StatusRevoked, StatusExpired; "": any
	Now    time.Time // decides which keys Status counts as expired; Search sets it
	Offset int
	Limit  int // 0: no limit; Search keeps it to 1..MaxPageSize
}

// OwnedKey is a key with its account's name.
type OwnedKey struct {
	*Key
	AccountName string
}

// KeyVolume is a key's usage over some time, with what names it.
type KeyVolume struct {
	KeyID, AccountID, Name, Display, AccountName string
	RevokedAt                                    *time.Time
	UsageCounts
}

// Total is every verification counted, whatever its outcome.
func (u UsageCounts) Total() int64 {
	return u.Valid + u.RateLimited + u.QuotaExceeded + u.ScopeDenied + u.Invalid + u.TokenIssued
}

// Search returns the keys f selects across accounts, newest first, at
// most MaxPageSize of them.
func (s *Service) Search(ctx context.Context, f KeyFilter) ([]OwnedKey, error) {
	f.Search = strings.TrimSpace(f.Search)
	if f.Limit <= 0 || f.Limit > MaxPageSize {
		f.Limit = MaxPageSize
	}
	f.Offset = max(f.Offset, 0)
	f.Now = s.now().UTC()
	ks, err := s.store.FindKeys(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("keys: search: %w", err)
	}
	return ks, nil
}

// lookup returns any account's key. Errors: ENOTFOUND.
func (s *Service) lookup(ctx context.Context, id string) (*Key, error) {
	return s.one(ctx, KeyFilter{ID: id}, "lookup")
}

// RevokeAny revokes a key of any account for an operator, at once and on
// every instance, and returns it as it was. The audit entry names the
// operator as actor and the key's owner as its account. Errors:
// ENOTFOUND, EINVALID (already revoked).
func (s *Service) RevokeAny(ctx context.Context, actor audit.Actor, keyID string) (*Key, error) {
	k, err := s.lookup(ctx, keyID)
	if err != nil {
		return nil, err
	}
	return k, s.revoke(ctx, actor, k)
}

// setOverrides sets an operator's overrides of a key's rate limit (per
// second), burst and quota; nil restores the plan's. The change is written
// with its audit entry in one transaction, and the verifier drops the key,
// so the next verification uses the new limits. Errors: EINVALID,
// ENOTFOUND.
func (s *Service) setOverrides(ctx context.Context, actor audit.Actor, keyID string, rate, burst *int, quota *int64) error {
	k, err := s.lookup(ctx, keyID)
	if err != nil {
		return err
	}
	planID, err := s.store.AccountPlan(ctx, k.AccountID)
	if err != nil {
		return fmt.Errorf("keys: overrides: %w", err)
	}
	plan := s.plans.Get(planID)
	if err := checkOverrides(plan, rate, burst, quota); err != nil {
		return err
	}
	detail := describeOverrides(k, rate, burst, quota)
	if detail == "" {
		return nil // nothing changed
	}
	e := s.entry(actor, k.AccountID, audit.KeyOverridden, k.ID, fmt.Sprintf("%s (%s): %s", k.Name, k.Display, detail))
	if err := s.store.OverrideKey(ctx, k.ID, rate, burst, quota, e); err != nil {
		if errors.Is(err, ErrNotFound) {
			return errNoKey
		}
		return fmt.Errorf("keys: overrides: %w", err)
	}
	s.events.Publish(Event{Kind: KeyChanged, KeyID: k.ID, AccountID: k.AccountID, OwnQuotaChanged: (k.QuotaOverride == nil) != (quota == nil)})
	return nil
}

// checkOverrides keeps overrides within what a plan could say: a rate of
// 1 to plans.MaxRate, a burst of at least the rate, a positive quota. It
// reports every field at once (fields "rate", "burst", "quota").
func checkOverrides(plan *plans.Plan, rate, burst *int, quota *int64) error {
	var fe keyhold.FieldErrors
	checkOverrideValues(&fe, plan, rate, burst, quota)
	return fe.Err()
}

func checkOverrideValues(fe *keyhold.FieldErrors, plan *plans.Plan, rate, burst *int, quota *int64) {
	rateOK := rate == nil || (*rate >= 1 && *rate <= plans.MaxRate)
	if !rateOK {
		fe.Add("rate", fmt.Sprintf("The rate limit must be from 1 to %d requests per second.", plans.MaxRate))
	}
	if burst != nil {
		minBurst := plan.RatePerSecond
		if rate != nil && rateOK {
			minBurst = *rate
		}
		if *burst < minBurst || *burst > plans.MaxBurst {
			fe.Add("burst", fmt.Sprintf("The burst must be at least the rate limit (%d) and at most %d.", minBurst, plans.MaxBurst))
		}
	}
	if quota != nil && (*quota < 1 || *quota > MaxQuotaOverride) {
		fe.Add("quota", fmt.Sprintf("The monthly quota must be from 1 to %d verifications.", int64(MaxQuotaOverride)))
	}
}

// OverrideForm is the operator's overrides form as typed: each field a
// whole number, digits may be grouped with spaces, commas or
// underscores; empty is the plan's.
type OverrideForm struct {
	Rate  string // field "rate", requests per second
	Burst string // field "burst"
	Quota string // field "quota", verifications a month
}

// SetOverridesFrom parses the overrides form and sets them as setOverrides
// does, reporting every field's problem at once (fields "rate", "burst",
// "quota") and changing nothing when there is one. Errors: EINVALID,
// ENOTFOUND.
func (s *Service) SetOverridesFrom(ctx context.Context, actor audit.Actor, keyID string, f OverrideForm) error {
	var fe keyhold.FieldErrors
	rate, rateOK := parseLimit(&fe, "rate", "rate limit", f.Rate)
	burst, _ := parseLimit(&fe, "burst", "burst", f.Burst)
	quota, _ := parseLimit(&fe, "quota", "monthly quota", f.Quota)
	if len(fe) > 0 {
		// Check what did parse too, so every field speaks at once; the
		// burst is measured against the rate only when the rate is sound.
		k, err := s.lookup(ctx, keyID)
		if err != nil {
			return err
		}
		plan, err := s.plan(ctx, k.AccountID)
		if err != nil {
			return err
		}
		if !rateOK {
			rate = nil
		}
		checkOverrideValues(&fe, plan, narrow(rate), narrow(burst), quota)
		return fe.Err()
	}
	return s.setOverrides(ctx, actor, keyID, narrow(rate), narrow(burst), quota)
}

// parseLimit reads one field of the overrides form into fe: nil for
// empty; ok is false when it is no whole number.
func parseLimit(fe *keyhold.FieldErrors, field, what, v string) (n *int64, ok bool) {
	v = strings.NewReplacer(" ", "", ",", "", "_", "").Replace(strings.TrimSpace(v))
	if v == "" {
		return nil, true
	}
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil || x < 0 {
		fe.Add(field, fmt.Sprintf("Enter the %s as a whole number, or leave it empty for the plan's.", what))
		return nil, false
	}
	return &x, true
}

// narrow makes a parsed limit an int, saturating: checkOverrides refuses
// anything that large with a clear message.
func narrow(n *int64) *int {
	if n == nil {
		return nil
	}
	v := int(min(*n, int64(1<<31-1)))
	return &v
}

// describeOverrides summarises what changes, or "" for nothing.
func describeOverrides(k *Key, rate, burst *int, quota *int64) string {
	var parts []string
	add := func(what string, from, to *int64) {
		if (from == nil) == (to == nil) && (from == nil || *from == *to) {
			return
		}
		parts = append(parts, what+" "+overrideText(from)+" → "+overrideText(to))
	}
	add("rate", intPtr64(k.RateOverride), intPtr64(rate))
	add("burst", intPtr64(k.BurstOverride), intPtr64(burst))
	add("quota", k.QuotaOverride, quota)
	return strings.Join(parts, "; ")
}

func intPtr64(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

func overrideText(p *int64) string {
	if p == nil {
		return "plan"
	}
	return fmt.Sprint(*p)
}

// DailyTotals returns every key's usage summed per UTC day for the last
// days days (1..MaxUsageDays), today included, oldest first, with zero
// entries for quiet days.
func (s *Service) DailyTotals(ctx context.Context, days int) ([]DailyUsage, error) {
	if err := checkSpan(days, MaxUsageDays, "days"); err != nil {
		return nil, err
	}
	first := s.now().UTC().Truncate(day).AddDate(0, 0, -(days - 1))
	hours, err := s.store.UsageByHour(ctx, first)
	if err != nil {
		return nil, fmt.Errorf("keys: usage totals: %w", err)
	}
	return Daily(hours, first, days), nil
}

// TopKeys returns the n keys with the most verifications from since on.
func (s *Service) TopKeys(ctx context.Context, since time.Time, n int) ([]KeyVolume, error) {
	vs, err := s.store.TopKeys(ctx, since.UTC(), n)
	if err != nil {
		return nil, fmt.Errorf("keys: top keys: %w", err)
	}
	return vs, nil
}

// Volumes returns each key's usage from since on.
func (s *Service) Volumes(ctx context.Context, keyIDs []string, since time.Time) (map[string]UsageCounts, error) {
	if len(keyIDs) == 0 {
		return map[string]UsageCounts{}, nil
	}
	m, err := s.store.KeyVolumes(ctx, keyIDs, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("keys: volumes: %w", err)
	}
	return m, nil
}

// QuotaUsedByAccount returns the quota each account's keys used in its
// current window, whose start windows gives per account id.
func (s *Service) QuotaUsedByAccount(ctx context.Context, windows map[string]time.Time) (map[string]int64, error) {
	if len(windows) == 0 {
		return map[string]int64{}, nil
	}
	m, err := s.store.QuotaUsedByAccount(ctx, windows)
	if err != nil {
		return nil, fmt.Errorf("keys: quota used: %w", err)
	}
	return m, nil
}

// PageFilter selects a page of keys across accounts (the management
// API's lists): of AccountID (every account's when empty) with Status (as
// Key.Status at Now; "": any), with ids below StartingAfter, at most
// Limit; ID selects one key.
type PageFilter struct {
	ID, AccountID, Status, StartingAfter string
	Now                                  time.Time
	Limit                                int
}

// PagedKey is a key of a page with its account's plan, which fills the
// half of a rate limit override an operator left to the plan.
type PagedKey struct {
	Key    *Key // OldSecretUntil filled, grace not yet ended
	PlanID string
}
