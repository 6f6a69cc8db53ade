package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// usageFixture is two accounts: ada with keys k1 and k2, bob with kb, and
// usage written as the verifier writes it, around now = Nov 3 2026 10:30.
type usageFixture struct {
	*fixture
	ada, bob   string
	k1, k2, kb string
}

func mustUsage(t *testing.T) *usageFixture {
	t.Helper()
	f := &usageFixture{fixture: MustService(t)}
	f.now = time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	f.ada, f.bob = f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	k1, _ := f.MustKey(t, f.ada, "one")
	k2, _ := f.MustKey(t, f.ada, "two")
	kb, _ := f.MustKey(t, f.bob, "bob's")
	f.k1, f.k2, f.kb = k1.ID, k2.ID, kb.ID
	at := func(key, acct string, hour string, valid, rl, qe, inv int64) verify.Usage {
		h, err := time.Parse("2006-01-02 15:04", hour)
		if err != nil {
			t.Fatal(err)
		}
		return verify.Usage{KeyID: key, AccountID: acct, Hour: h, WindowStart: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			Valid: valid, RateLimited: rl, QuotaExceeded: qe, Invalid: inv, Cost: valid, LastUsed: h}
	}
	err := f.db.AddUsage(context.Background(), []verify.Usage{
		at(f.k1, f.ada, "2026-10-31 23:00", 50, 0, 0, 0), // last month, and 3 days ago
		at(f.k1, f.ada, "2026-11-01 00:00", 10, 2, 0, 1),
		at(f.k1, f.ada, "2026-11-02 10:00", 4, 0, 0, 0), // outside the last 24 hours
		at(f.k1, f.ada, "2026-11-02 11:00", 3, 0, 1, 0), // the first of the last 24 hours
		at(f.k1, f.ada, "2026-11-03 10:00", 7, 1, 0, 2), // this hour
		at(f.k2, f.ada, "2026-11-03 09:00", 100, 0, 0, 0),
		at(f.kb, f.bob, "2026-11-03 10:00", 999, 999, 999, 999),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDailyUsage(t *testing.T) {
	f := mustUsage(t)
	ctx := context.Background()
	days, err := f.svc.DailyUsage(ctx, f.ada, f.k1, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		day  string
		want keys.UsageCounts
	}{
		{"2026-10-30", keys.UsageCounts{}},
		{"2026-10-31", keys.UsageCounts{Valid: 50, Cost: 50}},
		{"2026-11-01", keys.UsageCounts{Valid: 10, RateLimited: 2, Invalid: 1, Cost: 10}},
		{"2026-11-02", keys.UsageCounts{Valid: 7, QuotaExceeded: 1, Cost: 7}},
		{"2026-11-03", keys.UsageCounts{Valid: 7, RateLimited: 1, Invalid: 2, Cost: 7}},
	}
	if len(days) != len(want) {
		t.Fatalf("%d days, want %d", len(days), len(want))
	}
	for i, w := range want {
		if got := days[i].Day.Format(time.DateOnly); got != w.day || days[i].UsageCounts != w.want {
			t.Errorf("day %d: %s %+v, want %s %+v", i, got, days[i].UsageCounts, w.day, w.want)
		}
	}
}

// The key page's hourly chart: the store's rows laid out by Hourly, as
// overview.KeyDetail does.
func TestHourlyUsage(t *testing.T) {
	f := mustUsage(t)
	first := f.now.Truncate(time.Hour).Add(-23 * time.Hour)
	rows, err := f.db.KeyUsageHourly(context.Background(), f.k1, first)
	if err != nil {
		t.Fatal(err)
	}
	hours := keys.Hourly(rows, first, 24)
	if len(hours) != 24 {
		t.Fatalf("%d hours, want 24", len(hours))
	}
	if first, last := hours[0].Hour, hours[23].Hour; !first.Equal(time.Date(2026, 11, 2, 11, 0, 0, 0, time.UTC)) || !last.Equal(time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("hours run %v … %v, want Nov 2 11:00 … Nov 3 10:00", first, last)
	}
	if got := hours[0].UsageCounts; got != (keys.UsageCounts{Valid: 3, QuotaExceeded: 1, Cost: 3}) {
		t.Errorf("first hour %+v", got)
	}
	if got := hours[23].UsageCounts; got != (keys.UsageCounts{Valid: 7, RateLimited: 1, Invalid: 2, Cost: 7}) {
		t.Errorf("this hour %+v", got)
	}
	var quiet int
	for _, h := range hours[1:23] {
		if h.UsageCounts == (keys.UsageCounts{}) {
			quiet++
		}
	}
	if quiet != 22 {
		t.Errorf("%d quiet hours between, want 22", quiet)
	}
}

func TestKeyAndAccountTotals(t *testing.T) {
	f := mustUsage(t)
	ctx := context.Background()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	got, err := f.svc.KeyTotals(ctx, f.ada, f.k1, nov)
	if err != nil || got != (keys.UsageCounts{Valid: 24, RateLimited: 3, QuotaExceeded: 1, Invalid: 3, Cost: 24}) {
		t.Errorf("k1 this month: %+v %v", got, err)
	}
	// A window starting mid-hour counts from the start of that hour.
	if got, _ := f.svc.KeyTotals(ctx, f.ada, f.k1, nov.Add(-30*time.Minute)); got.Valid != 74 {
		t.Errorf("from Oct 31 23:30: valid %d, want 74 (the whole 23:00 hour)", got.Valid)
	}
	// An account's usage, as overview sums it: the store's rows of all
	// its keys, through Total and Daily.
	first := f.now.Truncate(24*time.Hour).AddDate(0, 0, -29)
	rows, err := f.db.AccountUsageHourly(ctx, f.ada, first)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.Total(rows, nov); got != (keys.UsageCounts{Valid: 124, RateLimited: 3, QuotaExceeded: 1, Invalid: 3, Cost: 124}) {
		t.Errorf("ada this month: %+v", got)
	}
	days := keys.Daily(rows, first, 30)
	if len(days) != 30 {
		t.Fatalf("account days: %d", len(days))
	}
	today := days[29]
	if !today.Day.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) || today.Valid != 107 || today.RateLimited != 1 || today.Invalid != 2 {
		t.Errorf("ada today: %+v", today)
	}
	if days[0].Day.Format(time.DateOnly) != "2026-10-05" {
		t.Errorf("first of 30 days: %s", days[0].Day)
	}
	if rows, err := f.db.AccountUsageHourly(ctx, f.bob, nov); err != nil || keys.Total(rows, nov).Valid != 999 {
		t.Errorf("bob this month: %+v %v", rows, err)
	}
}

func TestUsageIsTheOwnersOnly(t *testing.T) {
	f := mustUsage(t)
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["daily"] = f.svc.DailyUsage(ctx, f.bob, f.k1, 30)
	_, checks["totals"] = f.svc.KeyTotals(ctx, f.bob, f.k1, time.Time{})
	_, checks["unknown key"] = f.svc.DailyUsage(ctx, f.ada, "nope", 30)
	for name, err := range checks {
		if keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("%s: got %v, want ENOTFOUND", name, err)
		}
	}
}

func TestUsageSpans(t *testing.T) {
	f := mustUsage(t)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"0 days":        func() error { _, err := f.svc.DailyUsage(ctx, f.ada, f.k1, 0); return err },
		"too many days": func() error { _, err := f.svc.DailyUsage(ctx, f.ada, f.k1, keys.MaxUsageDays+1); return err },
	} {
		if err := call(); keyhold.ErrorCode(err) != keyhold.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", name, err)
		}
	}
	if days, err := f.svc.DailyUsage(ctx, f.ada, f.k1, keys.MaxUsageDays); err != nil || len(days) != keys.MaxUsageDays {
		t.Errorf("the longest span: %d days, %v", len(days), err)
	}
}
