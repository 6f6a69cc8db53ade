package team_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// roleCase is one call of the service, with the actions Rules must allow
// for it to go through.
type roleCase struct {
	name  string
	needs []team.Action
	write bool // a change (a read must change nothing even when allowed)
	call  func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error
}

// roleFixture is an account with two owners, a developer and a pending
// invitation, besides the actor.
type roleFixture struct {
	account, owner, developer, invitation string
}

var roleCases = []roleCase{
	{"members", []team.Action{team.ViewAccount}, false, func(ctx context.Context, s *team.Service, a audit.Actor, _ roleFixture) error {
		_, _, err := s.Members(ctx, a)
		return err
	}},
	{"invite developer", []team.Action{team.ManageMembers}, true, func(ctx context.Context, s *team.Service, a audit.Actor, _ roleFixture) error {
		_, _, _, err := s.Invite(ctx, a, "new@example.com", "developer")
		return err
	}},
	{"invite owner", []team.Action{team.ManageMembers, team.ManageOwners}, true, func(ctx context.Context, s *team.Service, a audit.Actor, _ roleFixture) error {
		_, _, _, err := s.Invite(ctx, a, "new@example.com", "owner")
		return err
	}},
	{"revoke invitation", []team.Action{team.ManageMembers}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.RevokeInvitation(ctx, a, f.invitation)
	}},
	{"developer to viewer", []team.Action{team.ManageMembers}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.SetRole(ctx, a, f.developer, "viewer")
	}},
	{"developer to owner", []team.Action{team.ManageMembers, team.ManageOwners}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.SetRole(ctx, a, f.developer, "owner")
	}},
	{"demote an owner", []team.Action{team.ManageMembers, team.ManageOwners}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.SetRole(ctx, a, f.owner, "admin")
	}},
	{"remove developer", []team.Action{team.ManageMembers}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.Remove(ctx, a, f.developer)
	}},
	{"remove owner", []team.Action{team.ManageMembers, team.ManageOwners}, true, func(ctx context.Context, s *team.Service, a audit.Actor, f roleFixture) error {
		return s.Remove(ctx, a, f.owner)
	}},
	{"leave", []team.Action{team.ViewAccount}, true, func(ctx context.Context, s *team.Service, a audit.Actor, _ roleFixture) error {
		return s.Leave(ctx, a)
	}},
}

// TestRolesEveryMethod calls every method as every role (and as no role):
// allowed exactly when Rules allows each action the call needs, and a
// refusal is EFORBIDDEN naming the roles needed, with nothing changed.
func TestRolesEveryMethod(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, c := range roleCases {
			for _, role := range append([]team.Role{""}, team.Roles...) {
				t.Run(c.name+"/"+string(role), func(t *testing.T) {
					e.t = t
					f := roleFixture{account: e.account("Acme", "free"), owner: e.user(keyhold.NewID() + "@example.com"),
						developer: e.user(keyhold.NewID() + "@example.com")}
					first := e.user(keyhold.NewID() + "@example.com")
					e.member(f.account, first, team.Owner)
					e.member(f.account, f.owner, team.Owner)
					e.member(f.account, f.developer, team.Developer)
					_, inv, _, err := e.svc.Invite(ctx, actor(f.account, first, team.Owner), keyhold.NewID()+"@example.com", "viewer")
					if err != nil {
						t.Fatal(err)
					}
					f.invitation = inv.ID
					me := e.user(keyhold.NewID() + "@example.com")
					if role != "" {
						e.member(f.account, me, role)
					}
					allowed := true
					for _, action := range c.needs {
						allowed = allowed && team.Can(role, action)
					}
					before := e.snapshot(f.account)
					err = c.call(ctx, e.svc, actor(f.account, me, role), f)
					after := e.snapshot(f.account)
					if allowed {
						if err != nil {
							t.Fatalf("allowed, but: %v", err)
						}
						if c.write && before == after {
							t.Errorf("allowed and nil, but nothing changed")
						}
						if !c.write && before != after {
							t.Errorf("a read changed:\n%s\n%s", before, after)
						}
						return
					}
					wantCode(t, "refused", err, keyhold.EFORBIDDEN, "role in this account")
					if before != after {
						t.Errorf("refused, but changed:\n%s\nto\n%s", before, after)
					}
				})
			}
		}
	})
}
