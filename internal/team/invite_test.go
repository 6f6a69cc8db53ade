package team_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
)

// TestInvite: an invitation is stored by its token's hash for seven days,
// normalised, audited as the inviter's, listed as pending with the
// inviter's email, and its mail is queued with it.
func TestInvite(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acct := e.account("Acme", "free")
		ada := e.user("ada@example.com")
		e.member(acct, ada, team.Owner)
		token, inv, mailed, err := e.svc.Invite(ctx, actor(acct, ada, team.Owner), "  Bob@Example.COM ", " developer ")
		if err != nil {
			t.Fatal(err)
		}
		if !mailed || len(token) != 43 || inv.Email != "bob@example.com" || inv.Role != team.Developer ||
			inv.TokenHash != keyhold.TokenHash(token) || !inv.ExpiresAt.Equal(e.now.Add(7*24*time.Hour)) || inv.InviterMail != "ada@example.com" {
			t.Errorf("invite: token %d chars, mailed %v, %+v", len(token), mailed, inv)
		}
		if n := e.count("SELECT COUNT(*) FROM invitations WHERE token_hash = ?", keyhold.TokenHash(token)); n != 1 {
			t.Errorf("%d invitations stored by the token's hash", n)
		}
		if n := e.count("SELECT COUNT(*) FROM invitations WHERE token_hash = ?", token); n != 0 {
			t.Error("the token is stored in the clear")
		}
		if n := e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND actor_id = ? AND target_id = ?",
			acct, audit.MemberInvited, ada, inv.ID); n != 1 {
			t.Errorf("%d member.invited entries by the inviter", n)
		}
		if n := e.jobs(); n != 1 {
			t.Errorf("%d mail jobs, want 1", n)
		}
		if n := e.count("SELECT COUNT(*) FROM river_job WHERE CAST(args AS TEXT) LIKE ?", "%"+token+"%"); n != 0 {
			t.Error("the job's arguments hold the token in the clear")
		}
		members, pending, err := e.svc.Members(ctx, actor(acct, ada, team.Owner))
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 1 || members[0].Email != "ada@example.com" || members[0].Role != team.Owner {
			t.Errorf("members %+v", members)
		}
		if len(pending) != 1 || pending[0].ID != inv.ID || pending[0].InviterMail != "ada@example.com" {
			t.Errorf("pending %+v", pending)
		}
	})
}

// TestInviteRefused: each refusal of Invite, with nothing stored, audited
// or mailed.
func TestInviteRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tests := []struct {
			name, email, role string
			setup             func(acct string)
			code, msg         string
		}{
			{"bad email", "not-an-email", "developer", nil, keyhold.EINVALID, "valid email"},
			{"empty email", " ", "developer", nil, keyhold.EINVALID, "Enter the email address of the person to invite."},
			{"bad role", "bob@example.com", "root", nil, keyhold.EINVALID, "Choose a role"},
			{"already a member", "Bob@example.com", "viewer", func(acct string) {
				e.member(acct, e.user("bob@example.com"), team.Viewer)
			}, keyhold.ECONFLICT, "bob@example.com is a member of Acme already."},
			{"plan full", "bob@example.com", "viewer", func(acct string) {
				e.exec("UPDATE accounts SET plan_id = 'team' WHERE id = ?", acct)
				e.member(acct, e.user("carol@example.com"), team.Viewer)
				owner := e.count("SELECT COUNT(*) FROM memberships WHERE account_id = ?", acct)
				if owner != 2 {
					t.Fatalf("%d members", owner)
				}
				ada := ownerOf(e, acct)
				if _, _, _, err := e.svc.Invite(ctx, actor(acct, ada, team.Owner), "dan@example.com", "viewer"); err != nil {
					t.Fatal(err)
				}
			}, keyhold.ELIMIT, "The Team plan allows 3 members"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.t = t
				acct := e.account("Acme", "free")
				ada := e.user(keyhold.NewID() + "@example.com")
				e.member(acct, ada, team.Owner)
				if tt.setup != nil {
					tt.setup(acct)
				}
				before, jobs := e.snapshot(acct), e.jobs()
				_, _, _, err := e.svc.Invite(ctx, actor(acct, ada, team.Owner), tt.email, tt.role)
				wantCode(t, tt.name, err, tt.code, tt.msg)
				if tt.code == keyhold.EINVALID && len(keyhold.Fields(err)) == 0 {
					t.Errorf("%s: the error names no form field", tt.name)
				}
				if after := e.snapshot(acct); after != before || e.jobs() != jobs {
					t.Errorf("refused, but changed:\n%s\nto\n%s", before, after)
				}
			})
		}
	})
}

// ownerOf is the first owner of acct.
func ownerOf(e *env, acct string) string {
	e.t.Helper()
	var id string
	if err := e.db.SQL().QueryRowContext(context.Background(),
		e.rebind("SELECT user_id FROM memberships WHERE account_id = ? AND role = 'owner' ORDER BY user_id"), acct).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// TestReinviteReplaces: inviting an address again revokes its earlier
// invitation (its link then says revoked) and takes no second seat, even
// when the plan is full.
func TestReinviteReplaces(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acct := e.account("Acme", "duo") // 2 seats: the owner and one invitation
		ada := e.user("ada@example.com")
		e.member(acct, ada, team.Owner)
		a := actor(acct, ada, team.Owner)
		first, _, _, err := e.svc.Invite(ctx, a, "bob@example.com", "viewer")
		if err != nil {
			t.Fatal(err)
		}
		second, inv, _, err := e.svc.Invite(ctx, a, "bob@example.com", "developer")
		if err != nil {
			t.Fatalf("re-invite on a full plan: %v", err)
		}
		if _, state, _ := e.svc.Invitation(ctx, first); state != team.InvitationRevoked {
			t.Errorf("the first invitation is %s, want revoked", state)
		}
		if got, state, _ := e.svc.Invitation(ctx, second); state != team.InvitationOpen || got.Role != team.Developer {
			t.Errorf("the second invitation is %s", state)
		}
		_, pending, err := e.svc.Members(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 || pending[0].ID != inv.ID {
			t.Errorf("pending %+v, want only the second", pending)
		}
		// Another address finds the plan full.
		_, _, _, err = e.svc.Invite(ctx, a, "carol@example.com", "viewer")
		wantCode(t, "third seat", err, keyhold.ELIMIT, "Duo plan allows 2")
	})
}

// TestInviteWithoutEmail: with email off nothing is queued and Invite says
// it was not mailed; the link still works.
func TestInviteWithoutEmail(t *testing.T) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, false)
			acct := e.account("Acme", "free")
			ada := e.user("ada@example.com")
			e.member(acct, ada, team.Owner)
			token, _, mailed, err := e.svc.Invite(context.Background(), actor(acct, ada, team.Owner), "bob@example.com", "viewer")
			if err != nil || mailed {
				t.Fatalf("invite: mailed %v, %v", mailed, err)
			}
			if n := e.jobs(); n != 0 {
				t.Errorf("%d mail jobs with email off", n)
			}
			if _, state, _ := e.svc.Invitation(context.Background(), token); state != team.InvitationOpen {
				t.Errorf("state %s", state)
			}
		})
	}
}

// TestInvitationMailRollsBack: the mail is queued inside the invitation's
// transaction, so when the transaction fails after queueing it (here the
// audit entry's id is taken) neither the invitation nor its mail remains.
func TestInvitationMailRollsBack(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acct := e.account("Acme", "free")
		ada := e.user("ada@example.com")
		e.member(acct, ada, team.Owner)
		taken := keyhold.NewID()
		e.exec("INSERT INTO audit_log (id, account_id, actor_id, action, target_type, target_id, ip, detail, created_at) VALUES (?, ?, '', 'x', '', '', '', '', ?)", taken, acct, e.now)
		_, hash := keyhold.NewToken()
		inv := &team.Invitation{ID: keyhold.NewID(), AccountID: acct, Email: "bob@example.com", Role: team.Viewer, TokenHash: hash,
			InvitedBy: ada, CreatedAt: e.now, ExpiresAt: e.now.Add(team.InvitationTTL)}
		m := &team.InvitationMail{To: inv.Email, Token: "t", AccountName: "Acme", Role: team.Viewer, ExpiresAt: inv.ExpiresAt}
		err := e.db.CreateInvitation(ctx, inv, 0, m, audit.Entry{ID: taken, AccountID: acct, Action: audit.MemberInvited, CreatedAt: e.now})
		if err == nil {
			t.Fatal("an invitation with a taken audit id was stored")
		}
		if n := e.count("SELECT COUNT(*) FROM invitations"); n != 0 {
			t.Errorf("%d invitations after the failed transaction", n)
		}
		if n := e.jobs(); n != 0 {
			t.Errorf("%d mail jobs after the failed transaction", n)
		}
		// The same call with a fresh entry stores both.
		if err := e.db.CreateInvitation(ctx, inv, 0, m, audit.Entry{ID: keyhold.NewID(), AccountID: acct, Action: audit.MemberInvited, CreatedAt: e.now}); err != nil {
			t.Fatal(err)
		}
		if e.jobs() != 1 || !strings.EqualFold(m.InviterMail, "ada@example.com") {
			t.Errorf("%d jobs, inviter %q", e.jobs(), m.InviterMail)
		}
	})
}

// TestLastSeatWaitsForAccountLock: on PostgreSQL an invitation taking the
// last seat holds the account's row until it commits; another invitation
// meanwhile waits for it and then finds the plan full, instead of counting
// without the first and taking a seat that is not there.
func TestLastSeatWaitsForAccountLock(t *testing.T) {
	e := newEnv(t, "postgres", false)
	ctx := context.Background()
	acct := e.account("Acme", "duo") // two seats: the owner and one more
	ada := e.user("ada@example.com")
	e.member(acct, ada, team.Owner)
	tx, err := e.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// What CreateInvitation does first: lock the account, then insert.
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", acct); err != nil {
		t.Fatal(err)
	}
	_, hash := keyhold.NewToken()
	if _, err := tx.ExecContext(ctx, `INSERT INTO invitations (id, account_id, email, role, token_hash, invited_by, created_at, expires_at)
VALUES ($1, $2, 'bob@example.com', 'viewer', $3, $4, $5, $6)`, keyhold.NewID(), acct, hash, ada, e.now, e.now.Add(team.InvitationTTL)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, _, err := e.svc.Invite(ctx, actor(acct, ada, team.Owner), "carol@example.com", "viewer")
		done <- err
	}()
	e.waitBlocked(done, "the second invitation did not wait for the first")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second invitation", <-done, keyhold.ELIMIT, "Duo plan allows 2")
	if n := e.count("SELECT COUNT(*) FROM invitations WHERE account_id = ?", acct); n != 1 {
		t.Errorf("%d invitations on a plan with one free seat", n)
	}
}

// TestInviteWithoutOutbox: with email on but no outbox that can queue an
// invitation, Invite fails and stores nothing: a mail is never dropped
// without a word.
func TestInviteWithoutOutbox(t *testing.T) {
	e := newEnv(t, storetest.SQLite, true)
	e.db.SetOutbox(nil)
	acct := e.account("Acme", "free")
	ada := e.user("ada@example.com")
	e.member(acct, ada, team.Owner)
	before := e.snapshot(acct)
	_, _, _, err := e.svc.Invite(context.Background(), actor(acct, ada, team.Owner), "bob@example.com", "viewer")
	wantCode(t, "no outbox", err, keyhold.EINTERNAL, "")
	if after := e.snapshot(acct); after != before {
		t.Errorf("changed:\n%s\nto\n%s", before, after)
	}
}

func TestNewServiceNeedsItsParts(t *testing.T) {
	e := newEnv(t, storetest.SQLite, false)
	norm := func(s string) (string, error) { return s, nil }
	for name, c := range map[string]team.Config{
		"no store":     {Plans: catalog, NormalizeEmail: norm},
		"no plans":     {Store: e.db, NormalizeEmail: norm},
		"no normalize": {Store: e.db, Plans: catalog},
	} {
		if _, err := team.NewService(c); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	if s, err := team.NewService(team.Config{Store: e.db, Plans: catalog, NormalizeEmail: norm, EmailOn: true}); err != nil || !s.EmailEnabled() {
		t.Errorf("EmailEnabled: %v", err)
	}
}
