package verify_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestScopeGrantOnOneInstanceReachesARefusedKeyOnTheOther: B has cached a
// key that it refuses for a missing scope; the owner grants the scope
// through A. B's next call must see the grant, not answer from its cached
// refusal: a refused call checks the change counter too, not only a taking
// one.
func TestScopeGrantOnOneInstanceReachesARefusedKeyOnTheOther(t *testing.T) {
	f, _, b := twoInstances(t, testenv.Redis(t))
	k, key := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	for range 2 { // the second from B's cache
		if res := b.verify(key, 1, "write"); res.Code != verify.InsufficientScope {
			t.Fatalf("before the grant: %s", res.Code)
		}
	}
	if _, err := f.keys.Update(context.Background(), f.owner(), f.account, k.ID, keys.Settings{Name: "k", Scopes: []string{"read", "write"}}); err != nil {
		t.Fatal(err)
	}
	if res := b.verify(key, 1, "write"); res.Code != verify.Valid {
		t.Errorf("B's next call after the grant on A: %s", res.Code)
	}
}
