package team_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// TestSetRole: an owner changes roles, audited; each refusal changes
// nothing.
func TestSetRole(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acct := e.account("Acme", "free")
		ada, bob := e.user("ada@example.com"), e.user("bob@example.com")
		e.member(acct, ada, team.Owner)
		e.member(acct, bob, team.Developer)
		owner := actor(acct, ada, team.Owner)
		if err := e.svc.SetRole(ctx, owner, bob, "billing"); err != nil {
			t.Fatal(err)
		}
		if r := e.roleOf(acct, bob); r != team.Billing {
			t.Errorf("role %s, want billing", r)
		}
		if n := e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND actor_id = ? AND target_id = ? AND detail LIKE ?",
			acct, audit.MemberRoleChanged, ada, bob, "%developer to billing%"); n != 1 {
			t.Errorf("%d role entries", n)
		}
		// The same role again is no change, and no entry.
		if err := e.svc.SetRole(ctx, owner, bob, "billing"); err != nil || e.audits(acct, audit.MemberRoleChanged) != 1 {
			t.Errorf("same role: %v, %d entries", err, e.audits(acct, audit.MemberRoleChanged))
		}
		stranger := e.user("eve@example.com")
		elsewhere := e.account("Other", "free")
		e.member(elsewhere, stranger, team.Developer)
		tests := []struct {
			name, user, role, code, msg string
		}{
			{"last owner demotes themselves", ada, "admin", keyhold.ECONFLICT, "You are the last owner of Acme: make someone else an owner first."},
			{"not a member", stranger, "viewer", keyhold.ENOTFOUND, "not a member"},
			{"unknown user", "nobody", "viewer", keyhold.ENOTFOUND, "not a member"},
			{"bad role", bob, "superuser", keyhold.EINVALID, "Choose a role"},
		}
		for _, tt := range tests {
			before := e.snapshot(acct)
			wantCode(t, tt.name, e.svc.SetRole(ctx, owner, tt.user, tt.role), tt.code, tt.msg)
			if after := e.snapshot(acct); after != before {
				t.Errorf("%s changed:\n%s\nto\n%s", tt.name, before, after)
			}
		}
		if r := e.roleOf(elsewhere, stranger); r != team.Developer {
			t.Errorf("another account's member became %q", r)
		}
		// With a second owner the first may step down.
		if err := e.svc.SetRole(ctx, owner, bob, "owner"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetRole(ctx, owner, ada, "viewer"); err != nil {
			t.Fatalf("demote with another owner: %v", err)
		}
		// Now bob is the last owner: another owner cannot demote him, and
		// the message says whose role it is.
		e.member(acct, e.user("carol@example.com"), team.Admin)
		err := e.svc.SetRole(ctx, actor(acct, bob, team.Owner), bob, "developer")
		wantCode(t, "last owner", err, keyhold.ECONFLICT, "You are the last owner")
	})
}

// TestRemoveAndLeave: removing takes the member out, audited; leaving is
// open to every member but the last owner; removing yourself is leaving.
func TestRemoveAndLeave(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acct := e.account("Acme", "free")
		ada, bob, carol := e.user("ada@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
		e.member(acct, ada, team.Owner)
		e.member(acct, bob, team.Viewer)
		e.member(acct, carol, team.Admin)
		owner := actor(acct, ada, team.Owner)
		if err := e.svc.Remove(ctx, owner, bob); err != nil {
			t.Fatal(err)
		}
		if r := e.roleOf(acct, bob); r != "" {
			t.Errorf("bob is still %s", r)
		}
		if n := e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND actor_id = ? AND target_id = ?",
			acct, audit.MemberRemoved, ada, bob); n != 1 {
			t.Errorf("%d removal entries", n)
		}
		before := e.snapshot(acct)
		wantCode(t, "remove a non-member", e.svc.Remove(ctx, owner, bob), keyhold.ENOTFOUND, "not a member")
		wantCode(t, "last owner leaves", e.svc.Leave(ctx, owner), keyhold.ECONFLICT,
			"You are the last owner of Acme: make someone else an owner first.")
		wantCode(t, "last owner removes themselves", e.svc.Remove(ctx, owner, ada), keyhold.ECONFLICT, "You are the last owner of Acme")
		if after := e.snapshot(acct); after != before {
			t.Errorf("refusals changed:\n%s\nto\n%s", before, after)
		}
		// The admin leaves through Remove of themselves.
		if err := e.svc.Remove(ctx, actor(acct, carol, team.Admin), carol); err != nil {
			t.Fatal(err)
		}
		if e.roleOf(acct, carol) != "" || e.audits(acct, audit.MemberLeft) != 1 {
			t.Errorf("carol did not leave: %q, %d entries", e.roleOf(acct, carol), e.audits(acct, audit.MemberLeft))
		}
		wantCode(t, "leave twice", e.svc.Leave(ctx, actor(acct, carol, team.Admin)), keyhold.ENOTFOUND, "")
		// A store call for a removal that no longer fits (the role moved
		// on) is refused as not found, not applied.
		err := e.db.RemoveMember(ctx, acct, ada, team.Viewer, audit.Entry{ID: keyhold.NewID(), AccountID: acct, Action: audit.MemberRemoved})
		if !errors.Is(err, team.ErrNotFound) || e.roleOf(acct, ada) != team.Owner {
			t.Errorf("stale removal: %v", err)
		}
		err = e.db.RemoveMember(ctx, acct, ada, team.Owner, audit.Entry{ID: keyhold.NewID(), AccountID: acct, Action: audit.MemberRemoved})
		if !errors.Is(err, team.ErrLastOwner) {
			t.Errorf("store removal of the last owner: %v", err)
		}
	})
}

// TestConcurrentDemotions: two owners demoting each other at the same
// moment leave exactly one owner, on PostgreSQL (where the guard needs the
// owners' rows locked) and on SQLite. Repeated, since one run may not
// overlap.
func TestConcurrentDemotions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for round := range 20 {
			acct := e.account("Acme", "free")
			a, b := e.user(keyhold.NewID()+"@example.com"), e.user(keyhold.NewID()+"@example.com")
			e.member(acct, a, team.Owner)
			e.member(acct, b, team.Owner)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			for i, pair := range [][2]string{{a, b}, {b, a}} {
				wg.Go(func() {
					<-start
					errs[i] = e.svc.SetRole(ctx, actor(acct, pair[0], team.Owner), pair[1], "admin")
				})
			}
			close(start)
			wg.Wait()
			owners := e.count("SELECT COUNT(*) FROM memberships WHERE account_id = ? AND role = 'owner'", acct)
			if owners != 1 {
				t.Fatalf("round %d: %d owners left (errors %v)", round, owners, errs)
			}
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					if keyhold.ErrorCode(err) != keyhold.ECONFLICT || !strings.Contains(keyhold.ErrorMessage(err), "last owner") {
						t.Errorf("round %d: %v, want the last-owner conflict", round, err)
					}
				}
			}
			if failed != 1 || e.audits(acct, audit.MemberRoleChanged) != 1 {
				t.Errorf("round %d: %d refused, %d entries; want 1 and 1", round, failed, e.audits(acct, audit.MemberRoleChanged))
			}
		}
	})
}

// TestCreateAccount: a new account on the default plan, its creator the
// owner, audited; names are trimmed and checked.
func TestCreateAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ada := e.user("ada@example.com")
		a, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, "  Zeta Labs  ")
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "Zeta Labs" || a.PlanID != "free" || a.ID == "" {
			t.Errorf("account %+v", a)
		}
		if r := e.roleOf(a.ID, ada); r != team.Owner {
			t.Errorf("creator is %q", r)
		}
		if n := e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND actor_id = ? AND target_id = ?",
			a.ID, audit.AccountCreated, ada, a.ID); n != 1 {
			t.Errorf("%d account.created entries", n)
		}
		for _, name := range []string{"beta", "Alpha", "gamma"} {
			if _, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, name); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := e.svc.Memberships(ctx, ada)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.AccountName)
		}
		if got := strings.Join(names, ","); got != "Alpha,beta,gamma,Zeta Labs" {
			t.Errorf("memberships by name: %s", got)
		}
		accounts := e.count("SELECT COUNT(*) FROM accounts")
		for _, tt := range []struct{ name, msg string }{
			{"", "Enter a name"},
			{"   ", "Enter a name"},
			{strings.Repeat("é", team.MaxNameLen+1), "at most 64 characters"},
			{"Acme\u202eInc", "invisible or control character"},
			{"Acme\xff", "not valid UTF-8"},
		} {
			_, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, tt.name)
			wantCode(t, "name "+tt.name, err, keyhold.EINVALID, tt.msg)
			if keyhold.Fields(err)["name"] == "" {
				t.Errorf("name %q: the error names no field", tt.name)
			}
		}
		if _, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, strings.Repeat("é", team.MaxNameLen)); err != nil {
			t.Errorf("a name of 64 characters: %v", err)
		}
		if n := e.count("SELECT COUNT(*) FROM accounts"); n != accounts+1 {
			t.Errorf("%d accounts, want %d: a refused name made one", n, accounts+1)
		}
		// A user that does not exist cannot own one: nothing is left.
		if _, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: "nobody"}, "Ghost"); err == nil {
			t.Error("an account for an unknown user")
		}
		if n := e.count("SELECT COUNT(*) FROM accounts WHERE name = 'Ghost'"); n != 0 {
			t.Errorf("%d Ghost accounts after the failed owner insert", n)
		}
	})
}

// TestDemotionWaitsForOwnerLock makes the race of TestConcurrentDemotions
// happen every time, on PostgreSQL: a transaction demotes one owner and
// holds on; the store's demotion of the other must wait for it (it locks
// the owners' rows) and then see that it would leave none. Without the
// lock it would go through at once, both would commit, and the account
// would have no owner.
func TestDemotionWaitsForOwnerLock(t *testing.T) {
	e := newEnv(t, "postgres", false)
	ctx := context.Background()
	acct := e.account("Acme", "free")
	a, b := e.user("a@example.com"), e.user("b@example.com")
	e.member(acct, a, team.Owner)
	e.member(acct, b, team.Owner)
	tx, err := e.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, "UPDATE memberships SET role = 'admin' WHERE account_id = $1 AND user_id = $2", acct, a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- e.db.SetRole(ctx, acct, b, team.Owner, team.Admin, audit.Entry{ID: keyhold.NewID(), AccountID: acct, Action: audit.MemberRoleChanged})
	}()
	// Wait until the demotion is blocked on a lock, or has finished
	// (which is the bug).
	e.waitBlocked(done, "the demotion did not wait for the other owner's transaction")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, team.ErrLastOwner) {
		t.Fatalf("demotion after the other committed: %v, want ErrLastOwner", err)
	}
	if n := e.count("SELECT COUNT(*) FROM memberships WHERE account_id = ? AND role = 'owner'", acct); n != 1 {
		t.Errorf("%d owners", n)
	}
}

// TestCreateAccountBound: a user owns at most MaxOwnedAccounts accounts;
// the next is refused with ELIMIT and nothing is made. Accounts they are
// only a member of do not count.
func TestCreateAccountBound(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ada := e.user("ada@example.com")
		bob := e.user("bob@example.com")
		other, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: bob}, "Bob's")
		if err != nil {
			t.Fatal(err)
		}
		e.member(other.ID, ada, team.Admin)
		for i := range team.MaxOwnedAccounts {
			if _, err := e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, "Acme "+strings.Repeat("x", i%5+1)); err != nil {
				t.Fatalf("account %d: %v", i+1, err)
			}
		}
		before := e.count("SELECT COUNT(*) FROM accounts")
		_, err = e.svc.CreateAccount(ctx, audit.Actor{UserID: ada}, "One too many")
		if keyhold.ErrorCode(err) != keyhold.ELIMIT || !errors.Is(err, team.ErrTooManyAccounts) {
			t.Fatalf("account %d: %v, want ELIMIT", team.MaxOwnedAccounts+1, err)
		}
		if after := e.count("SELECT COUNT(*) FROM accounts"); after != before {
			t.Errorf("a refused account was made: %d accounts, were %d", after, before)
		}
	})
}
