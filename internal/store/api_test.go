package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/idempotency"
	"github.com/keyhold/keyhold/internal/store"
)

// TestIdempotencyRecords: a claim is taken once; while it runs a second
// claim sees it running; once finished it sees the answer; another root
// key has its own keys; a released claim and an expired record can be
// claimed again; a sweep deletes only expired records.
func TestIdempotencyRecords(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		day := now.Add(-idempotency.TTL)
		if rec, err := db.ClaimIdempotency(ctx, "rk1", "k", "h1", now, day, day); err != nil || rec != nil {
			t.Fatalf("first claim: %v %v", rec, err)
		}
		rec, err := db.ClaimIdempotency(ctx, "rk1", "k", "h2", now, day, day)
		if !errors.Is(err, idempotency.ErrTaken) || rec.Status != 0 || rec.RequestHash != "h1" {
			t.Fatalf("claim while running: %+v %v", rec, err)
		}
		if rec, err := db.ClaimIdempotency(ctx, "rk2", "k", "h1", now, day, day); err != nil || rec != nil {
			t.Fatalf("another root key: %v %v", rec, err)
		}
		if err := db.FinishIdempotency(ctx, "rk1", "k", 201, map[string]string{"Content-Type": "application/json"}, []byte(`{"id":"x"}`)); err != nil {
			t.Fatal(err)
		}
		// Release leaves a finished record alone.
		if err := db.ReleaseIdempotency(ctx, "rk1", "k"); err != nil {
			t.Fatal(err)
		}
		rec, err = db.ClaimIdempotency(ctx, "rk1", "k", "h1", now.Add(time.Hour), day.Add(time.Hour), day.Add(time.Hour))
		if !errors.Is(err, idempotency.ErrTaken) || rec.Status != 201 || string(rec.Body) != `{"id":"x"}` || rec.Headers["Content-Type"] != "application/json" {
			t.Fatalf("replay: %+v %v", rec, err)
		}
		// A day later the key is free again.
		later := now.Add(idempotency.TTL + time.Second)
		if rec, err := db.ClaimIdempotency(ctx, "rk1", "k", "h3", later, later.Add(-idempotency.TTL), later.Add(-idempotency.TTL)); err != nil || rec != nil {
			t.Fatalf("claim after the TTL: %v %v", rec, err)
		}
		// A claim left running past Abandoned (its instance died) is
		// taken over.
		if _, err := db.ClaimIdempotency(ctx, "rk3", "k", "h1", now, day, day); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ClaimIdempotency(ctx, "rk3", "k", "h1", now.Add(time.Minute), day, now); !errors.Is(err, idempotency.ErrTaken) {
			t.Fatalf("a claim running a minute was taken over: %v", err)
		}
		if rec, err := db.ClaimIdempotency(ctx, "rk3", "k", "h1", now.Add(idempotency.Abandoned+time.Second), day, now.Add(time.Second)); err != nil || rec != nil {
			t.Fatalf("an abandoned claim: %v %v", rec, err)
		}
		// A running claim that is released can be claimed again.
		if err := db.ReleaseIdempotency(ctx, "rk2", "k"); err != nil {
			t.Fatal(err)
		}
		if rec, err := db.ClaimIdempotency(ctx, "rk2", "k", "h9", now, day, day); err != nil || rec != nil {
			t.Fatalf("claim after release: %v %v", rec, err)
		}
		if err := db.SweepIdempotency(ctx, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// rk2's record (made at now) is gone; rk1's (made later) stays.
		if rec, err := db.ClaimIdempotency(ctx, "rk2", "k", "h9", now, day, day); err != nil || rec != nil {
			t.Fatalf("swept record: %v %v", rec, err)
		}
		if _, err := db.ClaimIdempotency(ctx, "rk1", "k", "h3", later, later.Add(-idempotency.TTL), later.Add(-idempotency.TTL)); !errors.Is(err, idempotency.ErrTaken) {
			t.Fatalf("the sweep took a live record: %v", err)
		}
	})
}

// TestIdempotencyClaimRace: of many concurrent claims of one key exactly
// one wins, on both databases.
func TestIdempotencyClaimRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, taken := 0, 0
		for range 16 {
			wg.Go(func() {
				_, err := db.ClaimIdempotency(ctx, "rk", "race", "h", now, now.Add(-idempotency.TTL), now.Add(-idempotency.TTL))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, idempotency.ErrTaken):
					taken++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won != 1 || taken != 15 {
			t.Fatalf("%d won, %d taken", won, taken)
		}
	})
}

// TestAuditPage: entries newest first, filtered by account and action
// (prefix with a trailing dot), paged by id, carrying the root key.
func TestAuditPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		root := audit.Actor{RootKeyID: "rk1", IP: "192.0.2.1"}
		for i, action := range []string{audit.KeyCreated, audit.KeyRevoked, audit.KeyCreated, "account.created"} {
			if err := db.AppendAudit(ctx, root.Entry("acct1", action, audit.TargetKey, "k", "d", at.Add(time.Duration(i)*time.Second))); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.AppendAudit(ctx, audit.Actor{UserID: "u"}.Entry("acct2", audit.KeyCreated, audit.TargetKey, "k", "d", at)); err != nil {
			t.Fatal(err)
		}
		all, err := db.AuditPage(ctx, audit.Filter{AccountID: "acct1", Limit: 10})
		if err != nil || len(all) != 4 || all[0].Action != "account.created" || all[0].RootKeyID != "rk1" || all[0].IP != "192.0.2.1" {
			t.Fatalf("all: %+v %v", all, err)
		}
		keysOnly, _ := db.AuditPage(ctx, audit.Filter{AccountID: "acct1", Action: "key.", Limit: 10})
		created, _ := db.AuditPage(ctx, audit.Filter{Action: audit.KeyCreated, Limit: 10})
		if len(keysOnly) != 3 || len(created) != 3 {
			t.Fatalf("key.: %d, key.created: %d", len(keysOnly), len(created))
		}
		next, _ := db.AuditPage(ctx, audit.Filter{AccountID: "acct1", StartingAfter: all[1].ID, Limit: 10})
		if len(next) != 2 || next[0].ID != all[2].ID {
			t.Fatalf("after %s: %+v", all[1].ID, next)
		}
	})
}
