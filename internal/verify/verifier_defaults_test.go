package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestDefaultNegativeTTLIsFiveSeconds: without the filter of known secrets
// (Config.Secrets nil), an unknown key costs one database read and is then
// answered from memory for five seconds, the documented default; a zero
// or shorter default would let a flood of one unknown key reach the
// database on every call.
func TestDefaultNegativeTTLIsFiveSeconds(t *testing.T) {
	f := MustFixture(t)
	v, err := verify.New(verify.Config{Loader: f.db, Plans: f.catalog, Now: f.Now})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	start := f.Now()
	steps := []struct {
		after time.Duration
		loads int64
	}{
		{0, 1},
		{time.Second, 1},
		{5*time.Second - time.Nanosecond, 1},
		{5 * time.Second, 2},
	}
	for _, s := range steps {
		f.Advance(start.Add(s.after).Sub(f.Now()))
		var res verify.Result
		v.Verify(context.Background(), &verify.Request{Key: unknown.Reveal(), Cost: 1}, &res)
		if res.Code != verify.NotFound || v.Loads() != s.loads {
			t.Errorf("at +%v: %s after %d reads, want NOT_FOUND after %d", s.after, res.Code, v.Loads(), s.loads)
		}
	}
}

// TestDefaultCacheHoldsEveryKey: with the default size, a verifier keeps
// every key it has read (here 50, the test plan's most), so steady traffic
// over them reads each from the database once.
func TestDefaultCacheHoldsEveryKey(t *testing.T) {
	f := MustFixture(t)
	var secrets []string
	for range 50 {
		_, key := f.MustKey(keys.Settings{})
		secrets = append(secrets, key)
	}
	for round := range 3 {
		for _, key := range secrets {
			if res := f.Verify(key, 0); res.Code != verify.Valid {
				t.Fatalf("round %d: %s", round, res.Code)
			}
		}
	}
	if n := f.v.Loads(); n != 50 {
		t.Errorf("%d database reads for 50 keys verified 3 times each, want 50", n)
	}
}
