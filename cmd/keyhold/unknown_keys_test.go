package main

// End-to-end tests of DESIGN.md "Verify, round 2": a well-formed key that
// names no key costs no database read in steady state, on any instance,
// and a key created on one instance still verifies on its very first call
// on another.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
)

// randomKeys returns n well-formed keys (valid checksums) that name no key.
func randomKeys(tb testing.TB, n int) []string {
	tb.Helper()
	out := make([]string, n)
	for i := range out {
		s, err := keys.Generate()
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = s.Reveal()
	}
	return out
}

// keyLoads returns a's keyhold_verify_key_loads_total.
func keyLoads(tb testing.TB, a *app) float64 {
	tb.Helper()
	v, err := metric(a, "keyhold_verify_key_loads_total")
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// waitUnknownKeysFree waits until a random key costs a no database read
// on a: the filter of known secrets has loaded (in the background, after
// start-up) and has heard of every secret added so far.
func waitUnknownKeysFree(tb testing.TB, a *app) {
	tb.Helper()
	eventually(tb, 20*time.Second, "a random key answered without a database read on "+a.URL, func() (bool, string) {
		before := keyLoads(tb, a)
		ans := mustVerify(tb, a, randomKeys(tb, 1)[0])
		if ans.Status != http.StatusUnauthorized || ans.Code != "NOT_FOUND" {
			tb.Fatalf("random key: %s, want 401 NOT_FOUND", ans)
		}
		after := keyLoads(tb, a)
		return after == before, fmt.Sprintf("%v database reads for one random key", after-before)
	})
}

// wantNoReads verifies n random keys on a and fails unless every one is
// NOT_FOUND and none read the database.
func wantNoReads(tb testing.TB, a *app, n int) {
	tb.Helper()
	before := keyLoads(tb, a)
	for _, k := range randomKeys(tb, n) {
		wantCode(tb, "random key", mustVerify(tb, a, k), http.StatusUnauthorized, "NOT_FOUND")
	}
	if d := keyLoads(tb, a) - before; d != 0 {
		tb.Errorf("%d random keys on %s made %v database reads, want 0", n, a.URL, d)
	}
}

func TestScaleOutUnknownKeysCostNoRead(t *testing.T) {
	t.Parallel()
	eachPrivateRedis(t, scaleOutUnknownKeysCostNoRead)
}

func scaleOutUnknownKeysCostNoRead(t *testing.T, redisURL string) {
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: 1000, MaxKeys: 5})
	a, b := startPair(t, scaleEnv(t, redisURL, plansFile, nil))

	// A key made on A verifies on B at once, whether or not B has heard of
	// it yet: B may not answer NOT_FOUND for a key that exists.
	c, key := newAccountWithKey(t, a, "unknown@example.com")
	wantCode(t, "key created on A, first call on B", mustVerify(t, b, key), http.StatusOK, "VALID")

	waitUnknownKeysFree(t, a)
	waitUnknownKeysFree(t, b)
	wantNoReads(t, a, 500)
	wantNoReads(t, b, 500)

	// Keys made once both are warm: the other instance knows them at once
	// too, and random keys still cost nothing.
	second := c.MustCreateKey("Second", "read")
	wantCode(t, "second key, first call on B", mustVerify(t, b, second), http.StatusOK, "VALID")
	cb := b.Client(t)
	cb.MustSignup("unknown-b@example.com")
	third := cb.MustCreateKey("Third", "read")
	wantCode(t, "key created on B, first call on A", mustVerify(t, a, third), http.StatusOK, "VALID")
	waitUnknownKeysFree(t, a)
	waitUnknownKeysFree(t, b)
	wantNoReads(t, a, 500)
	wantNoReads(t, b, 500)
	wantCode(t, "the first key, still", mustVerify(t, a, key), http.StatusOK, "VALID")
}

func TestVerifyUnknownKeysCostNoReadSQLite(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	c := a.Client(t)
	c.MustSignup("sqlite-unknown@example.com")
	key := c.MustCreateKey("Production", "read")
	wantCode(t, "new key", mustVerify(t, a, key), http.StatusOK, "VALID")
	waitUnknownKeysFree(t, a)
	wantNoReads(t, a, 1000)
	second := c.MustCreateKey("Second", "read")
	wantCode(t, "key created once warm", mustVerify(t, a, second), http.StatusOK, "VALID")
	wantNoReads(t, a, 200)
}
