package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestScopeDeniedCountedApart: scope denials are written to their own
// column, summed by a second flush of the same hour like every other
// count, and read back by every usage query; a row written before the
// column existed reads as all its refusals invalid and none scope denied.
func TestScopeDeniedCountedApart(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := mustAccount(t, db, "ada@example.com")
		k1, k2 := mustKey(t, db, ada.ID), mustKey(t, db, ada.ID)
		h0 := time.Date(2026, 11, 3, 22, 0, 0, 0, time.UTC)
		old := h0.Add(-time.Hour)
		win := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		use := func(key string, valid, denied, invalid int64) verify.Usage {
			return verify.Usage{KeyID: key, AccountID: ada.ID, Hour: h0, WindowStart: win,
				Valid: valid, ScopeDenied: denied, Invalid: invalid, Cost: valid}
		}
		if err := db.AddUsage(ctx, []verify.Usage{use(k1, 5, 3, 1), use(k2, 10, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddUsage(ctx, []verify.Usage{use(k1, 0, 4, 0)}); err != nil {
			t.Fatal(err)
		}
		// As 0003 wrote it: no scope_denied, every refusal in invalid.
		if err := db.Exec(ctx, "INSERT INTO usage_hourly (key_id, hour, account_id, valid, invalid, cost) VALUES (?, ?, ?, 2, 9, 2)",
			k1, old, ada.ID); err != nil {
			t.Fatal(err)
		}

		hours, err := db.KeyUsageHourly(ctx, k1, old)
		if err != nil {
			t.Fatal(err)
		}
		want := []keys.UsageCounts{{Valid: 2, Invalid: 9, Cost: 2}, {Valid: 5, ScopeDenied: 7, Invalid: 1, Cost: 5}}
		if len(hours) != len(want) {
			t.Fatalf("key hours %+v, want %+v", hours, want)
		}
		for i := range want {
			if hours[i].UsageCounts != want[i] {
				t.Errorf("key hour %d: %+v, want %+v", i, hours[i].UsageCounts, want[i])
			}
		}
		acct, err := db.AccountUsageHourly(ctx, ada.ID, h0)
		if err != nil || len(acct) != 1 || acct[0].UsageCounts != (keys.UsageCounts{Valid: 15, ScopeDenied: 7, Invalid: 1, Cost: 15}) {
			t.Errorf("account hour: %+v %v", acct, err)
		}
		totals, err := db.KeyUsageTotals(ctx, k1)
		if err != nil || totals != (keys.UsageCounts{Valid: 7, ScopeDenied: 7, Invalid: 10, Cost: 7}) {
			t.Errorf("key totals: %+v %v", totals, err)
		}
		all, err := db.UsageByHour(ctx, h0)
		if err != nil || len(all) != 1 || all[0].ScopeDenied != 7 {
			t.Errorf("every key by hour: %+v %v", all, err)
		}
		// k1 has 6 calls this hour besides its 7 denials, k2 10: k1 is
		// busier only if denials count toward the busiest keys.
		top, err := db.TopKeys(ctx, h0, 2)
		if err != nil || len(top) != 2 || top[0].KeyID != k1 || top[0].ScopeDenied != 7 {
			t.Errorf("top keys: %+v %v", top, err)
		}
	})
}
