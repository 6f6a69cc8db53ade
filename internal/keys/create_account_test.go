package keys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
)

// TestCreateRefusesSuspendedAndUnknownAccounts: the service itself, for
// the portal and the API alike, makes no key for a suspended account
// (ECONFLICT) nor for one that does not exist (ENOTFOUND); and limits
// given with the settings are stored with the key.
func TestCreateRefusesSuspendedAndUnknownAccounts(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	owner := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	if err := f.db.SetSuspended(ctx, acct, true, audit.Entry{Action: "account.suspended", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Create(ctx, owner, acct, keys.Settings{Name: "x"}); keyhold.ErrorCode(err) != keyhold.ECONFLICT {
		t.Errorf("suspended: %v", err)
	}
	if ks, _ := f.svc.List(ctx, acct); len(ks) != 0 {
		t.Errorf("%d keys made", len(ks))
	}
	if err := f.db.SetSuspended(ctx, acct, false, audit.Entry{Action: "account.unsuspended", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	rate, burst, quota := 3, 4, int64(50)
	k, _, err := f.svc.Create(ctx, owner, acct, keys.Settings{Name: "x", Limits: &keys.Limits{Rate: &rate, Burst: &burst, Quota: &quota}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.lookup(ctx, k.ID)
	if err != nil || *got.RateOverride != 3 || *got.BurstOverride != 4 || *got.QuotaOverride != 50 {
		t.Errorf("stored %+v, %v", got, err)
	}
	root := audit.Actor{RootKeyID: "rk", AccountID: "nope"}
	if _, _, err := f.svc.Create(ctx, root, "nope", keys.Settings{Name: "x"}); keyhold.ErrorCode(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown account: %v", err)
	}
}

// TestRootKeyNeedsNoVerifiedAddress: KEYHOLD_REQUIRE_VERIFIED_EMAIL is a
// rule on people; a root key acts for the platform and is not asked.
func TestRootKeyNeedsNoVerifiedAddress(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	cat, err := plans.New(plans.BuiltIn)
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	svc, err := keys.NewService(keys.Config{Store: f.db, Plans: cat, Verified: func(context.Context, string) (bool, error) {
		asked++
		return false, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Create(ctx, audit.Actor{RootKeyID: "rk", AccountID: acct}, acct, keys.Settings{Name: "api"}); err != nil || asked != 0 {
		t.Errorf("root key: %v, asked %d times", err, asked)
	}
	if _, _, err := svc.Create(ctx, audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "p"}); !errors.Is(err, keys.ErrUnverified) {
		t.Errorf("a person: %v", err)
	}
}

// TestRenameExpiredKey: an expired key keeps its expiry through an edit
// of something else (the expiry is not chosen again, so it need not be in
// the future), and a new past expiry is still refused.
func TestRenameExpiredKey(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	owner := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	exp := f.now.Add(time.Hour)
	k, _, err := f.svc.Create(ctx, owner, acct, keys.Settings{Name: "old", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2 * time.Hour)
	got, err := f.svc.Update(ctx, owner, acct, k.ID, keys.Settings{Name: "renamed", ExpiresAt: &exp})
	if err != nil || got.Name != "renamed" || got.Status(f.now) != keys.StatusExpired {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	past := f.now.Add(-time.Minute)
	if _, err := f.svc.Update(ctx, owner, acct, k.ID, keys.Settings{Name: "renamed", ExpiresAt: &past}); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("a new past expiry: %v", err)
	}
}
