package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/store"
)

// countAudit is how many entries with action the account has.
func countAudit(t *testing.T, db *store.DB, accountID, action string) int {
	t.Helper()
	rs, err := db.AuditLog(context.Background(), auth.AuditQuery{AccountID: accountID, Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

func TestSetOperatorKeepsOne(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ops := mustAccount(t, db, "ops@example.com")
		other := mustAccount(t, db, "other@example.com")
		if err := db.SetOperator(ctx, ops.ID, true, false, entry(ops.ID, audit.Promoted)); err != nil {
			t.Fatal(err)
		}
		// The only operator, with keepOne: refused, nothing written.
		err := db.SetOperator(ctx, ops.ID, false, true, entry(ops.ID, audit.Demoted))
		if !errors.Is(err, auth.ErrLastOperator) {
			t.Fatalf("demote the only operator: %v, want ErrLastOperator", err)
		}
		if a, _ := db.UserByID(ctx, ops.ID); !a.IsAdmin {
			t.Error("the refused demotion cleared the flag")
		}
		if n := countAudit(t, db, ops.ID, audit.Demoted); n != 0 {
			t.Errorf("%d demotion entries for a refused demotion", n)
		}
		// With another operator, it goes through, with its entry. (Users
		// are not suspended, accounts are: a suspended account does not
		// make its owner less of an operator.)
		if err := db.SetOperator(ctx, other.ID, true, false, entry(other.ID, audit.Promoted)); err != nil {
			t.Fatal(err)
		}
		if err := db.SetOperator(ctx, ops.ID, false, true, entry(ops.ID, audit.Demoted)); err != nil {
			t.Fatalf("demote with another operator: %v", err)
		}
		if a, _ := db.UserByID(ctx, ops.ID); a.IsAdmin {
			t.Error("still an operator")
		}
		if n := countAudit(t, db, ops.ID, audit.Demoted); n != 1 {
			t.Errorf("%d demotion entries, want 1", n)
		}
		// Without keepOne the last one may go (the command line).
		if err := db.SetOperator(ctx, other.ID, false, false, entry(other.ID, audit.Demoted)); err != nil {
			t.Fatal(err)
		}
		for _, keepOne := range []bool{false, true} {
			if err := db.SetOperator(ctx, "nope", false, keepOne, entry("nope", audit.Demoted)); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("unknown account (keepOne %v): %v", keepOne, err)
			}
		}
	})
}

func TestSetSuspendedReachesKeyByHash(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")
		k, s := newKey(a.ID, time.Now().UTC().Truncate(time.Microsecond))
		if err := db.CreateKey(ctx, k, s.Hash(), 2, entry(a.ID, audit.KeyCreated)); err != nil {
			t.Fatal(err)
		}
		for _, suspended := range []bool{true, false} {
			if err := db.SetSuspended(ctx, a.ID, suspended, entry(a.ID, audit.Suspended)); err != nil {
				t.Fatal(err)
			}
			rec, err := db.KeyByHash(ctx, s.Hash())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Suspended != suspended || rec.PlanID != "free" {
				t.Errorf("KeyByHash after SetSuspended(%v): suspended %v, plan %q", suspended, rec.Suspended, rec.PlanID)
			}
			acc, _ := db.AccountByID(ctx, a.ID)
			if acc.Suspended != suspended {
				t.Errorf("AccountByID: suspended %v, want %v", acc.Suspended, suspended)
			}
			rows, _ := db.Accounts(ctx, auth.AccountQuery{Limit: 10})
			if len(rows) != 1 || rows[0].Suspended != suspended {
				t.Errorf("Accounts does not carry the suspension")
			}
		}
		if n := countAudit(t, db, a.ID, audit.Suspended); n != 2 {
			t.Errorf("%d entries, want one per change", n)
		}
		if err := db.SetSuspended(ctx, "nope", true, entry("nope", audit.Suspended)); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("unknown account: %v", err)
		}
	})
}

// TestSetOperatorKeepsOneUnderConcurrency: the only two operators demote
// themselves at the same moment, again and again: one may go, never both.
func TestSetOperatorKeepsOneUnderConcurrency(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "a@example.com")
		b := mustAccount(t, db, "b@example.com")
		for round := range 20 {
			for _, id := range []string{a.ID, b.ID} {
				if err := db.SetOperator(ctx, id, true, false, entry(id, audit.Promoted)); err != nil {
					t.Fatal(err)
				}
			}
			errs := make(chan error, 2)
			for _, id := range []string{a.ID, b.ID} {
				go func() { errs <- db.SetOperator(ctx, id, false, true, entry(id, audit.Demoted)) }()
			}
			refused := 0
			for range 2 {
				if err := <-errs; errors.Is(err, auth.ErrLastOperator) {
					refused++
				} else if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			ra, _ := db.UserByID(ctx, a.ID)
			rb, _ := db.UserByID(ctx, b.ID)
			if !ra.IsAdmin && !rb.IsAdmin {
				t.Fatalf("round %d: both operators demoted themselves (%d refused)", round, refused)
			}
		}
	})
}
