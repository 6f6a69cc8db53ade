package verify_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestRootKeyIsMalformed: /v1/verify answers a root key, well formed and
// with a good checksum, as it answers a malformed key: MALFORMED, without
// a statement, even with the database down (a lookup would answer
// UNAVAILABLE there). A root key is never an API key.
func TestRootKeyIsMalformed(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	root, err := keys.Root.Generate()
	if err != nil {
		t.Fatal(err)
	}
	swapped := keys.Prefix + root.Reveal()[len(keys.RootPrefix):]
	for _, down := range []bool{false, true} {
		f.db.down.Store(down)
		for _, k := range []string{root.Reveal(), swapped, keys.RootPrefix + key[len(keys.Prefix):]} {
			ctx, n := f.db.CountStatements(context.Background())
			var res verify.Result
			f.v.Verify(ctx, &verify.Request{Key: k, Cost: 1}, &res)
			if res.Code != verify.Malformed || res.Entry != nil {
				t.Errorf("down %v, %.12s…: %s (entry %v), want MALFORMED", down, k, res.Code, res.Entry != nil)
			}
			if n() != 0 {
				t.Errorf("down %v, %.12s…: %d statements, want none", down, k, n())
			}
		}
	}
}
