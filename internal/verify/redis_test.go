package verify_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// instance is one Keyhold process's verifier, limits and broadcast, over
// the fixture's database and a shared Redis.
type instance struct {
	v     *verify.Verifier
	redis *verify.RedisLimits
	inv   *verify.RedisInvalidator
	bc    *verify.Broadcast
}

// mustRedis connects to Redis at url until the test ends.
func mustRedis(tb testing.TB, url string) *verify.Redis {
	tb.Helper()
	conn, err := verify.DialRedis(url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func (f *fixture) instance(redisURL string) *instance {
	f.t.Helper()
	return f.instanceSeeded(redisURL, f.db.QuotaUsed)
}

// instanceSeeded is instance with seed in place of the database's count of
// a window, so a test can stall an instance's return from an outage.
func (f *fixture) instanceSeeded(redisURL string, seed func(context.Context, string, time.Time) (int64, error)) *instance {
	f.t.Helper()
	conn := mustRedis(f.t, redisURL)
	rl, err := verify.NewRedisLimits(conn, verify.Seeds{Key: seed, Pool: f.db.PoolUsed})
	if err != nil {
		f.t.Fatal(err)
	}
	inv := verify.NewRedisInvalidator(conn)
	v := f.newVerifierWith(rl, inv)
	if err := v.LoadSecrets(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return &instance{v: v, redis: rl, inv: inv, bc: verify.NewBroadcast(inv, v, nil)}
}

func (in *instance) verify(key string, cost int64, scopes ...string) verify.Result {
	var res verify.Result
	in.v.Verify(context.Background(), &verify.Request{Key: key, Cost: cost, Scopes: scopes}, &res)
	return res
}

// twoInstances returns instances A and B on one database and one Redis;
// the key service's changes are broadcast from A, as cmd/keyhold wires it.
func twoInstances(t *testing.T, redisURL string) (*fixture, *instance, *instance) {
	f := MustFixture(t)
	a, b := f.instance(redisURL), f.instance(redisURL)
	f.keys.Subscribe(func(e keys.Event) { a.bc.KeyEvent(context.Background(), e) })
	return f, a, b
}

func TestSharedQuotaIsExact(t *testing.T) { eachRedis(t, sharedQuotaIsExact) }

func sharedQuotaIsExact(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	_, key := f.MustKey(keys.Settings{})
	var valid, exceeded atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 160 {
		in := a
		if i%2 == 1 {
			in = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch in.verify(key, 1).Code {
			case verify.Valid:
				valid.Add(1)
			case verify.QuotaExceeded:
				exceeded.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if valid.Load() != 100 || exceeded.Load() != 60 {
		t.Errorf("valid %d, exceeded %d over two instances; want 100 and 60", valid.Load(), exceeded.Load())
	}
}

func TestSharedRateLimitIsNotDoubled(t *testing.T) { eachRedis(t, sharedRateLimitIsNotDoubled) }

func sharedRateLimitIsNotDoubled(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	f.setPlan("slow") // 10/s, burst 10
	_, key := f.MustKey(keys.Settings{})
	allowed := 0
	for i := range 20 {
		in := a
		if i%2 == 1 {
			in = b
		}
		if in.verify(key, 1).Code == verify.Valid {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("%d of 20 allowed across two instances with burst 10", allowed)
	}
	// 3/s over the next second, shared.
	f.Advance(time.Second)
	allowed = 0
	for i := range 30 {
		in := a
		if i%2 == 1 {
			in = b
		}
		if in.verify(key, 1).Code == verify.Valid {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("after a second: %d allowed, want 10 (refilled at 10/s)", allowed)
	}
}

func TestRevokeOnOneInstanceReachesTheOtherAtOnce(t *testing.T) {
	eachRedis(t, revokeOnOneInstanceReachesTheOtherAtOnce)
}

func revokeOnOneInstanceReachesTheOtherAtOnce(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	k, key := f.MustKey(keys.Settings{})
	if res := b.verify(key, 1); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	if res := b.verify(key, 1); res.Code != verify.Valid { // cached on B now
		t.Fatal(res.Code)
	}
	if err := f.keys.Revoke(context.Background(), f.owner(), f.account, k.ID); err != nil {
		t.Fatal(err)
	}
	// B never heard the pub/sub message (it is not listening here): the
	// change counter checked in B's next script call is enough.
	if res := b.verify(key, 1); res.Code != verify.Revoked {
		t.Errorf("B's next call after a revoke on A: %s", res.Code)
	}
	if res := a.verify(key, 1); res.Code != verify.Revoked {
		t.Errorf("A after its own revoke: %s", res.Code)
	}
}

func TestPlanChangeOnOneInstanceReachesTheOther(t *testing.T) {
	eachRedis(t, planChangeOnOneInstanceReachesTheOther)
}

func planChangeOnOneInstanceReachesTheOther(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	k, key := f.MustKey(keys.Settings{})
	if res := b.verify(key, 1); res.Decision.QuotaLimit != 100 {
		t.Fatalf("quota %d", res.Decision.QuotaLimit)
	}
	if err := f.db.DB.SetPlan(context.Background(), f.account, "slow"); err != nil {
		t.Fatal(err)
	}
	a.bc.AccountChanged(context.Background(), f.account, []string{k.ID})
	res := b.verify(key, 1)
	if res.Code != verify.Valid || res.Decision.QuotaLimit != 1_000_000 || res.Decision.QuotaUsed != 2 {
		t.Errorf("B after the upgrade on A: %s limit %d used %d", res.Code, res.Decision.QuotaLimit, res.Decision.QuotaUsed)
	}
}

func TestBroadcastDropsCachesEverywhere(t *testing.T) { eachRedis(t, broadcastDropsCachesEverywhere) }

func broadcastDropsCachesEverywhere(t *testing.T, redisURL string) {
	f, a, b := twoInstances(t, redisURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.bc.Listen(ctx)
	time.Sleep(100 * time.Millisecond) // let the subscription start
	k, key := f.MustKey(keys.Settings{})
	b.verify(key, 1)
	if b.v.CachedKeys() != 1 {
		t.Fatalf("B caches %d keys", b.v.CachedKeys())
	}
	a.bc.KeyChanged(context.Background(), k.AccountID, k.ID)
	deadline := time.Now().Add(2 * time.Second)
	for b.v.CachedKeys() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if b.v.CachedKeys() != 0 {
		t.Error("B kept its cache entry after the broadcast")
	}
}

func TestRedisOutageFallsBackAndResumes(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	_, key := f.MustKey(keys.Settings{})
	for range 10 {
		a.verify(key, 1)
		b.verify(key, 1)
	}
	r.Stop()
	// Both keep answering, with limits counted locally from the last shared
	// count (20 used of 100): not unlimited, not all refused.
	var valid int
	for range 50 {
		for _, in := range []*instance{a, b} {
			switch res := in.verify(key, 1); res.Code {
			case verify.Valid:
				valid++
			case verify.QuotaExceeded:
			default:
				t.Fatalf("during the outage: %s", res.Code)
			}
		}
	}
	if !a.redis.Degraded() || !b.redis.Degraded() || a.redis.Outages() != 1 {
		t.Errorf("not in fallback: %v %v outages %d", a.redis.Degraded(), b.redis.Degraded(), a.redis.Outages())
	}
	if valid != 100 {
		t.Errorf("%d of 100 valid during the outage, with 80 of the quota left on each", valid)
	}
	// Each instance enforces what was left when Redis went away (about 80)
	// on its own: limited, if not shared.
	extra := 0
	for range 100 {
		if a.verify(key, 1).Code == verify.Valid {
			extra++
		}
	}
	if extra < 25 || extra > 35 {
		t.Errorf("A allowed %d more on its own; want about 80-50 = 30", extra)
	}
	// The running server flushes every second; what each instance counted
	// alone stays out of the database until Redis has it.
	for _, in := range []*instance{a, b} {
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r.Start()
	deadline := time.Now().Add(5 * time.Second)
	for (a.redis.Degraded() || b.redis.Degraded()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if a.redis.Degraded() || b.redis.Degraded() {
		t.Fatal("shared counting did not resume")
	}
	// Redis lost its data: the window is re-seeded from the database plus
	// what each instance had not written there, so the quota stays spent.
	if res := a.verify(key, 1); res.Code != verify.QuotaExceeded {
		t.Errorf("after the outage: %s used %d", res.Code, res.Decision.QuotaUsed)
	}
	if res := b.verify(key, 1); res.Code != verify.QuotaExceeded || res.Decision.QuotaUsed < 100 {
		t.Errorf("after the outage, B: %s used %d", res.Code, res.Decision.QuotaUsed)
	}
}

// TestRedisOutageCountsEachCallOnce: two instances verify one key from
// several goroutines each while Redis goes away and comes back, either
// stalled (SIGSTOP: calls time out, what they sent runs when it resumes,
// and it keeps its data) or killed (back empty, no persistence). Afterwards
// Redis's count of the window and the database's usage must both be
// exactly the calls answered VALID: none lost, none counted twice.
func TestRedisOutageCountsEachCallOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		out, back func(*testenv.RedisServer)
	}{
		{"StallKeepsData", (*testenv.RedisServer).Stall, (*testenv.RedisServer).Resume},
		{"KillLosesData", (*testenv.RedisServer).Stop, (*testenv.RedisServer).Start},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.PrivateRedis(t)
			f, a, b := twoInstances(t, r.URL())
			f.setPlan("roomy")
			k, key := f.MustKey(keys.Settings{})
			var granted atomic.Int64
			traffic := func(calls int) {
				var wg sync.WaitGroup
				for i := range 8 {
					in := []*instance{a, b}[i%2]
					wg.Go(func() {
						for range calls {
							switch res := in.verify(key, 1); res.Code {
							case verify.Valid:
								granted.Add(1)
							default:
								t.Errorf("%s: %s", tc.name, res.Code)
							}
						}
					})
				}
				wg.Wait()
			}
			traffic(10)
			// Some usage in the database before the outage, some not.
			if err := a.v.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			traffic(5)

			tc.out(r)
			// Calls in flight meet the outage; both fall back.
			traffic(10)
			waitFor(t, "both instances in fallback", func() bool { return a.redis.Degraded() && b.redis.Degraded() })
			traffic(10)
			// The running server flushes every second, outage or not, and
			// calls go on between flushes.
			for _, in := range []*instance{a, b} {
				if err := in.v.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			traffic(5)
			tc.back(r)
			waitFor(t, "shared counting back on both", func() bool { return !a.redis.Degraded() && !b.redis.Degraded() })
			traffic(5)

			// Every call counted once: one more call on each instance sees
			// exactly the calls granted so far, plus itself.
			for _, in := range []*instance{a, b} {
				res := in.verify(key, 1)
				if res.Code != verify.Valid {
					t.Fatalf("after the outage: %s", res.Code)
				}
				n := granted.Add(1)
				if res.Decision.QuotaUsed != n {
					t.Errorf("after the outage Redis counts %d used, want the %d calls granted (%d fallback calls on A, %d on B)",
						res.Decision.QuotaUsed, n, a.redis.FallbackCalls(), b.redis.FallbackCalls())
				}
			}
			if a.redis.FallbackCalls() == 0 || b.redis.FallbackCalls() == 0 {
				t.Fatalf("fallback calls %d and %d: the outage did not happen on both", a.redis.FallbackCalls(), b.redis.FallbackCalls())
			}
			// And the database has each call once.
			for _, in := range []*instance{a, b} {
				if err := in.v.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			used, err := f.db.DB.QuotaUsed(context.Background(), k.ID, quota.WindowAt(f.Now(), quota.Window{}).Start)
			if err != nil {
				t.Fatal(err)
			}
			if used != granted.Load() {
				t.Errorf("the database counts %d used, want the %d calls granted", used, granted.Load())
			}
		})
	}
}

// TestStopFlushWritesUsageCountedWhileRedisIsDown: usage counted alone is
// kept out of the database until Redis has it, but a graceful stop during
// the outage writes it anyway: nothing is lost on a graceful stop.
func TestStopFlushWritesUsageCountedWhileRedisIsDown(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f := MustFixture(t)
	k, key := f.MustKey(keys.Settings{})
	in := f.instance(r.URL()) // after the key: its filter knows it
	if res := in.verify(key, 1); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	r.Stop()
	for range 4 {
		if res := in.verify(key, 1); res.Code != verify.Valid {
			t.Fatal(res.Code)
		}
	}
	if in.redis.FallbackCalls() == 0 {
		t.Fatal("no call was counted locally")
	}
	if err := in.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	window := quota.WindowAt(f.Now(), quota.Window{}).Start
	if used, _ := f.db.DB.QuotaUsed(context.Background(), k.ID, window); used != 0 {
		t.Errorf("%d used in the database while the calls are not in Redis, want them held back", used)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.v.Run(ctx, time.Hour); close(done) }()
	stop()
	<-done
	if used, _ := f.db.DB.QuotaUsed(context.Background(), k.ID, window); used != 5 {
		t.Errorf("after the stop the database has %d used, want the 5 calls", used)
	}
}

// TestIdleKeyIsReconciledWhenRedisReturns: a key counted alone during an
// outage and not called since is put back into Redis when Redis returns,
// so its usage reaches the database without waiting for another call.
func TestIdleKeyIsReconciledWhenRedisReturns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		out, back func(*testenv.RedisServer)
	}{
		{"StallKeepsData", (*testenv.RedisServer).Stall, (*testenv.RedisServer).Resume},
		{"KillLosesData", (*testenv.RedisServer).Stop, (*testenv.RedisServer).Start},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.PrivateRedis(t)
			f := MustFixture(t)
			k, key := f.MustKey(keys.Settings{})
			in := f.instance(r.URL())
			if res := in.verify(key, 1); res.Code != verify.Valid {
				t.Fatal(res.Code)
			}
			tc.out(r)
			for range 3 {
				if res := in.verify(key, 1); res.Code != verify.Valid {
					t.Fatal(res.Code)
				}
			}
			tc.back(r)
			window := quota.WindowAt(f.Now(), quota.Window{}).Start
			waitFor(t, "the 4 calls in the database", func() bool {
				if err := in.v.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				used, _ := f.db.DB.QuotaUsed(context.Background(), k.ID, window)
				return used == 4
			})
			// And in Redis, once: the next call is the fifth.
			if res := in.verify(key, 1); res.Code != verify.Valid || res.Decision.QuotaUsed != 5 {
				t.Errorf("the next call: %s, %d used, want 5", res.Code, res.Decision.QuotaUsed)
			}
		})
	}
}

// TestRedisBackMeansOutageCallsAreIn: an instance reports shared counting
// back (Degraded false) only once the calls it granted alone during the
// outage are in Redis again. Until then another instance, seeing Redis's
// count without them, would grant past the quota; a caller waiting for
// "back on both" before trusting the shared count (the test above, the
// fallback metric) must not be told too early. B's return is stalled in
// its read of the database's count, deterministically.
func TestRedisBackMeansOutageCallsAreIn(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{}) // before the instances load their filters
	var gated atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	a := f.instance(r.URL())
	b := f.instanceSeeded(r.URL(), func(ctx context.Context, keyID string, start time.Time) (int64, error) {
		if gated.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return f.db.QuotaUsed(ctx, keyID, start)
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	for range 10 {
		a.verify(key, 1)
		b.verify(key, 1)
	}
	r.Stop()
	// 40 more on each, counted alone: with the 20 before, the quota of
	// 100 is spent exactly.
	for range 40 {
		for _, in := range []*instance{a, b} {
			if res := in.verify(key, 1); res.Code != verify.Valid {
				t.Fatalf("during the outage: %s used %d", res.Code, res.Decision.QuotaUsed)
			}
		}
	}
	if !a.redis.Degraded() || !b.redis.Degraded() {
		t.Fatalf("not in fallback: %v %v", a.redis.Degraded(), b.redis.Degraded())
	}
	gated.Store(true)
	r.Start()
	// B has found Redis back and is putting its 40 calls there, stalled.
	<-entered
	waitFor(t, "A back", func() bool { return !a.redis.Degraded() })
	if !b.redis.Degraded() {
		t.Error("B reports shared counting back while its 40 calls of the outage are not in Redis")
	}
	close(release)
	released = true
	waitFor(t, "B back", func() bool { return !b.redis.Degraded() })
	for _, in := range []*instance{a, b} {
		if res := in.verify(key, 1); res.Code != verify.QuotaExceeded || res.Decision.QuotaUsed != 100 {
			t.Errorf("after the outage: %s used %d, want QUOTA_EXCEEDED with 100 used", res.Code, res.Decision.QuotaUsed)
		}
	}
}
