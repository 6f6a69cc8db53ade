package keys_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/team"
)

// TestKeyChangesFollowRules holds every key change to team.Rules: a member
// whose role may manage keys makes each change; any other role is refused
// with EFORBIDDEN (team.ErrForbidden) and changes nothing, not even the
// audit log.
func TestKeyChangesFollowRules(t *testing.T) {
	for _, role := range slices.Concat(team.Roles, []team.Role{""}) {
		name := string(role)
		if name == "" {
			name = "no role" // not "#00": the database's path is in a URL
		}
		t.Run(name, func(t *testing.T) {
			f := MustService(t)
			ctx := context.Background()
			ada := f.MustAccount(t, "ada@example.com")
			bob := f.MustAccount(t, "bob@example.com")
			k, _ := f.MustKey(t, ada, "prod")
			rotated, _ := f.MustKey(t, ada, "rotated")
			owner := audit.Actor{UserID: ada, AccountID: ada, Role: ownerRole}
			if _, _, err := f.svc.Rotate(ctx, owner, ada, rotated.ID, time.Hour); err != nil {
				t.Fatal(err)
			}
			// Bob is a member of Ada's account with the role, acting in it.
			bobIn := audit.Actor{UserID: bob, AccountID: ada, Role: string(role), IP: "192.0.2.1"}
			errs := map[string]error{}
			_, _, errs["create"] = f.svc.Create(ctx, bobIn, ada, keys.Settings{Name: "bob's"})
			_, errs["update"] = f.svc.Update(ctx, bobIn, ada, k.ID, keys.Settings{Name: "renamed"})
			errs["expire old secret"] = f.svc.ExpireOldSecret(ctx, bobIn, ada, rotated.ID)
			_, _, errs["rotate"] = f.svc.Rotate(ctx, bobIn, ada, k.ID, 0)
			errs["revoke"] = f.svc.Revoke(ctx, bobIn, ada, k.ID)
			if team.Can(role, team.ManageKeys) {
				for op, err := range errs {
					if err != nil {
						t.Errorf("%s as %s: %v", op, role, err)
					}
				}
				return
			}
			for op, err := range errs {
				if keyhold.ErrorCode(err) != keyhold.EFORBIDDEN || !errors.Is(err, team.ErrForbidden) {
					t.Errorf("%s as %q: %v, want EFORBIDDEN", op, role, err)
				}
			}
			if ks, err := f.svc.List(ctx, ada); err != nil || len(ks) != 2 {
				t.Errorf("keys after refusals: %d, %v; want the 2 made before", len(ks), err)
			}
			got, err := f.svc.Get(ctx, ada, k.ID)
			if err != nil || got.Name != "prod" || got.RevokedAt != nil || !got.UpdatedAt.Equal(k.UpdatedAt) {
				t.Errorf("key after refusals: %+v, %v; want it as made", got, err)
			}
			for _, id := range []string{k.ID, rotated.ID} {
				entries, err := f.keyAudit(ctx, ada, id)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					if e.ActorID == bob {
						t.Errorf("a refused change was audited: %+v", e)
					}
				}
			}
		})
	}
}

// TestKeyChangesStayInTheActorsAccount: an owner acting in one account
// cannot change the keys of another by naming it, even their own personal
// account; the key is not found, as any key of another account.
func TestKeyChangesStayInTheActorsAccount(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	ada, team2 := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "team@example.com")
	k, _ := f.MustKey(t, ada, "prod")
	inTeam := audit.Actor{UserID: ada, AccountID: team2, Role: ownerRole}
	errs := map[string]error{}
	_, _, errs["create"] = f.svc.Create(ctx, inTeam, ada, keys.Settings{Name: "x"})
	_, errs["update"] = f.svc.Update(ctx, inTeam, ada, k.ID, keys.Settings{Name: "x"})
	_, _, errs["rotate"] = f.svc.Rotate(ctx, inTeam, ada, k.ID, 0)
	errs["expire old secret"] = f.svc.ExpireOldSecret(ctx, inTeam, ada, k.ID)
	errs["revoke"] = f.svc.Revoke(ctx, inTeam, ada, k.ID)
	for op, err := range errs {
		if keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
			t.Errorf("%s in another account: %v, want ENOTFOUND", op, err)
		}
	}
	if ks, _ := f.svc.List(ctx, ada); len(ks) != 1 || ks[0].Name != "prod" || ks[0].RevokedAt != nil {
		t.Errorf("keys after refusals: %+v", ks)
	}
}

// TestCreatedBy: a key records the user who made it, not the account, and
// the operator's search names them by email.
func TestCreatedBy(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	ada, bob := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	k, _, err := f.svc.Create(ctx, audit.Actor{UserID: bob, AccountID: ada, Role: string(team.Developer)}, ada, keys.Settings{Name: "bob's"})
	if err != nil {
		t.Fatal(err)
	}
	if k.AccountID != ada || k.CreatedBy != bob {
		t.Errorf("key in %s by %s; want in ada's by bob", k.AccountID, k.CreatedBy)
	}
	got, err := f.svc.Search(ctx, keys.KeyFilter{ID: k.ID})
	if err != nil || len(got) != 1 || got[0].CreatedBy != bob || got[0].CreatedByEmail != "bob@example.com" || got[0].AccountName != "ada@example.com" {
		t.Errorf("search: %+v, %v", got, err)
	}
	entries, err := f.keyAudit(ctx, ada, k.ID)
	if err != nil || len(entries) != 1 || entries[0].ActorID != bob || entries[0].AccountID != ada {
		t.Errorf("audit: %+v, %v; want one entry by bob in ada's account", entries, err)
	}
}

// TestVerifiedAsksAboutTheUser: with KEYHOLD_REQUIRE_VERIFIED_EMAIL the
// rule is on the user who creates the key, not on the account: an
// unverified member is refused in a team whose owner is verified, and a
// verified one is not.
func TestVerifiedAsksAboutTheUser(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	ada, bob := f.MustAccount(t, "ada@example.com"), f.MustAccount(t, "bob@example.com")
	cat, err := plans.New(plans.BuiltIn)
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	svc, err := keys.NewService(keys.Config{Store: f.db, Plans: cat, Verified: func(_ context.Context, userID string) (bool, error) {
		asked = append(asked, userID)
		return userID == ada, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Create(ctx, audit.Actor{UserID: bob, AccountID: ada, Role: ownerRole}, ada, keys.Settings{Name: "bob's"}); !errors.Is(err, keys.ErrUnverified) {
		t.Errorf("unverified member: %v, want ErrUnverified", err)
	}
	if _, _, err := svc.Create(ctx, audit.Actor{UserID: ada, AccountID: ada, Role: ownerRole}, ada, keys.Settings{Name: "ada's"}); err != nil {
		t.Errorf("verified owner: %v", err)
	}
	if len(asked) != 2 || asked[0] != bob || asked[1] != ada {
		t.Errorf("asked about %v; want bob then ada", asked)
	}
	if ks, _ := svc.List(ctx, ada); len(ks) != 1 || ks[0].Name != "ada's" {
		t.Errorf("keys: %+v; want only ada's", ks)
	}
}
