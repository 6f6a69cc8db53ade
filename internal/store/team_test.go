package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
)

// teamFixture writes users, accounts and memberships with raw SQL, apart
// from the account code being rewritten for users.
type teamFixture struct {
	t   *testing.T
	db  *store.DB
	now time.Time
}

func (f teamFixture) exec(q string, args ...any) {
	f.t.Helper()
	if err := f.db.Exec(context.Background(), q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f teamFixture) user(email string) string {
	id := keyhold.NewID()
	f.exec("INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'h', ?, ?)", id, email, f.now, f.now)
	return id
}

func (f teamFixture) account(name string, suspended bool) string {
	id := keyhold.NewID()
	f.exec("INSERT INTO accounts (id, name, plan_id, suspended, created_at, updated_at) VALUES (?, ?, 'pro', ?, ?, ?)", id, name, suspended, f.now, f.now)
	return id
}

func (f teamFixture) member(acct, user string, role team.Role) {
	f.exec("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", acct, user, string(role), f.now)
}

// TestTeamReads: the joined reads carry what their callers show (account
// name, plan and suspension; member emails in order; the inviter's email,
// empty once the inviter is gone) and report team.ErrNotFound.
func TestTeamReads(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := teamFixture{t: t, db: db, now: time.Now().UTC().Truncate(time.Second)}
		acct := f.account("Acme", true)
		zed, ada := f.user("zed@example.com"), f.user("ada@example.com")
		f.member(acct, zed, team.Owner)
		f.member(acct, ada, team.Viewer)
		m, err := db.Membership(ctx, acct, ada)
		if err != nil || m.AccountName != "Acme" || m.PlanID != "pro" || !m.Suspended || m.Role != team.Viewer || !m.CreatedAt.Equal(f.now) {
			t.Errorf("membership %+v, %v", m, err)
		}
		if _, err := db.Membership(ctx, acct, "nobody"); !errors.Is(err, team.ErrNotFound) {
			t.Errorf("no membership: %v", err)
		}
		if _, err := db.TeamAccount(ctx, "nope"); !errors.Is(err, team.ErrNotFound) {
			t.Errorf("no account: %v", err)
		}
		_, hash := keyhold.NewToken()
		inv := &team.Invitation{ID: keyhold.NewID(), AccountID: acct, Email: "bob@example.com", Role: team.Developer, TokenHash: hash,
			InvitedBy: zed, CreatedAt: f.now, ExpiresAt: f.now.Add(team.InvitationTTL)}
		if err := db.CreateInvitation(ctx, inv, 0, nil, audit.Entry{ID: keyhold.NewID(), AccountID: acct, Action: audit.MemberInvited, CreatedAt: f.now}); err != nil {
			t.Fatal(err)
		}
		members, pending, err := db.Members(ctx, acct, f.now)
		if err != nil || len(members) != 2 || members[0].Email != "ada@example.com" || members[1].Email != "zed@example.com" {
			t.Fatalf("members %+v, %v", members, err)
		}
		if len(pending) != 1 || pending[0].InviterMail != "zed@example.com" || !pending[0].ExpiresAt.Equal(inv.ExpiresAt) {
			t.Errorf("pending %+v", pending)
		}
		if _, pending, _ := db.Members(ctx, acct, inv.ExpiresAt); len(pending) != 0 {
			t.Errorf("pending at expiry: %+v", pending)
		}
		got, err := db.InvitationByHash(ctx, hash)
		if err != nil || got.AccountName != "Acme" || got.InviterMail != "zed@example.com" || got.Role != team.Developer || got.AcceptedAt != nil {
			t.Errorf("by hash %+v, %v", got, err)
		}
		f.exec("DELETE FROM users WHERE id = ?", zed)
		if got, err := db.InvitationByHash(ctx, hash); err != nil || got.InviterMail != "" {
			t.Errorf("inviter gone: %+v, %v", got, err)
		}
		if _, err := db.InvitationByHash(ctx, "nope"); !errors.Is(err, team.ErrNotFound) {
			t.Errorf("unknown hash: %v", err)
		}
	})
}
