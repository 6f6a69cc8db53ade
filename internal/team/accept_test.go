package team_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// invited is an account with an owner and an open invitation of bob as a
// developer.
type invited struct {
	acct, owner, token, id string
}

func (e *env) invited(plan string) invited {
	e.t.Helper()
	acct := e.account("Acme", plan)
	owner := e.user(keyhold.NewID() + "@example.com")
	e.member(acct, owner, team.Owner)
	token, inv, _, err := e.svc.Invite(context.Background(), actor(acct, owner, team.Owner), "bob@example.com", "developer")
	if err != nil {
		e.t.Fatal(err)
	}
	return invited{acct: acct, owner: owner, token: token, id: inv.ID}
}

// TestAccept: the invited user becomes a member with the invitation's
// role, once, audited as member.added by them; the link then says
// accepted. On Duo (two seats) the owner and the invitation fill the
// plan: accepting counts members only, so the invitation's own seat is
// not counted twice.
func TestAccept(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		in := e.invited("duo")
		bob := e.user("bob@example.com")
		got, err := e.svc.Accept(ctx, audit.Actor{UserID: bob}, "Bob@Example.com", in.token)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccountID != in.acct || got.AccountName != "Acme" || got.Role != team.Developer || got.AcceptedBy != bob || got.AcceptedAt == nil {
			t.Errorf("accepted %+v", got)
		}
		if r := e.roleOf(in.acct, bob); r != team.Developer {
			t.Errorf("role %q, want developer", r)
		}
		if n := e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND actor_id = ? AND target_id = ?",
			in.acct, audit.MemberAdded, bob, bob); n != 1 {
			t.Errorf("%d member.added entries", n)
		}
		if _, state, _ := e.svc.Invitation(ctx, in.token); state != team.InvitationAccepted {
			t.Errorf("state %s after accepting", state)
		}
		ms, err := e.svc.Memberships(ctx, bob)
		if err != nil || len(ms) != 1 || ms[0].AccountName != "Acme" || ms[0].Role != team.Developer || ms[0].PlanID != "duo" {
			t.Errorf("memberships %+v, %v", ms, err)
		}
	})
}

// TestAcceptRefused: each way accepting fails, with a clear error and
// nothing changed (the invitation stays as it was).
func TestAcceptRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tests := []struct {
			name  string
			setup func(in invited) (userID, email, token string)
			code  string
			msg   string
		}{
			{"unknown link", func(invited) (string, string, string) {
				return e.user(keyhold.NewID() + "@example.com"), "x@example.com", "nope"
			}, keyhold.ENOTFOUND, "not valid"},
			{"over-long link", func(invited) (string, string, string) {
				return e.user(keyhold.NewID() + "@example.com"), "x@example.com", strings.Repeat("a", 65)
			}, keyhold.ENOTFOUND, "not valid"},
			{"wrong user", func(in invited) (string, string, string) {
				return e.user("eve@example.com"), "eve@example.com", in.token
			}, keyhold.EFORBIDDEN, "This invitation is for bob@example.com"},
			{"accepted twice", func(in invited) (string, string, string) {
				bob := e.user("bob@example.com")
				if _, err := e.svc.Accept(ctx, audit.Actor{UserID: bob}, "bob@example.com", in.token); err != nil {
					t.Fatal(err)
				}
				return bob, "bob@example.com", in.token
			}, keyhold.EINVALID, "accepted already"},
			{"expired", func(in invited) (string, string, string) {
				e.now = e.now.Add(team.InvitationTTL)
				return e.user("bob@example.com"), "bob@example.com", in.token
			}, keyhold.EINVALID, "expired"},
			{"revoked", func(in invited) (string, string, string) {
				if err := e.svc.RevokeInvitation(ctx, actor(in.acct, in.owner, team.Owner), in.id); err != nil {
					t.Fatal(err)
				}
				return e.user("bob@example.com"), "bob@example.com", in.token
			}, keyhold.EINVALID, "revoked"},
			{"already a member", func(in invited) (string, string, string) {
				bob := e.user("bob@example.com")
				e.member(in.acct, bob, team.Viewer) // joined some other way meanwhile
				return bob, "bob@example.com", in.token
			}, keyhold.ECONFLICT, "You are a member of this account already"},
			{"plan full at accept", func(in invited) (string, string, string) {
				// Duo: two seats. The invitation took one; a member added
				// meanwhile (by an operator, say) takes the other.
				e.exec("UPDATE accounts SET plan_id = 'duo' WHERE id = ?", in.acct)
				e.member(in.acct, e.user("carol@example.com"), team.Viewer)
				return e.user("bob@example.com"), "bob@example.com", in.token
			}, keyhold.ELIMIT, "Acme is full: its Duo plan allows 2 members"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.t = t
				start := e.now
				defer func() { e.now = start }()
				// Each case has its own bob: emails are unique.
				e.exec("DELETE FROM users WHERE email = 'bob@example.com'")
				in := e.invited("free")
				userID, email, token := tt.setup(in)
				before := e.snapshot(in.acct)
				_, err := e.svc.Accept(ctx, audit.Actor{UserID: userID}, email, token)
				wantCode(t, tt.name, err, tt.code, tt.msg)
				if after := e.snapshot(in.acct); after != before {
					t.Errorf("refused, but changed:\n%s\nto\n%s", before, after)
				}
			})
		}
	})
}

// TestInvitationStates: what a link's page is told, in every state.
func TestInvitationStates(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		in := e.invited("free")
		inv, state, err := e.svc.Invitation(ctx, in.token)
		if err != nil || state != team.InvitationOpen || inv.AccountName != "Acme" || inv.Email != "bob@example.com" || inv.InviterMail == "" {
			t.Fatalf("open: %s %+v %v", state, inv, err)
		}
		for _, tok := range []string{"", "x", strings.Repeat("a", 200)} {
			if inv, state, err := e.svc.Invitation(ctx, tok); err != nil || state != team.InvitationUnknown || inv != nil {
				t.Errorf("token %q: %s %v %v", tok, state, inv, err)
			}
		}
		e.now = e.now.Add(team.InvitationTTL - time.Second)
		if _, state, _ := e.svc.Invitation(ctx, in.token); state != team.InvitationOpen {
			t.Errorf("a second before expiry: %s", state)
		}
		e.now = e.now.Add(time.Second)
		if _, state, _ := e.svc.Invitation(ctx, in.token); state != team.InvitationExpired {
			t.Errorf("at expiry: %s", state)
		}
		if _, pending, err := e.svc.Members(ctx, actor(in.acct, in.owner, team.Owner)); err != nil || len(pending) != 0 {
			t.Errorf("an expired invitation is listed as pending: %+v, %v", pending, err)
		}
	})
}

// TestRevokeInvitation: revoking ends the link and is audited; another
// account's invitation, or one used already, is not found.
func TestRevokeInvitation(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		in := e.invited("free")
		other := e.invited("free")
		owner := actor(in.acct, in.owner, team.Owner)
		err := e.svc.RevokeInvitation(ctx, owner, other.id)
		wantCode(t, "another account's", err, keyhold.ENOTFOUND, "no pending invitation")
		if _, state, _ := e.svc.Invitation(ctx, other.token); state != team.InvitationOpen {
			t.Errorf("another account's invitation is %s", state)
		}
		if err := e.svc.RevokeInvitation(ctx, owner, in.id); err != nil {
			t.Fatal(err)
		}
		if _, state, _ := e.svc.Invitation(ctx, in.token); state != team.InvitationRevoked {
			t.Errorf("state %s", state)
		}
		if n := e.audits(in.acct, audit.MemberInvitationRevoked); n != 1 {
			t.Errorf("%d revoke entries", n)
		}
		wantCode(t, "revoked twice", e.svc.RevokeInvitation(ctx, owner, in.id), keyhold.ENOTFOUND, "")
		used := e.invited("free")
		e.exec("DELETE FROM users WHERE email = 'bob@example.com'")
		if _, err := e.svc.Accept(ctx, audit.Actor{UserID: e.user("bob@example.com")}, "bob@example.com", used.token); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "used", e.svc.RevokeInvitation(ctx, actor(used.acct, used.owner, team.Owner), used.id), keyhold.ENOTFOUND, "")
	})
}
