package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
)

// joinAccount makes an account named name with userID as a member of role
// since joined, by raw SQL: the team service is not what these tests are
// about. The tests of this package run on SQLite: "?" placeholders.
func joinAccount(t *testing.T, db *store.DB, name, userID string, role team.Role, joined time.Time) string {
	t.Helper()
	ctx := context.Background()
	id := keyhold.NewID()
	if _, err := db.SQL().ExecContext(ctx, "INSERT INTO accounts (id, name, plan_id, suspended, created_at, updated_at) VALUES (?, ?, 'free', FALSE, ?, ?)",
		id, name, joined, joined); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		id, userID, string(role), joined); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAuthenticatePicksOldestMembership: a session whose current account
// is gone falls back to the account the user joined first (not the first
// by name), and keeps it: the next request sees the same account without
// a fallback.
func TestAuthenticatePicksOldestMembership(t *testing.T) {
	svc, db := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	now := time.Now().UTC()
	oldest := joinAccount(t, db, "zzz team", a.ID, team.Developer, now.Add(-48*time.Hour))
	picked := joinAccount(t, db, "aaa team", a.ID, team.Viewer, now.Add(-24*time.Hour))

	tok, _, err := svc.StartSession(ctx, a.ID, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	// A new session has no account picked: the oldest membership is current.
	v, err := svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if v.Current == nil || v.Current.AccountID != oldest || v.Current.Role != team.Developer || len(v.Memberships) != 3 {
		t.Fatalf("new session: current %+v of %+v, want %s", v.Current, v.Memberships, oldest)
	}
	if err := svc.SwitchAccount(ctx, v, picked); err != nil {
		t.Fatal(err)
	}
	if v, err = svc.Authenticate(ctx, tok); err != nil || v.Current == nil || v.Current.AccountID != picked || v.Current.Role != team.Viewer {
		t.Fatalf("after the switch: %+v, %v; want %s", v, err, picked)
	}
	if _, err := db.SQL().ExecContext(ctx, "DELETE FROM accounts WHERE id = ?", picked); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v, err := svc.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if v.Current == nil || v.Current.AccountID != oldest || v.Session.AccountID != oldest || len(v.Memberships) != 2 {
			t.Errorf("request %d after the account went: current %+v, session %+v", i, v.Current, v.Session)
		}
	}
	// The fallback was stored, not only answered.
	var stored string
	if err := db.SQL().QueryRowContext(ctx, "SELECT account_id FROM sessions WHERE user_id = ?", a.ID).Scan(&stored); err != nil || stored != oldest {
		t.Errorf("stored current account: %q %v, want %s", stored, err, oldest)
	}
}

// TestAuthenticateWithoutAccounts: a user who belongs to no account (the
// last one left) still signs in, with no current account.
func TestAuthenticateWithoutAccounts(t *testing.T) {
	svc, db := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	if _, err := db.SQL().ExecContext(ctx, "DELETE FROM memberships WHERE user_id = ?", a.ID); err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.StartSession(ctx, a.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, tok)
	if err != nil || v.User.ID != a.ID || v.Current != nil || len(v.Memberships) != 0 || v.Session.AccountID != "" {
		t.Fatalf("visit: %+v, %v", v, err)
	}
	if actor := v.Actor("192.0.2.1"); actor.UserID != a.ID || actor.AccountID != "" || actor.Role != "" {
		t.Errorf("actor without an account: %+v", actor)
	}
}

// TestSwitchAccountNotMember: switching to an account the user is not a
// member of, or to none that exists, is ENOTFOUND with the same message
// (it does not tell which), and the session keeps its account.
func TestSwitchAccountNotMember(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	b := mustSignup(t, svc, "bob@example.com", false)
	tok, _, err := svc.StartSession(ctx, a.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"another user's account": b.ID, "no such account": "nope"} {
		err := svc.SwitchAccount(ctx, v, id)
		if code(err) != keyhold.ENOTFOUND || keyhold.ErrorMessage(err) != "No such account." {
			t.Errorf("%s: %v, want ENOTFOUND \"No such account.\"", name, err)
		}
	}
	v, err = svc.Authenticate(ctx, tok)
	if err != nil || v.Current == nil || v.Current.AccountID != a.ID {
		t.Errorf("after refused switches: %+v, %v; want the personal account", v, err)
	}
}
