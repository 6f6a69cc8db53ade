package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// The figures a refused call reports are what a client backs off by
// (Retry-After, RateLimit-Remaining, RateLimit-Reset), so they are pinned
// exactly, not just the code. The "slow" plan is 10/s with a burst of 10:
// one call costs 100ms of the limiter's one-second tolerance.

// TestRateRefusalReportsWhatIsLeft: with 3 of 10 calls left, a call of cost
// 5 is refused, says 3 are left, that 200ms (the excess) must pass, and
// that the limiter is full again when the 7 taken have drained (700ms); a
// call of cost 3 then passes and leaves none.
func TestRateRefusalReportsWhatIsLeft(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("slow")
	_, key := f.MustKey(keys.Settings{})
	for range 7 {
		if res := f.Verify(key, 1); res.Code != verify.Valid {
			t.Fatalf("setup call: %s", res.Code)
		}
	}
	res := f.Verify(key, 5)
	d := res.Decision
	if res.Code != verify.RateLimited || d.RateRemaining != 3 || d.RetryAfter != 200*time.Millisecond ||
		!d.RateReset.Equal(f.now.Add(700*time.Millisecond)) || d.QuotaUsed != 7 {
		t.Fatalf("cost 5 with 3 left: %s remaining %d retry %v reset %v used %d; want RATE_LIMITED 3 200ms +700ms 7",
			res.Code, d.RateRemaining, d.RetryAfter, d.RateReset.Sub(f.now), d.QuotaUsed)
	}
	res = f.Verify(key, 3)
	d = res.Decision
	if res.Code != verify.Valid || d.RateRemaining != 0 || !d.RateReset.Equal(f.now.Add(time.Second)) || d.QuotaUsed != 10 {
		t.Fatalf("cost 3 with 3 left: %s remaining %d reset %v used %d; want VALID 0 +1s 10",
			res.Code, d.RateRemaining, d.RateReset.Sub(f.now), d.QuotaUsed)
	}
}

// TestRefusedForOtherReasonsTakesNothing: a call refused for its scope is
// answered with the key's current limits (so the headers are right) and
// consumes neither rate nor quota.
func TestRefusedForOtherReasonsTakesNothing(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("slow")
	_, key := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	for range 3 {
		f.Verify(key, 1)
	}
	for range 5 {
		res := f.Verify(key, 1, "admin")
		d := res.Decision
		if res.Code != verify.InsufficientScope || d.RateLimit != 10 || d.RateRemaining != 7 ||
			!d.RateReset.Equal(f.now.Add(300*time.Millisecond)) || d.QuotaUsed != 3 || d.QuotaLimit != 1_000_000 ||
			!d.QuotaReset.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("missing scope: %s %+v", res.Code, d)
		}
	}
	if res := f.Verify(key, 1); res.Code != verify.Valid || res.Decision.RateRemaining != 6 || res.Decision.QuotaUsed != 4 {
		t.Errorf("after refusals: %s remaining %d used %d; want VALID 6 4", res.Code, res.Decision.RateRemaining, res.Decision.QuotaUsed)
	}
}

// TestQuotaCanBeUsedToTheLastUnit: a quota of 3 admits one call of cost 3;
// the next unit is refused until the window ends, with Retry-After saying
// when, and the refusal gives its rate back. At the first instant of the
// next window (the calendar month, in UTC) the key works again.
func TestQuotaCanBeUsedToTheLastUnit(t *testing.T) {
	f := MustFixture(t) // 2026-11-10 12:00 UTC
	f.setPlan("slow")
	k, key := f.MustKey(keys.Settings{})
	quota := int64(3)
	if err := f.db.DB.SetKeyOverrides(context.Background(), k.ID, nil, nil, &quota); err != nil {
		t.Fatal(err)
	}
	f.v.InvalidateKey(k.ID)
	if res := f.Verify(key, 3); res.Code != verify.Valid || res.Decision.QuotaUsed != 3 || res.Decision.QuotaRemaining() != 0 {
		t.Fatalf("cost 3 of a quota of 3: %s used %d", res.Code, res.Decision.QuotaUsed)
	}
	monthEnd := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	res := f.Verify(key, 1)
	d := res.Decision
	if res.Code != verify.QuotaExceeded || d.QuotaUsed != 3 || d.RetryAfter != monthEnd.Sub(f.now) ||
		d.RateRemaining != 7 || !d.QuotaReset.Equal(monthEnd) {
		t.Fatalf("one unit past the quota: %s used %d retry %v remaining %d reset %v", res.Code, d.QuotaUsed, d.RetryAfter, d.RateRemaining, d.QuotaReset)
	}

	f.Advance(monthEnd.Sub(f.now) - time.Nanosecond)
	if res := f.Verify(key, 1); res.Code != verify.QuotaExceeded || res.Decision.RetryAfter != time.Second {
		t.Fatalf("a nanosecond before the window ends: %s retry %v, want QUOTA_EXCEEDED 1s (the floor)", res.Code, res.Decision.RetryAfter)
	}
	f.Advance(time.Nanosecond)
	if res := f.Verify(key, 1); res.Code != verify.Valid || res.Decision.QuotaUsed != 1 ||
		!res.Decision.QuotaReset.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("first instant of the next window: %s used %d reset %v", res.Code, res.Decision.QuotaUsed, res.Decision.QuotaReset)
	}
}

// TestExpiryIsExact: a key, and an old secret after rotation, stop at their
// expiry instant, not a moment after it; a nanosecond before, they work.
func TestExpiryIsExact(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	exp := f.now.Add(2 * time.Hour)
	_, expiring := f.MustKey(keys.Settings{ExpiresAt: &exp})
	k, old := f.MustKey(keys.Settings{})
	if res := f.Verify(old, 1); res.Code != verify.Valid {
		t.Fatalf("before rotation: %s", res.Code)
	}
	graceEnd := f.now.Add(time.Hour)
	if _, _, err := f.keys.Rotate(ctx, f.owner(), f.account, k.ID, time.Hour); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		at      time.Time
		name    string
		wantKey verify.Code
		wantOld verify.Code
	}{
		{at: graceEnd.Add(-time.Nanosecond), name: "just before the grace ends", wantKey: verify.Valid, wantOld: verify.Valid},
		{at: graceEnd, name: "when the grace ends", wantKey: verify.Valid, wantOld: verify.Expired},
		{at: exp.Add(-time.Nanosecond), name: "just before the key expires", wantKey: verify.Valid, wantOld: verify.Expired},
		{at: exp, name: "when the key expires", wantKey: verify.Expired, wantOld: verify.Expired},
	}
	for _, s := range steps {
		f.Advance(s.at.Sub(f.Now()))
		if got := f.Verify(expiring, 1).Code; got != s.wantKey {
			t.Errorf("%s: expiring key %s, want %s", s.name, got, s.wantKey)
		}
		if got := f.Verify(old, 1).Code; got != s.wantOld {
			t.Errorf("%s: rotated-away secret %s, want %s", s.name, got, s.wantOld)
		}
	}
}

// TestRequestBoundsAreInclusive: MaxCost and MaxReqScopes are allowed
// values, one past them is a bad request.
func TestRequestBoundsAreInclusive(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	scopes := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = "s"
		}
		return s
	}
	tests := []struct {
		name   string
		cost   int64
		scopes []string
		bad    bool
	}{
		{"cost MaxCost", verify.MaxCost, nil, false},
		{"cost MaxCost+1", verify.MaxCost + 1, nil, true},
		{"MaxReqScopes scopes", 0, scopes(verify.MaxReqScopes), false},
		{"MaxReqScopes+1 scopes", 0, scopes(verify.MaxReqScopes + 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.Verify(key, tt.cost, tt.scopes...)
			if (res.Code == verify.BadRequest) != tt.bad {
				t.Errorf("got %s, want bad request %v", res.Code, tt.bad)
			}
		})
	}
}
