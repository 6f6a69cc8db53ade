package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// pooledAccount makes an account on the "pooled" plan (one quota of 100
// for all its keys) with n keys, and returns its id and the keys' secrets.
func (f *fixture) pooledAccount(n int, plan string) (string, []*keys.Key, []string) {
	f.t.Helper()
	acct := f.MustAccount()
	f.setPlanOf(acct, plan)
	var ks []*keys.Key
	var secrets []string
	for i := range n {
		k, s := f.MustKeyIn(acct, keys.Settings{Name: fmt.Sprintf("k%d", i)})
		ks, secrets = append(ks, k), append(secrets, s)
	}
	return acct, ks, secrets
}

// codesOf runs n calls of call(i) at once and counts their codes.
func codesOf(n int, call func(i int) verify.Code) map[verify.Code]int {
	var mu sync.Mutex
	got := map[verify.Code]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			c := call(i)
			mu.Lock()
			got[c]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return got
}

// TestPooledQuotaIsOneForTheAccount: the keys of a pooled account share
// one quota, exactly, under concurrency; the answer shows the pool and
// says so; the usage written is each key's own, and sums to the pool.
func TestPooledQuotaIsOneForTheAccount(t *testing.T) {
	f := MustFixture(t)
	acct, ks, secrets := f.pooledAccount(3, "pooled")
	got := codesOf(160, func(i int) verify.Code { return f.Verify(secrets[i%3], 1).Code })
	if got[verify.Valid] != 100 || got[verify.QuotaExceeded] != 60 {
		t.Fatalf("160 calls over 3 keys of a pool of 100: %v", got)
	}
	res := f.Verify(secrets[1], 1)
	if res.Code != verify.QuotaExceeded || res.Decision.QuotaLimit != 100 || res.Decision.QuotaUsed != 100 || !res.Entry.Pooled() {
		t.Errorf("after the pool is spent: %s limit %d used %d pooled %v", res.Code, res.Decision.QuotaLimit, res.Decision.QuotaUsed, res.Entry.Pooled())
	}
	var answer struct {
		Quota struct {
			Limit, Remaining int64
			Scope            string
		}
	}
	if err := json.Unmarshal(verify.AppendJSON(nil, &res), &answer); err != nil {
		t.Fatal(err)
	}
	if answer.Quota.Limit != 100 || answer.Quota.Remaining != 0 || answer.Quota.Scope != "account" {
		t.Errorf("answer's quota %+v, want the pool's: limit 100, remaining 0, scope account", answer.Quota)
	}
	// A key of another account, per key, is untouched and says so.
	_, other := f.MustKey(keys.Settings{})
	o := f.Verify(other, 1)
	if err := json.Unmarshal(verify.AppendJSON(nil, &o), &answer); err != nil {
		t.Fatal(err)
	}
	if o.Code != verify.Valid || o.Entry.Pooled() || answer.Quota.Scope != "key" || answer.Quota.Remaining != 99 {
		t.Errorf("a key of a plan per key: %s %+v", o.Code, answer.Quota)
	}

	if err := f.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := quota.WindowAt(f.Now(), quota.Window{})
	var sum int64
	for _, k := range ks {
		used, err := f.db.DB.QuotaUsed(context.Background(), k.ID, w.Start)
		if err != nil {
			t.Fatal(err)
		}
		sum += used
	}
	pool, err := f.db.DB.PoolUsed(context.Background(), acct, w.Start)
	if err != nil || sum != 100 || pool != 100 {
		t.Errorf("written: keys' usage sums to %d, the pool's %d (%v); want 100 each", sum, pool, err)
	}
	if used, _, ok := f.v.PoolUsed(acct, f.Now()); !ok || used != 100 {
		t.Errorf("live pool count %d (%v), want 100", used, ok)
	}
	// Each key's live count is its own use: together, the pool's.
	var own int64
	for _, k := range ks {
		u, _, ok := f.v.QuotaUsed(k.ID, f.Now())
		if !ok {
			t.Fatalf("no live count of key %s", k.ID)
		}
		own += u
	}
	if own != 100 {
		t.Errorf("the keys' own live counts sum to %d, want the pool's 100", own)
	}
}

// TestPooledRateLimitsStayPerKey: a pool shares the quota, not the rate
// limit: one key spending its burst leaves another's whole.
func TestPooledRateLimitsStayPerKey(t *testing.T) {
	f := MustFixture(t)
	_, _, secrets := f.pooledAccount(2, "pooledslow") // 10/s, burst 10
	for i := range 10 {
		if res := f.Verify(secrets[0], 1); res.Code != verify.Valid {
			t.Fatalf("call %d of the first key: %s", i, res.Code)
		}
	}
	if res := f.Verify(secrets[0], 1); res.Code != verify.RateLimited {
		t.Fatalf("11th call of the first key: %s, want RATE_LIMITED", res.Code)
	}
	res := f.Verify(secrets[1], 1)
	if res.Code != verify.Valid || res.Decision.RateRemaining != 9 || res.Decision.QuotaUsed != 11 {
		t.Errorf("the second key: %s, rate remaining %d, pool used %d; want VALID, 9, 11", res.Code, res.Decision.RateRemaining, res.Decision.QuotaUsed)
	}
}

// TestPooledKeyWithOverrideKeepsItsOwn: an operator's quota override takes
// a key out of its account's pool: it counts against the override, and
// its calls do not count in the pool.
func TestPooledKeyWithOverrideKeepsItsOwn(t *testing.T) {
	f := MustFixture(t)
	acct, _, secrets := f.pooledAccount(1, "pooled")
	q := int64(5)
	_, own := f.MustKeyIn(acct, keys.Settings{Limits: &keys.Limits{Quota: &q}})
	got := codesOf(8, func(int) verify.Code { return f.Verify(own, 1).Code })
	if got[verify.Valid] != 5 || got[verify.QuotaExceeded] != 3 {
		t.Errorf("8 calls of a key with its own quota of 5: %v", got)
	}
	res := f.Verify(secrets[0], 1)
	if res.Code != verify.Valid || res.Decision.QuotaUsed != 1 || res.Decision.QuotaLimit != 100 {
		t.Errorf("the pool after the override key's calls: %s used %d of %d; want 1 of 100", res.Code, res.Decision.QuotaUsed, res.Decision.QuotaLimit)
	}
	if err := f.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pool, err := f.db.DB.PoolUsed(context.Background(), acct, quota.WindowAt(f.Now(), quota.Window{}).Start); err != nil || pool != 1 {
		t.Errorf("the pool as written: %d (%v), want 1", pool, err)
	}
}

// TestPooledQuotaSurvivesARestart: a new process seeds the pool from the
// database, so what was used before it started stays used.
func TestPooledQuotaSurvivesARestart(t *testing.T) {
	f := MustFixture(t)
	_, _, secrets := f.pooledAccount(2, "pooled")
	for i := range 60 {
		if res := f.Verify(secrets[i%2], 1); res.Code != verify.Valid {
			t.Fatalf("call %d: %s", i, res.Code)
		}
	}
	if err := f.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.open() // a restart: new services over the same database
	got := codesOf(50, func(i int) verify.Code { return f.Verify(secrets[i%2], 1).Code })
	if got[verify.Valid] != 40 || got[verify.QuotaExceeded] != 10 {
		t.Errorf("after a restart with 60 of 100 used, 50 calls: %v; want 40 VALID", got)
	}
}

// TestPooledThresholdsAreTheAccounts: a pool crosses 80 and 100 % once, as
// the account's (no key named), whichever key's call crosses.
func TestPooledThresholdsAreTheAccounts(t *testing.T) {
	f := MustFixture(t)
	sink := &poolCrossings{}
	v, err := verify.New(verify.Config{Loader: f.db, Plans: f.catalog, Now: f.Now, Thresholds: sink})
	if err != nil {
		t.Fatal(err)
	}
	acct, _, secrets := f.pooledAccount(3, "pooled")
	for i := range 120 {
		var res verify.Result
		v.Verify(context.Background(), &verify.Request{Key: secrets[i%3], Cost: 1}, &res)
	}
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("crossings %+v, want 80 and 100 once each", got)
	}
	for i, want := range []int{verify.Threshold80, verify.Threshold100} {
		c := got[i]
		if c.keyID != "" || c.accountID != acct || c.percent != want || c.limit != 100 {
			t.Errorf("crossing %d: %+v, want the account's pool at %d %%", i, c, want)
		}
	}
}

// crossing is one ThresholdSink call.
type crossing struct {
	keyID, accountID string
	percent          int
	used, limit      int64
}

// poolCrossings is a ThresholdSink that keeps what it hears, in order.
type poolCrossings struct {
	mu   sync.Mutex
	list []crossing
}

func (c *poolCrossings) QuotaCrossed(keyID, accountID string, percent int, used, limit int64, _ quota.Window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, crossing{keyID, accountID, percent, used, limit})
}

func (c *poolCrossings) all() []crossing {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crossing(nil), c.list...)
}

// TestPooledScopeChangeMidWindow: an account that moves from a plan per
// key to a pooled one and back in one window keeps every count: the pool
// starts from what its keys used, and each key's own count went on while
// it was pooled.
func TestPooledScopeChangeMidWindow(t *testing.T) {
	f := MustFixture(t)
	acct := f.MustAccount()
	f.setPlanOf(acct, "roomy") // 100 000 per key
	_, a := f.MustKeyIn(acct, keys.Settings{Name: "a"})
	_, b := f.MustKeyIn(acct, keys.Settings{Name: "b"})
	for range 30 {
		f.Verify(a, 1)
	}
	for range 20 {
		f.Verify(b, 1)
	}
	if err := f.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.setPlanOf(acct, "pooled")
	got := codesOf(70, func(i int) verify.Code { return f.Verify([]string{a, b}[i%2], 1).Code })
	if got[verify.Valid] != 50 || got[verify.QuotaExceeded] != 20 {
		t.Fatalf("pooled after 50 used per key: %v; want 50 VALID (100 − 50)", got)
	}
	f.setPlanOf(acct, "roomy")
	ra, rb := f.Verify(a, 1), f.Verify(b, 1)
	if ra.Code != verify.Valid || rb.Code != verify.Valid || ra.Decision.QuotaUsed+rb.Decision.QuotaUsed != 102 || ra.Entry.Pooled() {
		t.Errorf("back per key: a used %d, b used %d; want 102 together (50 before, 50 pooled, these 2)", ra.Decision.QuotaUsed, rb.Decision.QuotaUsed)
	}
}

// TestPooledQuotaAcrossInstances: two instances sharing Redis grant
// exactly the pool to concurrent calls of several keys, on a single Redis
// and on a cluster, and the count in Redis is the pool's.
func TestPooledQuotaAcrossInstances(t *testing.T) { eachRedis(t, pooledQuotaAcrossInstances) }

func pooledQuotaAcrossInstances(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	acct, ks, secrets := f.pooledAccount(3, "pooled")
	// Each instance connected (one call that takes nothing) before the
	// burst: a slow machine's first dials could otherwise time out and
	// fall back, as they should, to counting alone.
	a.verify(secrets[0], 0)
	b.verify(secrets[0], 0)
	got := codesOf(160, func(i int) verify.Code {
		in := []*instance{a, b}[i%2]
		return in.verify(secrets[i%3], 1).Code
	})
	if got[verify.Valid] != 100 || got[verify.QuotaExceeded] != 60 {
		t.Fatalf("pool of 100 + 60 concurrent calls over two instances: %v (counted alone: %d, %d)", got, a.redis.FallbackCalls(), b.redis.FallbackCalls())
	}
	for _, in := range []*instance{a, b} {
		res := in.verify(secrets[0], 0)
		if res.Code != verify.Valid || res.Decision.QuotaUsed != 100 || !res.Entry.Pooled() {
			t.Errorf("a cost-0 call: %s, pool used %d", res.Code, res.Decision.QuotaUsed)
		}
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	w := quota.WindowAt(f.Now(), quota.Window{})
	if pool, err := f.db.DB.PoolUsed(context.Background(), acct, w.Start); err != nil || pool != 100 {
		t.Errorf("written: pool %d (%v), want 100", pool, err)
	}
	// A revoke on one instance stops the key on the other at its next
	// call, pool or not.
	owner := audit.Actor{UserID: acct, AccountID: acct, Role: string(team.Owner)}
	if err := f.keys.Revoke(context.Background(), owner, acct, ks[2].ID); err != nil {
		t.Fatal(err)
	}
	if res := b.verify(secrets[2], 0); res.Code != verify.Revoked {
		t.Errorf("B after a revoke on A: %s", res.Code)
	}
}

// TestPooledQuotaThroughARedisOutage: while Redis is away an instance
// counts the pool alone; when Redis returns empty, the pool is seeded from
// the database plus what each instance had not written there, once, and
// the database ends with every granted call once.
func TestPooledQuotaThroughARedisOutage(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	acct, _, secrets := f.pooledAccount(2, "pooled")
	granted := int64(0)
	call := func(in *instance, key string) {
		t.Helper()
		switch res := in.verify(key, 1); res.Code {
		case verify.Valid:
			granted++
		default:
			t.Fatalf("%s (pool used %d)", res.Code, res.Decision.QuotaUsed)
		}
	}
	for i := range 20 {
		call([]*instance{a, b}[i%2], secrets[i%2])
	}
	r.Stop()
	for i := range 10 {
		call(a, secrets[i%2])
	}
	if a.redis.FallbackCalls() == 0 || !a.redis.Degraded() {
		t.Fatal("A did not count alone while Redis was away")
	}
	for _, in := range []*instance{a, b} {
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r.Start()
	waitFor(t, "both instances back on shared counting", func() bool {
		if a.redis.Degraded() || b.redis.Degraded() {
			a.verify(secrets[0], 0) // a call finds Redis back
			b.verify(secrets[1], 0)
			return false
		}
		return true
	})
	for i := range 4 {
		call([]*instance{a, b}[i%2], secrets[i%2])
	}
	for _, in := range []*instance{a, b} {
		if res := in.verify(secrets[0], 0); res.Decision.QuotaUsed != granted {
			t.Errorf("the shared pool after the outage: %d used, %d granted", res.Decision.QuotaUsed, granted)
		}
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	w := quota.WindowAt(f.Now(), quota.Window{})
	if pool, err := f.db.DB.PoolUsed(context.Background(), acct, w.Start); err != nil || pool != granted {
		t.Errorf("written: the pool %d (%v), %d granted", pool, err, granted)
	}
}

// BenchmarkVerifyCachedPooled is BenchmarkVerifyCached for a key of a
// pooled plan (cost 0, so that the pool of 100 lasts): the pool costs no
// allocation either.
func BenchmarkVerifyCachedPooled(b *testing.B) {
	f := MustFixture(b)
	_, _, secrets := f.pooledAccount(1, "pooled")
	req := &verify.Request{Key: secrets[0], Cost: 0}
	var res verify.Result
	f.v.Verify(context.Background(), req, &res)
	if res.Code != verify.Valid || !res.Entry.Pooled() {
		b.Fatalf("%s, pooled %v", res.Code, res.Entry != nil && res.Entry.Pooled())
	}
	b.ReportAllocs()
	for b.Loop() {
		f.v.Verify(context.Background(), req, &res)
	}
	if res.Code != verify.Valid {
		b.Fatal(res.Code)
	}
}

// TestPooledScopeRoundTrip: an account pooled, then per key, then pooled
// again in one window: the second pool counts what every key used
// meanwhile, and the limit holds (a pool kept from the first stretch would
// have forgotten the calls made per key).
func TestPooledScopeRoundTrip(t *testing.T) {
	f := MustFixture(t)
	acct, _, secrets := f.pooledAccount(2, "pooled")
	for i := range 10 {
		f.Verify(secrets[i%2], 1)
	}
	f.setPlanOf(acct, "roomy")
	for i := range 60 {
		if res := f.Verify(secrets[i%2], 1); res.Code != verify.Valid || res.Entry.Pooled() {
			t.Fatalf("per key, call %d: %s", i, res.Code)
		}
	}
	f.setPlanOf(acct, "pooled")
	got := codesOf(100, func(i int) verify.Code { return f.Verify(secrets[i%2], 1).Code })
	if got[verify.Valid] != 30 || got[verify.QuotaExceeded] != 70 {
		t.Errorf("pooled again after 70 used: %v; want 30 VALID", got)
	}
}

// TestPooledKeyJoiningAndLeaving: a key whose quota override is removed
// joins its account's pool with what it used; one that gains an override
// leaves it, taking its use along.
func TestPooledKeyJoiningAndLeaving(t *testing.T) {
	f := MustFixture(t)
	acct, _, secrets := f.pooledAccount(1, "pooled")
	owner := audit.Actor{UserID: acct, AccountID: acct, Role: string(team.Owner)}
	q := int64(1000)
	k, own := f.MustKeyIn(acct, keys.Settings{Limits: &keys.Limits{Quota: &q}})
	for range 50 {
		f.Verify(own, 1)
	}
	f.Verify(secrets[0], 1)
	if err := f.keys.SetOverridesFrom(context.Background(), owner, k.ID, keys.OverrideForm{}); err != nil {
		t.Fatal(err)
	}
	res := f.Verify(secrets[0], 0)
	if !res.Entry.Pooled() || res.Decision.QuotaUsed != 51 {
		t.Fatalf("the pool after a key joined it: %d used, want 51 (50 of the key's, 1 of the other)", res.Decision.QuotaUsed)
	}
	got := codesOf(60, func(i int) verify.Code { return f.Verify([]string{own, secrets[0]}[i%2], 1).Code })
	if got[verify.Valid] != 49 {
		t.Errorf("60 calls with 51 of 100 used: %v; want 49 VALID", got)
	}
	if err := f.keys.SetOverridesFrom(context.Background(), owner, k.ID, keys.OverrideForm{Quota: "1000"}); err != nil {
		t.Fatal(err)
	}
	// 100 used in all: the key's own (50 + its part of the 49) and the
	// other key's (1 + the rest).
	res = f.Verify(secrets[0], 0)
	r := f.Verify(own, 0)
	if r.Entry.Pooled() || r.Decision.QuotaLimit != 1000 || r.Decision.QuotaUsed < 50 || res.Decision.QuotaUsed+r.Decision.QuotaUsed != 100 {
		t.Errorf("after the key left the pool: its own %d of %d (pooled %v), the pool %d; want the two to make the 100 used",
			r.Decision.QuotaUsed, r.Decision.QuotaLimit, r.Entry.Pooled(), res.Decision.QuotaUsed)
	}
}

// TestPooledAfterUnflushedCalls: calls counted per key and not yet
// written are in the pool that starts after them.
func TestPooledAfterUnflushedCalls(t *testing.T) {
	f := MustFixture(t)
	acct := f.MustAccount()
	f.setPlanOf(acct, "roomy")
	_, a := f.MustKeyIn(acct, keys.Settings{Name: "a"})
	for range 60 {
		f.Verify(a, 1)
	}
	f.setPlanOf(acct, "pooled") // no flush in between
	got := codesOf(70, func(int) verify.Code { return f.Verify(a, 1).Code })
	if got[verify.Valid] != 40 {
		t.Errorf("pooled after 60 unflushed calls: %v; want 40 VALID", got)
	}
}

// TestPooledScopeRoundTripAcrossInstances is TestPooledScopeRoundTrip on
// two instances sharing Redis: the pool's count in Redis starts again.
func TestPooledScopeRoundTripAcrossInstances(t *testing.T) {
	eachRedis(t, func(t *testing.T, redisURL string) {
		f, a, b := twoInstances(t, redisURL)
		acct, ks, secrets := f.pooledAccount(2, "pooled")
		ids := []string{ks[0].ID, ks[1].ID}
		plan := func(p string) {
			t.Helper()
			f.setPlanOf(acct, p)
			a.bc.AccountChanged(context.Background(), acct, ids)
		}
		for i := range 10 {
			[]*instance{a, b}[i%2].verify(secrets[i%2], 1)
		}
		plan("roomy")
		for i := range 60 {
			if res := []*instance{a, b}[i%2].verify(secrets[i%2], 1); res.Code != verify.Valid || res.Entry.Pooled() {
				t.Fatalf("per key, call %d: %s", i, res.Code)
			}
		}
		for _, in := range []*instance{a, b} {
			if err := in.v.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		plan("pooled")
		got := codesOf(100, func(i int) verify.Code { return []*instance{a, b}[i%2].verify(secrets[i%2], 1).Code })
		if got[verify.Valid] != 30 || got[verify.QuotaExceeded] != 70 {
			t.Errorf("pooled again after 70 used: %v; want 30 VALID (counted alone: %d, %d)", got, a.redis.FallbackCalls(), b.redis.FallbackCalls())
		}
	})
}

// TestPooledOutageUnitsOfAChangedKeyArePutBack: the calls a pool counted
// alone during an outage are put back into Redis when it returns, even
// when the key whose entry the return's sweep holds changed meanwhile (its
// change counter moved): the units were granted all the same, and the
// account's usage must not stay held back from the database.
func TestPooledOutageUnitsOfAChangedKeyArePutBack(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f := MustFixture(t)
	acct, ks, secrets := f.pooledAccount(1, "pooled")
	var gated atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	conn := mustRedis(t, r.URL())
	rl, err := verify.NewRedisLimits(conn, verify.Seeds{Key: f.db.QuotaUsed, Pool: func(ctx context.Context, id string, w time.Time) (int64, error) {
		if gated.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return f.db.PoolUsed(ctx, id, w)
	}})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{v: f.newVerifierWith(rl, verify.NewRedisInvalidator(conn)), redis: rl}
	if err := in.v.LoadSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := in.verify(secrets[0], 1); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	r.Stop()
	for range 3 {
		if res := in.verify(secrets[0], 1); res.Code != verify.Valid {
			t.Fatal(res.Code)
		}
	}
	gated.Store(true)
	r.Start()
	<-entered // the return's sweep, reading the database's count
	other := verify.NewRedisInvalidator(mustRedis(t, r.URL()))
	if err := other.Announce(context.Background(), verify.Change{Kind: verify.KeyChange, ID: ks[0].ID, Account: acct}); err != nil {
		t.Fatal(err)
	}
	close(release)
	w := quota.WindowAt(f.Now(), quota.Window{}).Start
	waitFor(t, "the 4 calls in the database", func() bool {
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		used, _ := f.db.DB.PoolUsed(context.Background(), acct, w)
		return used == 4
	})
	if res := in.verify(secrets[0], 1); res.Code != verify.Valid || res.Decision.QuotaUsed != 5 {
		t.Errorf("the next call: %s, %d used, want the fifth", res.Code, res.Decision.QuotaUsed)
	}
}

// TestPooledKeyJoiningSeenByOtherInstances: a key that joins its pool on
// one instance (its override removed there) moves the pool on every
// instance at its next call, even for entries of the account's other keys
// that the change did not name: they are of the old pool's epoch.
func TestPooledKeyJoiningSeenByOtherInstances(t *testing.T) {
	eachRedis(t, func(t *testing.T, redisURL string) {
		f, a, b := twoInstances(t, redisURL)
		acct, _, secrets := f.pooledAccount(1, "pooled")
		owner := audit.Actor{UserID: acct, AccountID: acct, Role: string(team.Owner)}
		q := int64(1000)
		k, own := f.MustKeyIn(acct, keys.Settings{Limits: &keys.Limits{Quota: &q}})
		for range 50 {
			a.verify(own, 1)
		}
		b.verify(secrets[0], 1) // cached on B, in the pool's first epoch
		for _, in := range []*instance{a, b} {
			if err := in.v.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.keys.SetOverridesFrom(context.Background(), owner, k.ID, keys.OverrideForm{}); err != nil {
			t.Fatal(err)
		}
		got := codesOf(200, func(i int) verify.Code {
			if i%2 == 0 {
				return a.verify(own, 1).Code
			}
			return b.verify(secrets[0], 1).Code // B heard nothing: no subscription here
		})
		if got[verify.Valid] != 49 {
			t.Errorf("after the key joined the pool (51 of 100 used): %v; want 49 VALID", got)
		}
	})
}
