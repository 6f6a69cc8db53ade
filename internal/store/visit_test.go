package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
)

// joinAccount makes a team account named name, with user as a member of
// role, by raw SQL: the team store is not what these tests are about.
func joinAccount(t *testing.T, db *store.DB, name, userID string, role team.Role, suspended bool) string {
	t.Helper()
	ctx := context.Background()
	id := keyhold.NewID()
	now := time.Now().UTC()
	if err := db.Exec(ctx, "INSERT INTO accounts (id, name, plan_id, suspended, created_at, updated_at) VALUES (?, ?, 'pro', ?, ?, ?)",
		id, name, suspended, now, now); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		id, userID, string(role), now); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestVisit: one Visit carries the session, its user and every membership
// of the user, ordered by account name in any case ("Zeta" after "mia",
// where a byte order puts it first), each with its account's name, plan
// and suspension; another user's accounts are not among them.
func TestVisit(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := mustAccount(t, db, "mia@example.com") // personal account named "mia@example.com"
		other := mustAccount(t, db, "other@example.com")
		zeta := joinAccount(t, db, "Zeta team", u.ID, team.Developer, true)
		acme := joinAccount(t, db, "acme team", u.ID, team.Viewer, false)
		joinAccount(t, db, "Bystander", other.ID, team.Owner, false)
		now := time.Now().UTC().Truncate(time.Second)
		if err := db.CreateSession(ctx, &auth.Session{ID: "s1", UserID: u.ID, AccountID: acme, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		v, err := db.Visit(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if v.User.ID != u.ID || v.Session.UserID != u.ID || v.Session.AccountID != acme {
			t.Errorf("visit: user %+v, session %+v", v.User, v.Session)
		}
		want := []team.Membership{
			{AccountID: acme, AccountName: "acme team", PlanID: "pro", UserID: u.ID, Role: team.Viewer},
			{AccountID: u.ID, AccountName: "mia@example.com", PlanID: "free", UserID: u.ID, Role: team.Owner},
			{AccountID: zeta, AccountName: "Zeta team", PlanID: "pro", Suspended: true, UserID: u.ID, Role: team.Developer},
		}
		if len(v.Memberships) != len(want) {
			t.Fatalf("memberships: %+v, want %d", v.Memberships, len(want))
		}
		for i, m := range v.Memberships {
			if m.CreatedAt.IsZero() || m.CreatedAt.Location() != time.UTC {
				t.Errorf("membership %d: created at %v", i, m.CreatedAt)
			}
			m.CreatedAt = time.Time{}
			if m != want[i] {
				t.Errorf("membership %d: %+v, want %+v", i, m, want[i])
			}
		}

		// A user with no membership at all still has a visit.
		lone := &auth.User{ID: keyhold.NewID(), Email: "lone@example.com", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, lone, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateSession(ctx, &auth.Session{ID: "s2", UserID: lone.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		v, err = db.Visit(ctx, "s2")
		if err != nil {
			t.Fatal(err)
		}
		if v.User.ID != lone.ID || v.Session.AccountID != "" || len(v.Memberships) != 0 {
			t.Errorf("visit of a user without accounts: %+v %+v %+v", v.User, v.Session, v.Memberships)
		}
		if _, err := db.Visit(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("unknown session: %v, want ErrNotFound", err)
		}
	})
}

// TestSetSessionAccount: a session moves to an account of its user, and
// to no other: not one the user is not a member of, not through another
// user's session, not to an account that does not exist.
func TestSetSessionAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := mustAccount(t, db, "mia@example.com")
		other := mustAccount(t, db, "other@example.com")
		acme := joinAccount(t, db, "acme team", u.ID, team.Viewer, false)
		now := time.Now().UTC().Truncate(time.Second)
		for _, s := range []*auth.Session{
			{ID: "s1", UserID: u.ID, AccountID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			{ID: "s2", UserID: other.ID, AccountID: other.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			name                       string
			session, userID, accountID string
		}{
			{"an account of another user", "s1", u.ID, other.ID},
			{"no such account", "s1", u.ID, "nope"},
			{"another user's session", "s2", u.ID, acme},
			{"no such session", "nope", u.ID, acme},
		} {
			if err := db.SetSessionAccount(ctx, tt.session, tt.userID, tt.accountID); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", tt.name, err)
			}
		}
		for id, want := range map[string]string{"s1": u.ID, "s2": other.ID} {
			if v, err := db.Visit(ctx, id); err != nil || v.Session.AccountID != want {
				t.Errorf("a refused switch moved session %s: %+v %v", id, v, err)
			}
		}
		if err := db.SetSessionAccount(ctx, "s1", u.ID, acme); err != nil {
			t.Fatal(err)
		}
		if v, err := db.Visit(ctx, "s1"); err != nil || v.Session.AccountID != acme {
			t.Errorf("after the switch: %+v %v", v, err)
		}
		// The account going away leaves the session with none picked.
		if err := db.Exec(ctx, "DELETE FROM accounts WHERE id = ?", acme); err != nil {
			t.Fatal(err)
		}
		if v, err := db.Visit(ctx, "s1"); err != nil || v.Session.AccountID != "" || len(v.Memberships) != 1 {
			t.Errorf("after the account was deleted: %+v %v", v, err)
		}
	})
}
