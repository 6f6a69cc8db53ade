package verify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// recording keeps every batch of usage the verifier writes.
type recording struct {
	*flaky
	mu      sync.Mutex
	batches [][]verify.Usage
}

func (r *recording) AddUsage(ctx context.Context, u []verify.Usage) error {
	r.mu.Lock()
	r.batches = append(r.batches, append([]verify.Usage(nil), u...))
	r.mu.Unlock()
	return r.flaky.AddUsage(ctx, u)
}

// TestFlushWritesOnlyRowsWithUsage: each flush writes one row per key and
// hour that saw calls, and none for the hour just left when its calls were
// already written; calls in one hour and window are summed in one row. Rows of zeros would not change any total, but they are
// the flush's main cost (one write each) and would grow with idle hours.
func TestFlushWritesOnlyRowsWithUsage(t *testing.T) {
	f := MustFixture(t) // 2026-11-10 12:00 UTC
	ctx := context.Background()
	k, key := f.MustKey(keys.Settings{})
	v, rec := f.recordingVerifier(ctx)
	call := func() {
		t.Helper()
		var res verify.Result
		v.Verify(ctx, &verify.Request{Key: key, Cost: 2}, &res)
		if res.Code != verify.Valid {
			t.Fatalf("verify: %s", res.Code)
		}
	}

	// Two calls per flush: they are one row. The last step's calls both
	// fall on the first instant of a new quota window.
	steps := []struct {
		name   string
		at     time.Time // first call
		second time.Duration
		hour   time.Time
	}{
		{"first hour", time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC), 30 * time.Minute, time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)},
		{"an hour later", time.Date(2026, 11, 10, 13, 0, 0, 0, time.UTC), 59 * time.Minute, time.Date(2026, 11, 10, 13, 0, 0, 0, time.UTC)},
		{"first instant of the next quota window", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 0, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, s := range steps {
		f.Advance(s.at.Sub(f.Now()))
		call()
		f.Advance(s.second)
		call()
		if err := v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(rec.batches) != i+1 {
			t.Fatalf("%s: %d writes, want %d", s.name, len(rec.batches), i+1)
		}
		rows := rec.batches[i]
		if len(rows) != 1 || rows[0].KeyID != k.ID || !rows[0].Hour.Equal(s.hour) || rows[0].Valid != 2 || rows[0].Cost != 4 {
			t.Errorf("%s: rows %+v, want one row of hour %v with 2 calls of cost 4", s.name, rows, s.hour)
		}
	}
	// Nothing counted since: nothing written.
	if err := v.Flush(ctx); err != nil || len(rec.batches) != len(steps) {
		t.Errorf("idle flush: err %v, %d writes, want %d", err, len(rec.batches), len(steps))
	}
}

// TestLastUseIsWrittenAtMostOnceAMinute: pages show a key's last use as
// "3 minutes ago", so the flush writes it at most once a minute per key
// (one write less per key and flush), and at exactly a minute it does.
func TestLastUseIsWrittenAtMostOnceAMinute(t *testing.T) {
	f := MustFixture(t) // 2026-11-10 12:00 UTC
	ctx := context.Background()
	_, key := f.MustKey(keys.Settings{})
	v, rec := f.recordingVerifier(ctx)
	t0 := f.Now()
	steps := []struct {
		after time.Duration // since t0
		want  time.Time     // LastUsed written; zero: none
	}{
		{0, t0},
		{30 * time.Second, time.Time{}},
		{time.Minute - time.Nanosecond, time.Time{}},
		{time.Minute, t0.Add(time.Minute)},
	}
	for i, s := range steps {
		f.Advance(t0.Add(s.after).Sub(f.Now()))
		var res verify.Result
		v.Verify(ctx, &verify.Request{Key: key, Cost: 1}, &res)
		if res.Code != verify.Valid {
			t.Fatalf("verify: %s", res.Code)
		}
		if err := v.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows := rec.batches[len(rec.batches)-1]
		if len(rec.batches) != i+1 || len(rows) != 1 || !rows[0].LastUsed.Equal(s.want) {
			t.Errorf("call at t0+%v: rows %+v, want last use %v", s.after, rows, s.want)
		}
	}
}

// recordingVerifier returns a verifier over the fixture's database that
// records each usage write, with its filter of known secrets loaded.
func (f *fixture) recordingVerifier(ctx context.Context) (*verify.Verifier, *recording) {
	f.t.Helper()
	rec := &recording{flaky: f.db}
	v, err := verify.New(verify.Config{Loader: rec, Secrets: f.db, Plans: f.catalog, Now: f.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := v.LoadSecrets(ctx); err != nil {
		f.t.Fatal(err)
	}
	return v, rec
}
