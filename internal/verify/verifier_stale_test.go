package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestPastItsTTLAKeyIsAnsweredWithoutWaitingForTheDatabase: the TTL is a
// safety net behind the change events, and a verification past it must not
// wait on a database read: it is answered from the cached entry while the
// key is read again in the background. The change is made here without an
// event reaching this verifier, so the answer shows which of the two it
// came from.
func TestPastItsTTLAKeyIsAnsweredWithoutWaitingForTheDatabase(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	k, key := f.MustKey(keys.Settings{})
	v := f.newVerifier(nil) // hears no key events
	if err := v.LoadSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	var res verify.Result
	v.Verify(ctx, &verify.Request{Key: key, Cost: 1}, &res)
	if res.Code != verify.Valid {
		t.Fatalf("first call: %s", res.Code)
	}
	if err := f.keys.Revoke(ctx, f.owner(), f.account, k.ID); err != nil {
		t.Fatal(err)
	}
	f.Advance(5 * time.Minute) // the default TTL
	v.Verify(ctx, &verify.Request{Key: key, Cost: 1}, &res)
	if res.Code != verify.Valid {
		t.Errorf("first call past the TTL: %s, want the cached VALID (the re-read runs in the background)", res.Code)
	}
}
