package verify_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/verify"
)

// countingLoader is the fixture's database (failing on demand) that counts
// the usage writes that reached it.
type countingLoader struct {
	*flaky
	writes atomic.Int64
}

func (c *countingLoader) AddUsage(ctx context.Context, u []verify.Usage) error {
	if err := c.flaky.AddUsage(ctx, u); err != nil {
		return err
	}
	c.writes.Add(1)
	return nil
}

// verifierWith returns a verifier over the fixture's database (through
// loader) with in-memory limits and the given cap on pending usage.
func (f *fixture) verifierWith(loader verify.Loader, maxPending int) *verify.Verifier {
	f.t.Helper()
	v, err := verify.New(verify.Config{Loader: loader, Plans: f.catalog, Now: f.Now, MaxPending: maxPending})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// TestPendingUsageIsCappedOldestDropped: while the database is down, each
// hour's usage waits in memory as one row; past MaxPending the oldest rows
// go (and are counted), the newest stay and are written when the database
// is back. The cost of the call in hour i is 2^i, so the sum in the
// database says exactly which hours were kept.
func TestPendingUsageIsCappedOldestDropped(t *testing.T) {
	const hours = 5 // costs 1, 2, 4, 8, 16
	for _, tc := range []struct {
		name        string
		maxPending  int
		wantDropped int64
		wantUsed    int64 // what reaches the database
	}{
		{"WithinTheCap", 10, 0, 1 + 2 + 4 + 8 + 16},
		{"AtTheCap", hours, 0, 1 + 2 + 4 + 8 + 16},
		{"PastTheCapOldestGo", 3, 2, 4 + 8 + 16},
		{"CapOfOne", 1, 4, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t)
			k, key := f.MustKey(keys.Settings{})
			v := f.verifierWith(f.db, tc.maxPending)
			ctx := context.Background()
			verifyOn := func(cost int64) {
				var res verify.Result
				v.Verify(ctx, &verify.Request{Key: key, Cost: cost}, &res)
				if res.Code != verify.Valid {
					t.Fatalf("cost %d: %s", cost, res.Code)
				}
			}
			verifyOn(0) // cached before the outage: it goes on verifying
			if err := v.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			f.db.down.Store(true)
			for i := range hours {
				verifyOn(1 << i)
				if err := v.Flush(ctx); err == nil {
					t.Fatal("a flush with the database down succeeded")
				}
				if n := v.PendingRows(); n > tc.maxPending || n != min(i+1, tc.maxPending) {
					t.Fatalf("hour %d: %d rows pending, want %d (cap %d)", i, n, min(i+1, tc.maxPending), tc.maxPending)
				}
				f.Advance(time.Hour)
			}
			if got := v.DroppedRows(); got != tc.wantDropped {
				t.Errorf("%d rows dropped, want %d", got, tc.wantDropped)
			}
			f.db.down.Store(false)
			if err := v.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := v.PendingRows(); n != 0 {
				t.Errorf("%d rows pending after the database came back", n)
			}
			used, err := f.db.DB.QuotaUsed(ctx, k.ID, quota.WindowAt(f.Now(), quota.Window{}).Start)
			if err != nil {
				t.Fatal(err)
			}
			if used != tc.wantUsed {
				t.Errorf("the database has %d of quota used, want %d: the rows kept are not the newest %d", used, tc.wantUsed, tc.maxPending)
			}
		})
	}
}

// TestRunFlushesOnTicksKeepsFailuresAndFlushesOnStop runs the flush loop
// as serve runs it.
func TestRunFlushesOnTicksKeepsFailuresAndFlushesOnStop(t *testing.T) {
	f := MustFixture(t)
	f.setPlan("roomy")
	k, key := f.MustKey(keys.Settings{})
	loader := &countingLoader{flaky: f.db}
	ctx := context.Background()
	used := func() int64 {
		t.Helper()
		n, err := f.db.DB.QuotaUsed(ctx, k.ID, quota.WindowAt(f.Now(), quota.Window{}).Start)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var calls atomic.Int64 // granted, all runs
	call := func(v *verify.Verifier, n int) {
		for range n {
			calls.Add(1)
			var res verify.Result
			v.Verify(ctx, &verify.Request{Key: key, Cost: 1}, &res)
			if res.Code != verify.Valid {
				t.Fatal(res.Code)
			}
		}
	}

	t.Run("Ticks", func(t *testing.T) {
		v := f.verifierWith(loader, 0)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { v.Run(runCtx, 10*time.Millisecond); close(done) }()
		defer func() { stop(); <-done }()

		call(v, 3)
		waitFor(t, "the first tick's flush", func() bool { return used() == 3 })
		call(v, 2)
		waitFor(t, "the second flush", func() bool { return used() == 5 })

		// The database goes down: flushes fail and keep the rows.
		f.db.down.Store(true)
		defer f.db.down.Store(false)
		call(v, 4)
		waitFor(t, "a failed flush keeping its rows", func() bool { return v.PendingRows() > 0 })
		if n := used(); n != 5 {
			t.Fatalf("%d used in the database during the outage", n)
		}
		writes := loader.writes.Load()
		f.db.down.Store(false)
		waitFor(t, "the kept rows written", func() bool { return v.PendingRows() == 0 && used() == 9 })
		// Several more ticks: what was written is not written again.
		waitFor(t, "two more flushes", func() bool {
			call(v, 1)
			return loader.writes.Load() >= writes+3
		})
		stop()
		<-done
		if v.PendingRows() != 0 {
			t.Errorf("%d rows pending after the stop", v.PendingRows())
		}
		if got := used(); got != calls.Load() {
			t.Errorf("the database has %d used after %d calls: a row was written twice or lost", got, calls.Load())
		}
	})

	t.Run("FlushesOnStop", func(t *testing.T) {
		v := f.verifierWith(loader, 0)
		before := used()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { v.Run(runCtx, time.Hour); close(done) }() // no tick in this test
		call(v, 7)
		stop()
		<-done
		if got := used() - before; got != 7 {
			t.Errorf("after the stop the database has %d of the 7 calls", got)
		}
	})
}

// TestIdleKeysCostAFlushNothing: a flush goes through the keys counted
// since the last one, not through every key cached, so a server holding
// many keys that are not being called allocates nothing to flush them.
// (Listing every cached key each second was most of what an idle server
// with 100 000 keys allocated.)
func TestIdleKeysCostAFlushNothing(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	var last string
	for range 50 {
		_, last = f.MustKey(keys.Settings{})
		if res := f.Verify(last, 1); res.Code != verify.Valid {
			t.Fatal(res.Code)
		}
	}
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := f.v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a flush with 50 idle keys cached allocates %v times, want 0", n)
	}
	// And a key counted after is written by the next one, once.
	res := f.Verify(last, 3)
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	used, err := f.db.QuotaUsed(ctx, res.Entry.KeyID, res.Decision.QuotaReset.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if used != 4 {
		t.Errorf("the key's usage in the database = %d, want 4 (1 + 3, each written once)", used)
	}
}
