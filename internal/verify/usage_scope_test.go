package verify_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestScopeDenialsAreCountedApart: INSUFFICIENT_SCOPE is written as
// ScopeDenied and REVOKED as Invalid, so the charts can tell a key asking
// for too much from a key that is no good; neither costs quota.
func TestScopeDenialsAreCountedApart(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	scoped, scopedKey := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	revoked, revokedKey := f.MustKey(keys.Settings{})
	if err := f.keys.Revoke(ctx, f.owner(), f.account, revoked.ID); err != nil {
		t.Fatal(err)
	}
	v, rec := f.recordingVerifier(ctx)
	calls := []struct {
		key    string
		scopes []string
		want   verify.Code
	}{
		{scopedKey, []string{"read"}, verify.Valid},
		{scopedKey, []string{"write"}, verify.InsufficientScope},
		{scopedKey, []string{"read", "admin"}, verify.InsufficientScope},
		{revokedKey, nil, verify.Revoked},
	}
	for _, c := range calls {
		var res verify.Result
		v.Verify(ctx, &verify.Request{Key: c.key, Cost: 1, Scopes: c.scopes}, &res)
		if res.Code != c.want {
			t.Fatalf("verify %v: %s, want %s", c.scopes, res.Code, c.want)
		}
	}
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 {
		t.Fatalf("%d writes, want 1", len(rec.batches))
	}
	got := map[string]verify.Usage{}
	for _, u := range rec.batches[0] {
		got[u.KeyID] = u
	}
	if u := got[scoped.ID]; u.Valid != 1 || u.ScopeDenied != 2 || u.Invalid != 0 || u.Cost != 1 {
		t.Errorf("scoped key: %+v, want 1 valid (cost 1) and 2 scope denied", u)
	}
	if u := got[revoked.ID]; u.Invalid != 1 || u.ScopeDenied != 0 || u.Cost != 0 {
		t.Errorf("revoked key: %+v, want 1 invalid", u)
	}
}
