package notices

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/quota"
)

// Key is a key as the banners need it, from the read side's live counts.
// An account's shared quota (a pooled plan) is one more Key with Pool
// set, the account's id as its ID and no name: its notices are the
// pool's, of the whole account.
type Key struct {
	ID, Name  string
	Used      int64 // quota used this window, the freshest count known
	Quota     int64 // the key's quota this window; 0: none of its own (a pooled key)
	ExpiresAt *time.Time
	Live      bool // neither revoked nor expired
	Pool      bool // the account's shared quota, not a key
}

// PoolKey is an account's shared quota as the banners take it: used of
// limit in the window, by all its pooled keys.
func PoolKey(accountID string, used, limit int64) Key {
	return Key{ID: accountID, Used: used, Quota: limit, Live: true, Pool: true}
}

// Notice is one banner: a key at 80 % or 100 % of its quota this window,
// or expiring within 7 days or 1 day.
type Notice struct {
	ID      string // kind, level, key and window: what a dismissal hides
	Kind    string // KindQuota or KindExpiry
	Level   int    // percent (80, 100) or days (7, 1)
	KeyID   string // the key's id; the account's for a pool's notice
	KeyName string
	// Pool: the notice is of the account's shared quota (KindQuota), not
	// of one key.
	Pool bool
	// KindQuota.
	Used, Limit int64
	Window      quota.Window
	RunsOut     time.Time // when the quota runs out at this pace; zero: not this window
	// TooEarly: the window is too young (MinPace) to have a pace, so
	// RunsOut says nothing either way.
	TooEarly bool
	// KindExpiry.
	ExpiresAt time.Time
}

// reached80 reports whether used is at least 80 % of limit, without the
// overflow of multiplying a large limit.
func reached80(used, limit int64) bool {
	return limit > 0 && used >= 4*(limit/5)+(4*(limit%5)+4)/5
}

// notices returns the notices ks call for at now in window w, quota
// notices first, most urgent first within each kind.
func notices(ks []Key, w quota.Window, now time.Time) []Notice {
	var quotas, expiries []Notice
	for _, k := range ks {
		if !k.Live {
			continue
		}
		if reached80(k.Used, k.Quota) {
			n := Notice{Kind: KindQuota, Level: 80, KeyID: k.ID, KeyName: k.Name, Pool: k.Pool, Used: k.Used, Limit: k.Quota, Window: w}
			if k.Used >= k.Quota {
				n.Level = 100
			}
			if t, ok := Forecast(k.Used, k.Quota, w, now); ok {
				n.RunsOut = t
			}
			n.TooEarly = n.Level < 100 && now.Sub(w.Start) < MinPace
			n.ID = quotaID(n.Level, k.ID, w)
			quotas = append(quotas, n)
		}
		if k.ExpiresAt != nil && k.ExpiresAt.After(now) && !k.ExpiresAt.After(now.Add(ExpiryWeek*24*time.Hour)) {
			n := Notice{Kind: KindExpiry, Level: ExpiryWeek, KeyID: k.ID, KeyName: k.Name, ExpiresAt: *k.ExpiresAt}
			if !k.ExpiresAt.After(now.Add(ExpiryDay * 24 * time.Hour)) {
				n.Level = ExpiryDay
			}
			n.ID = expiryID(n.Level, k.ID, *k.ExpiresAt)
			expiries = append(expiries, n)
		}
	}
	sortBy(quotas, func(a, b Notice) bool { return a.Level > b.Level })
	sortBy(expiries, func(a, b Notice) bool { return a.ExpiresAt.Before(b.ExpiresAt) })
	return append(quotas, expiries...)
}

// sortBy is a stable insertion sort: a page has a handful of notices.
func sortBy(ns []Notice, less func(a, b Notice) bool) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && less(ns[j], ns[j-1]); j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// Banners returns the notices of an account's keys ks (in window w) that
// userID has not dismissed, in one query.
func (s *Service) Banners(ctx context.Context, userID string, ks []Key, w quota.Window) ([]Notice, error) {
	all := notices(ks, w, s.now())
	if len(all) == 0 {
		return nil, nil
	}
	ids := make([]string, len(all))
	for i, n := range all {
		ids[i] = n.ID
	}
	gone, err := s.store.Dismissed(ctx, userID, ids)
	if err != nil {
		return nil, fmt.Errorf("notices: dismissed: %w", err)
	}
	out := all[:0]
	for _, n := range all {
		if !gone[n.ID] {
			out = append(out, n)
		}
	}
	return out, nil
}

// errNoNotice is a dismissal of a notice the user is not shown: of
// another account's key, of a window past, or made up.
var errNoNotice = keyhold.Errorf(keyhold.ENOTFOUND, "There is no such notice.")

// Dismiss hides the notice id for userID, when it is one of the notices
// the account's keys ks call for now (ENOTFOUND otherwise: a forged id, or
// another account's key, changes nothing).
func (s *Service) Dismiss(ctx context.Context, userID, id string, ks []Key, w quota.Window) error {
	if !validID(id) {
		return errNoNotice
	}
	found := false
	for _, n := range notices(ks, w, s.now()) {
		if n.ID == id {
			found = true
			break
		}
	}
	if !found {
		return errNoNotice
	}
	if err := s.store.Dismiss(ctx, userID, id, s.now()); err != nil {
		return fmt.Errorf("notices: dismiss: %w", err)
	}
	return nil
}
