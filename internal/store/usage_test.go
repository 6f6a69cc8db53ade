package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/verify"
)

// mustKey creates a key of accountID and returns its id.
func mustKey(tb testing.TB, db *store.DB, accountID string) string {
	tb.Helper()
	k, s := newKey(accountID, time.Now().UTC().Truncate(time.Microsecond))
	if err := db.CreateKey(context.Background(), k, s.Hash(), 10, entry(accountID, audit.KeyCreated)); err != nil {
		tb.Fatal(err)
	}
	return k.ID
}

func TestAccountUsageHourly(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := mustAccount(t, db, "ada@example.com")
		bob := mustAccount(t, db, "bob@example.com")
		k1, k2, kb := mustKey(t, db, ada.ID), mustKey(t, db, ada.ID), mustKey(t, db, bob.ID)
		h0 := time.Date(2026, 11, 3, 22, 0, 0, 0, time.UTC)
		win := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		use := func(key, acct string, hour time.Time, valid, rl, qe, inv int64) verify.Usage {
			return verify.Usage{KeyID: key, AccountID: acct, Hour: hour, WindowStart: win,
				Valid: valid, RateLimited: rl, QuotaExceeded: qe, Invalid: inv, Cost: valid * 2, LastUsed: hour.Add(time.Minute)}
		}
		if err := db.AddUsage(ctx, []verify.Usage{
			use(k1, ada.ID, h0.Add(-48*time.Hour), 100, 0, 0, 0), // before since
			use(k1, ada.ID, h0, 5, 1, 0, 2),
			use(k2, ada.ID, h0, 7, 0, 3, 0),
			use(k1, ada.ID, h0.Add(2*time.Hour), 1, 0, 0, 0), // the next day, UTC
			use(kb, bob.ID, h0, 1000, 1000, 1000, 1000),      // another account
		}); err != nil {
			t.Fatal(err)
		}
		// A second flush of the same hour adds to it.
		if err := db.AddUsage(ctx, []verify.Usage{use(k2, ada.ID, h0, 1, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}

		got, err := db.AccountUsageHourly(ctx, ada.ID, h0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []keys.HourlyUsage{
			{Hour: h0, UsageCounts: keys.UsageCounts{Valid: 13, RateLimited: 1, QuotaExceeded: 3, Invalid: 3, Cost: 26}},
			{Hour: h0.Add(2 * time.Hour), UsageCounts: keys.UsageCounts{Valid: 1, Cost: 2}},
		}
		if len(got) != len(want) {
			t.Fatalf("account hours: got %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].Hour.Equal(want[i].Hour) || got[i].Hour.Location() != time.UTC || got[i].UsageCounts != want[i].UsageCounts {
				t.Errorf("hour %d: got %+v, want %+v", i, got[i], want[i])
			}
		}

		all, err := db.AccountUsageHourly(ctx, ada.ID, time.Time{})
		if err != nil || len(all) != 3 || all[0].Valid != 100 || !all[0].Hour.Equal(h0.Add(-48*time.Hour)) {
			t.Errorf("every hour, oldest first: %+v %v", all, err)
		}
		if none, err := db.AccountUsageHourly(ctx, "nobody", time.Time{}); err != nil || len(none) != 0 {
			t.Errorf("an account without usage: %+v %v", none, err)
		}

		k2hours, err := db.KeyUsageHourly(ctx, k2, h0)
		if err != nil || len(k2hours) != 1 || k2hours[0].Valid != 8 || k2hours[0].Invalid != 1 || k2hours[0].QuotaExceeded != 3 {
			t.Errorf("one key's hours: %+v %v", k2hours, err)
		}
		totals, err := db.KeyUsageTotals(ctx, k1)
		if err != nil || totals != (keys.UsageCounts{Valid: 106, RateLimited: 1, Invalid: 2, Cost: 212}) {
			t.Errorf("key totals: %+v %v", totals, err)
		}
	})
}

// TestAddUsageBatchOnce writes a batch, then the same batch again (a
// flush retried because the answer to its COMMIT was lost), then another
// batch: the repeat adds nothing, the new batch adds, and rows without a
// batch id are added every time.
func TestAddUsageBatchOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := mustAccount(t, db, "ada@example.com")
		k := mustKey(t, db, ada.ID)
		h := time.Date(2026, 11, 3, 22, 0, 0, 0, time.UTC)
		use := func(batch string, valid int64) []verify.Usage {
			return []verify.Usage{{KeyID: k, AccountID: ada.ID, Hour: h, WindowStart: h, Valid: valid, Cost: valid, Batch: batch}}
		}
		for _, step := range []struct {
			batch string
			valid int64
			want  int64
		}{
			{"b1", 3, 3},
			{"b1", 3, 3}, // the retry of a batch already written
			{"b2", 2, 5},
			{"", 1, 6},
			{"", 1, 7},
		} {
			if err := db.AddUsage(ctx, use(step.batch, step.valid)); err != nil {
				t.Fatal(err)
			}
			u, err := db.KeyUsageTotals(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			used, _ := db.QuotaUsed(ctx, k, h)
			if u.Valid != step.want || used != step.want {
				t.Errorf("after batch %q: %d valid, %d quota used, want %d", step.batch, u.Valid, used, step.want)
			}
		}
	})
}

// TestAddUsageLastUsed: a flush moves each key's last use on to its
// latest valid call, across more keys than one statement carries, never
// back to an older one, and leaves keys without a valid call alone.
func TestAddUsageLastUsed(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := mustAccount(t, db, "ada@example.com")
		const n = 150
		ids := make([]string, n)
		for i := range ids {
			k, s := newKey(ada.ID, time.Now().UTC().Truncate(time.Microsecond))
			if err := db.CreateKey(ctx, k, s.Hash(), n, entry(ada.ID, audit.KeyCreated)); err != nil {
				t.Fatal(err)
			}
			ids[i] = k.ID
		}
		hour := time.Date(2026, 11, 3, 22, 0, 0, 0, time.UTC)
		at := func(i int) time.Time { return hour.Add(time.Duration(i) * time.Second) }
		flush := func(rows []verify.Usage) {
			t.Helper()
			if err := db.AddUsage(ctx, rows); err != nil {
				t.Fatal(err)
			}
		}
		var rows []verify.Usage
		for i, id := range ids[:n-1] { // the last key has no valid call
			rows = append(rows, verify.Usage{KeyID: id, AccountID: ada.ID, Hour: hour, WindowStart: hour, Valid: 1, Cost: 1, LastUsed: at(i)})
		}
		rows = append(rows, verify.Usage{KeyID: ids[n-1], AccountID: ada.ID, Hour: hour, WindowStart: hour, Invalid: 1})
		flush(rows)
		// An older use (a late flush of another instance) moves nothing
		// back; a newer one moves the key on.
		flush([]verify.Usage{
			{KeyID: ids[0], AccountID: ada.ID, Hour: hour, WindowStart: hour, Valid: 1, Cost: 1, LastUsed: hour.Add(-time.Hour)},
			{KeyID: ids[120], AccountID: ada.ID, Hour: hour, WindowStart: hour, Valid: 1, Cost: 1, LastUsed: at(1000)},
		})
		for i, id := range ids {
			var got sql.NullTime
			if err := db.SQL().QueryRow(storetest.Rebind(db, `SELECT last_used_at FROM api_keys WHERE id = ?`), id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			want := at(i)
			switch i {
			case 120:
				want = at(1000)
			case n - 1:
				if got.Valid {
					t.Errorf("key %d without a valid call: last used %v, want none", i, got.Time)
				}
				continue
			}
			if !got.Valid || !got.Time.Equal(want) {
				t.Errorf("key %d: last used %v (set %v), want %v", i, got.Time, got.Valid, want)
			}
		}
	})
}

// TestPoolUsed sums the quota an account's keys used in one window, and
// only that: not another window's, not another account's, and not a key
// with a quota override of its own (it counts against its override).
func TestPoolUsed(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := mustAccount(t, db, "ada@example.com")
		bob := mustAccount(t, db, "bob@example.com")
		a1, a2, own := mustKey(t, db, ada.ID), mustKey(t, db, ada.ID), mustKey(t, db, ada.ID)
		b1 := mustKey(t, db, bob.ID)
		q := int64(50)
		if err := db.SetKeyOverrides(ctx, own, nil, nil, &q); err != nil {
			t.Fatal(err)
		}
		w := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		prev := w.AddDate(0, -1, 0)
		h := w.Add(5 * time.Hour)
		row := func(key, acct string, window time.Time, cost int64) verify.Usage {
			return verify.Usage{KeyID: key, AccountID: acct, Hour: h, WindowStart: window, Valid: 1, Cost: cost}
		}
		if err := db.AddUsage(ctx, []verify.Usage{
			row(a1, ada.ID, w, 7), row(a2, ada.ID, w, 5), row(own, ada.ID, w, 30),
			row(a1, ada.ID, prev, 100), row(b1, bob.ID, w, 9),
		}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			acct   string
			window time.Time
			want   int64
		}{
			{ada.ID, w, 12}, {ada.ID, prev, 100}, {bob.ID, w, 9}, {ada.ID, w.AddDate(0, 1, 0), 0}, {"nobody", w, 0},
		} {
			if got, err := db.PoolUsed(ctx, c.acct, c.window); err != nil || got != c.want {
				t.Errorf("PoolUsed(%s, %s) = %d, %v; want %d", c.acct, c.window.Format("2006-01"), got, err, c.want)
			}
		}
	})
}
