package keys_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
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
