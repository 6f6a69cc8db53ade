package verify_test

import (
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// TestDegradedInstanceTrustsItsCacheForTwoSeconds: while Redis is down, an
// instance no longer hears other instances' revokes through the shared
// change counters, so it trusts a cached key for two seconds only and then
// reads it from the database before answering. Two seconds exactly is
// already too old; a nanosecond less is not.
func TestDegradedInstanceTrustsItsCacheForTwoSeconds(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{}) // before the instance loads its filter of known secrets
	in := f.instance(r.URL())
	if res := in.verify(key, 1); res.Code != verify.Valid {
		t.Fatalf("before the outage: %s", res.Code)
	}
	r.Stop()
	if res := in.verify(key, 1); res.Code != verify.Valid || !in.redis.Degraded() {
		t.Fatalf("first call of the outage: %s, degraded %v", res.Code, in.redis.Degraded())
	}
	loadedAt, loads := f.Now(), in.v.Loads()
	steps := []struct {
		after time.Duration // since the key was read
		reads int64         // database reads since
	}{
		{time.Second, 0},
		{2*time.Second - time.Nanosecond, 0},
		{2 * time.Second, 1},
	}
	for _, s := range steps {
		f.Advance(loadedAt.Add(s.after).Sub(f.Now()))
		if res := in.verify(key, 1); res.Code != verify.Valid {
			t.Fatalf("at +%v: %s", s.after, res.Code)
		}
		if got := in.v.Loads() - loads; got != s.reads {
			t.Errorf("at +%v into the outage: %d database reads, want %d", s.after, got, s.reads)
		}
	}
}
