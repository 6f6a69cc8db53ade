package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestKeyByHashIsOneQuery: the verifier's read of a key on a cache miss
// brings the key, its secret's end, the account's plan and the billing
// period of a live subscription, in one query, on both databases.
func TestKeyByHashIsOneQuery(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		start := now.Add(-24 * time.Hour)
		for _, tc := range []struct {
			name       string
			status     string // subscription status; "": none
			wantPeriod bool
		}{
			{"NoSubscription", "", false},
			{"LiveSubscription", "active", true},
			{"CanceledSubscription", "canceled", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := mustAccount(t, db, tc.name+"@example.com")
				k, s := newKey(a.ID, now)
				if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated, k.ID)); err != nil {
					t.Fatal(err)
				}
				if tc.status != "" {
					subscribe(t, db, "evt_"+tc.name, a.ID, "cus_"+tc.name, tc.status, "pro", start)
				}
				queries := db.CountQueries()
				rec, err := db.KeyByHash(ctx, s.Hash())
				if err != nil {
					t.Fatal(err)
				}
				if n := queries.Load(); n != 1 {
					t.Errorf("%d queries, want 1", n)
				}
				if rec.Key.ID != k.ID || rec.Key.AccountID != a.ID || rec.Key.Name != "k" || len(rec.Key.Scopes) != 1 || string(rec.Key.Meta) != `{"a":"b"}` {
					t.Errorf("key %+v", rec.Key)
				}
				wantPlan := "free"
				if tc.status != "" {
					p, err := db.AccountPlan(ctx, a.ID)
					if err != nil {
						t.Fatal(err)
					}
					wantPlan = p
				}
				if rec.PlanID != wantPlan || rec.SecretExpiresAt != nil {
					t.Errorf("plan %q (want %q), secret ends %v", rec.PlanID, wantPlan, rec.SecretExpiresAt)
				}
				want := verify.Window{}
				if tc.wantPeriod {
					want = verify.Window{Start: start, End: start.AddDate(0, 1, 0)}
				}
				if !rec.Period.Start.Equal(want.Start) || !rec.Period.End.Equal(want.End) {
					t.Errorf("period %v, want %v", rec.Period, want)
				}
			})
		}
		t.Run("RotatedAwaySecretEnds", func(t *testing.T) {
			a := mustAccount(t, db, "rotated@example.com")
			k, s := newKey(a.ID, now)
			if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated, k.ID)); err != nil {
				t.Fatal(err)
			}
			_, ns := newKey(a.ID, now)
			until := now.Add(time.Hour)
			if err := db.RotateKey(ctx, a.ID, k.ID, ns.Hash(), ns.Display(), now, until, entry(a.ID, audit.KeyRotated, k.ID)); err != nil {
				t.Fatal(err)
			}
			rec, err := db.KeyByHash(ctx, s.Hash())
			if err != nil {
				t.Fatal(err)
			}
			if rec.SecretExpiresAt == nil || !rec.SecretExpiresAt.Equal(until) {
				t.Errorf("old secret ends %v, want %v", rec.SecretExpiresAt, until)
			}
		})
		t.Run("UnknownHash", func(t *testing.T) {
			if _, err := db.KeyByHash(ctx, [32]byte{9}); !errors.Is(err, verify.ErrNotFound) {
				t.Errorf("err %v, want verify.ErrNotFound", err)
			}
		})
	})
}
