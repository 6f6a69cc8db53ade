package verify_test

// DESIGN.md "Verify, round 2": a well-formed key that names no key costs
// no database read in steady state, on any instance; a key that exists is
// never answered NOT_FOUND.

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
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

// wantNotFoundNoRead verifies n random keys on v and fails unless each is
// NotFound and none was read from the database.
func wantNotFoundNoRead(tb testing.TB, v *verify.Verifier, n int) {
	tb.Helper()
	before := v.Loads()
	for _, k := range randomKeys(tb, n) {
		var res verify.Result
		v.Verify(context.Background(), &verify.Request{Key: k, Cost: 1}, &res)
		if res.Code != verify.NotFound {
			tb.Fatalf("random key: %s", res.Code)
		}
	}
	if d := v.Loads() - before; d != 0 {
		tb.Errorf("%d random keys made %d database reads, want 0", n, d)
	}
}

func verifyOn(v *verify.Verifier, key string) verify.Code {
	var res verify.Result
	v.Verify(context.Background(), &verify.Request{Key: key, Cost: 1}, &res)
	return res.Code
}

func TestRandomKeysCauseNoRead(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	wantNotFoundNoRead(t, f.v, 10_000)
	if n := f.v.UnknownAnswered(); n != 10_000 {
		t.Errorf("the filter answered %d keys, want 10000", n)
	}
	if c := f.Verify(key, 1).Code; c != verify.Valid {
		t.Errorf("the real key: %s", c)
	}
}

// A key made after the filter loaded reaches it through the key service's
// event, before Create returns: its first verification is VALID, and so
// are a rotated key's new secret and its old one during the grace period.
func TestKeysMadeAfterStartVerifyAtOnce(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	for range 40 {
		_, key := f.MustKey(keys.Settings{})
		if c := f.Verify(key, 1).Code; c != verify.Valid {
			t.Fatalf("new key, first call: %s", c)
		}
	}
	k, old := f.MustKey(keys.Settings{})
	_, fresh, err := f.keys.Rotate(ctx, f.owner(), f.account, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Verify(fresh.Reveal(), 1).Code; c != verify.Valid {
		t.Errorf("rotated secret, first call: %s", c)
	}
	if c := f.Verify(old, 1).Code; c != verify.Valid {
		t.Errorf("old secret in its grace period: %s", c)
	}
	// A resync from the database keeps them all, and revoked keys answer
	// REVOKED, not NOT_FOUND.
	if err := f.keys.Revoke(ctx, f.owner(), f.account, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.v.LoadSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if c := f.Verify(old, 1).Code; c != verify.Revoked {
		t.Errorf("revoked key's old secret after a resync: %s", c)
	}
	if n, bytes := f.v.KnownSecrets(); n != 42 || bytes == 0 {
		t.Errorf("filter holds %d secrets in %d bytes, want 42", n, bytes)
	}
	wantNotFoundNoRead(t, f.v, 1000)
}

// With the database down at start the filter cannot load: unknown keys are
// read (and answered UNAVAILABLE), never NOT_FOUND from an empty filter.
func TestDatabaseDownAtStart(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	_, key := f.MustKey(keys.Settings{})
	f.db.down.Store(true)
	v := f.newVerifier(nil)
	if err := v.LoadSecrets(ctx); err == nil {
		t.Fatal("the filter loaded with the database down")
	}
	if c := verifyOn(v, key); c != verify.Unavailable {
		t.Errorf("real key, database down, filter not loaded: %s", c)
	}
	if c := verifyOn(v, randomKeys(t, 1)[0]); c != verify.Unavailable {
		t.Errorf("random key, database down, filter not loaded: %s", c)
	}
	f.db.down.Store(false)
	if c := verifyOn(v, key); c != verify.Valid {
		t.Errorf("real key, database back, filter not loaded: %s", c)
	}
	before := v.Loads()
	if c := verifyOn(v, randomKeys(t, 1)[0]); c != verify.NotFound || v.Loads() != before+1 {
		t.Errorf("random key before the filter loads: %s after %d reads, want NOT_FOUND after 1", c, v.Loads()-before)
	}
	if err := v.LoadSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	wantNotFoundNoRead(t, v, 1000)
}

// SyncSecrets keeps retrying a load the database refused, and the filter
// starts answering once it succeeds.
func TestSyncSecretsRetriesUntilLoaded(t *testing.T) {
	f := MustFixture(t)
	f.db.down.Store(true)
	v := f.newVerifier(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); v.SyncSecrets(ctx) }()
	waitFor(t, "a refused load", func() bool { return f.db.listed.Load() > 0 })
	f.db.down.Store(false)
	waitFor(t, "the filter to load", func() bool { n, b := v.KnownSecrets(); return n == 0 && b > 0 })
	wantNotFoundNoRead(t, v, 100)
	cancel()
	<-done
}

// waitFor polls cond until it holds, failing after a minute: a wait for
// background work, not a timing assertion.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// currentOn reports whether a random key costs v no read now: its filter
// has heard of every secret announced so far.
func currentOn(tb testing.TB, v *verify.Verifier) bool {
	before := v.Loads()
	if c := verifyOn(v, randomKeys(tb, 1)[0]); c != verify.NotFound {
		tb.Fatalf("random key: %s", c)
	}
	return v.Loads() == before
}

// A key created on A verifies on B at its first call whether or not B has
// heard of it: B's filter is behind Redis's counter of added secrets, so
// B reads. Once B hears (here: reloads), random keys cost it nothing.
func TestKeyFromAnotherInstanceBeforeTheAnnouncement(t *testing.T) {
	f, _, b := twoInstances(t, testenv.PrivateRedis(t).URL())
	wantNotFoundNoRead(t, b.v, 200)
	_, key := f.MustKey(keys.Settings{})
	if c := b.verify(key, 1).Code; c != verify.Valid {
		t.Fatalf("key created on A, first call on B that has not heard of it: %s", c)
	}
	if currentOn(t, b.v) {
		t.Error("B answered a random key from a filter that has not heard of every secret")
	}
	if err := b.v.LoadSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantNotFoundNoRead(t, b.v, 200)
}

// Through the broadcast: B learns secrets made on A from Redis pub/sub, and
// random keys keep costing nothing while keys are made.
func TestKeysFromAnotherInstanceThroughTheBroadcast(t *testing.T) {
	f, a, b := twoInstances(t, testenv.PrivateRedis(t).URL())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, in := range []*instance{a, b} {
		go in.bc.Listen(ctx)
		go in.v.SyncSecrets(ctx)
	}
	for range 20 {
		_, key := f.MustKey(keys.Settings{})
		// At once, heard or not.
		if c := b.verify(key, 1).Code; c != verify.Valid {
			t.Fatalf("key created on A, first call on B: %s", c)
		}
	}
	waitFor(t, "B to hear of every secret", func() bool { return currentOn(t, b.v) })
	waitFor(t, "A to hear of every secret", func() bool { return currentOn(t, a.v) })
	wantNotFoundNoRead(t, b.v, 2000)
	wantNotFoundNoRead(t, a.v, 500)
	if n, _ := b.v.KnownSecrets(); n != 20 {
		t.Errorf("B's filter holds %d secrets, want 20", n)
	}
}

// When Redis loses the counter (restart without persistence) its numbers
// start again at 1: B, whose filter had heard up to a higher number, must
// not take them for numbers it has heard.
func TestRedisLosesTheSecretsCounter(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	ctx := context.Background()
	for range 3 {
		f.MustKey(keys.Settings{})
	}
	if err := b.v.LoadSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	wantNotFoundNoRead(t, b.v, 50)
	r.Stop()
	r.Start()
	// Each instance finds its connections dead on its next call and
	// comes back through its probe.
	waitFor(t, "both instances back on Redis", func() bool {
		_, _, errA := a.inv.SecretsAdded(ctx)
		_, _, errB := b.inv.SecretsAdded(ctx)
		return errA == nil && errB == nil && !a.redis.Degraded() && !b.redis.Degraded()
	})
	for i := range 2 {
		_, key := f.MustKey(keys.Settings{}) // number i+1 of a new counter
		if c := b.verify(key, 1).Code; c != verify.Valid {
			t.Fatalf("key %d of the new counter, on B: %s", i+1, c)
		}
	}
	if err := b.v.LoadSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	wantNotFoundNoRead(t, b.v, 50)
}
