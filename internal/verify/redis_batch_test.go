package verify_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// The tests here are about concurrent script calls sharing round trips to
// Redis (RedisLimits auto-pipelines them): each call of a batch must be
// decided as if it had gone alone.

// redisReads returns Redis's count of read events (INFO stats
// total_reads_processed): one per round trip a client makes, however many
// commands it carries.
func redisReads(t *testing.T, url string) int64 {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	m, err := c.InfoMap(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(m["Stats"]["total_reads_processed"], 10, 64)
	if err != nil {
		t.Fatalf("INFO stats total_reads_processed: %v", err)
	}
	return n
}

// burst runs calls concurrently, all released at once, and returns the
// codes they answered in call order.
func burst(calls []func() verify.Code) []verify.Code {
	codes := make([]verify.Code, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			<-start
			codes[i] = call()
		})
	}
	close(start)
	wg.Wait()
	return codes
}

// TestBatchedCallsKeepEveryQuotaExactAtTheEdge: four keys, each with a
// quota of 100, get 160 concurrent calls each, half on each of two
// instances: exactly 100 VALID per key, never one past, though the calls
// share round trips (fewer read events in Redis than calls).
func TestBatchedCallsKeepEveryQuotaExactAtTheEdge(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	const nKeys, perKey, quota = 4, 160, 100
	secrets := make([]string, nKeys)
	for i := range secrets {
		_, secrets[i] = f.MustKey(keys.Settings{})
		// Cached on both, so that the burst below is script calls only.
		for _, in := range []*instance{a, b} {
			if res := in.verify(secrets[i], 0); res.Code != verify.Valid {
				t.Fatalf("warming key %d: %s", i, res.Code)
			}
		}
	}
	var calls []func() verify.Code
	for i := range nKeys * perKey {
		in, key := []*instance{a, b}[i%2], secrets[(i/2)%nKeys]
		calls = append(calls, func() verify.Code { return in.verify(key, 1).Code })
	}
	before := redisReads(t, r.URL())
	codes := burst(calls)
	reads := redisReads(t, r.URL()) - before

	valid := make([]int, nKeys)
	for i, c := range codes {
		switch c {
		case verify.Valid:
			valid[(i/2)%nKeys]++
		case verify.QuotaExceeded:
		default:
			t.Fatalf("call %d: %s", i, c)
		}
	}
	for i, n := range valid {
		if n != quota {
			t.Errorf("key %d: %d VALID of %d concurrent calls over two instances; want exactly the quota, %d", i, n, perKey, quota)
		}
	}
	if a.redis.FallbackCalls()+b.redis.FallbackCalls() != 0 {
		t.Fatalf("%d calls counted locally: the burst did not go through Redis", a.redis.FallbackCalls()+b.redis.FallbackCalls())
	}
	if reads >= int64(len(calls)) {
		t.Errorf("Redis read %d times for %d concurrent calls: no call shared a round trip", reads, len(calls))
	}
	t.Logf("%d calls in %d Redis read events", len(calls), reads)
}

// TestBatchMetWithARedisStallFallsBackForEveryCall: calls batched together
// when Redis stalls all fail alike and each falls back to counting locally,
// as a lone call does; when Redis resumes (and runs what it had been sent),
// every key's count is exactly the calls granted.
func TestBatchMetWithARedisStallFallsBackForEveryCall(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	f.setPlan("roomy")
	const nKeys, perKey = 4, 12
	secrets := make([]string, nKeys)
	for i := range secrets {
		_, secrets[i] = f.MustKey(keys.Settings{})
		for _, in := range []*instance{a, b} {
			if res := in.verify(secrets[i], 0); res.Code != verify.Valid {
				t.Fatalf("warming key %d: %s", i, res.Code)
			}
		}
	}
	var calls []func() verify.Code
	for i := range nKeys * perKey {
		in, key := []*instance{a, b}[i%2], secrets[(i/2)%nKeys]
		calls = append(calls, func() verify.Code { return in.verify(key, 1).Code })
	}
	r.Stall()
	for i, c := range burst(calls) {
		if c != verify.Valid {
			t.Fatalf("call %d while Redis stalls: %s; want VALID, counted locally", i, c)
		}
	}
	if !a.redis.Degraded() || !b.redis.Degraded() {
		t.Fatalf("degraded: A %v, B %v; a stall met by a batch must put both in fallback", a.redis.Degraded(), b.redis.Degraded())
	}
	if n := a.redis.FallbackCalls() + b.redis.FallbackCalls(); n != int64(len(calls)) {
		t.Errorf("%d of %d calls counted locally; every call of a failed batch falls back", n, len(calls))
	}
	if a.redis.Outages() != 1 || b.redis.Outages() != 1 {
		t.Errorf("outages: A %d, B %d; one stall is one outage each", a.redis.Outages(), b.redis.Outages())
	}
	r.Resume()
	waitFor(t, "shared counting back on both", func() bool { return !a.redis.Degraded() && !b.redis.Degraded() })
	// What the stalled Redis ran when it resumed, and what each instance
	// counted alone, are each in once: warm-ups cost 0, so one more call
	// sees the burst's calls plus itself.
	for i, key := range secrets {
		res := a.verify(key, 1)
		if want := int64(perKey + 1); res.Code != verify.Valid || res.Decision.QuotaUsed != want {
			t.Errorf("key %d after the stall: %s, used %d; want VALID and %d", i, res.Code, res.Decision.QuotaUsed, want)
		}
	}
}

// TestStaleKeyInsideABatchIsReadAgainAlone: B has four keys cached, and one
// of them is revoked on A (B hears no broadcast here). In a burst of calls
// on B batched together, the revoked key's calls find the change counter
// moved (STALE), read the key again and answer REVOKED, taking nothing;
// the other keys' calls of the same batches are VALID and counted once.
func TestStaleKeyInsideABatchIsReadAgainAlone(t *testing.T) {
	f, a, b := twoInstances(t, testenv.Redis(t))
	const nKeys, perKey, revoked = 4, 20, 2
	secrets := make([]string, nKeys)
	var ids []string
	for i := range secrets {
		k, s := f.MustKey(keys.Settings{})
		secrets[i], ids = s, append(ids, k.ID)
		if res := b.verify(s, 1); res.Code != verify.Valid {
			t.Fatalf("warming key %d: %s", i, res.Code)
		}
	}
	if err := f.keys.Revoke(context.Background(), f.owner(), f.account, ids[revoked]); err != nil {
		t.Fatal(err)
	}
	loads := b.v.Loads()
	var calls []func() verify.Code
	for i := range nKeys * perKey {
		key := secrets[i%nKeys]
		calls = append(calls, func() verify.Code { return b.verify(key, 1).Code })
	}
	for i, c := range burst(calls) {
		want := verify.Valid
		if i%nKeys == revoked {
			want = verify.Revoked
		}
		if c != want {
			t.Errorf("call %d (key %d): %s, want %s", i, i%nKeys, c, want)
		}
	}
	if b.v.Loads() == loads {
		t.Error("B never read the revoked key again: its STALE went unnoticed")
	}
	for i, key := range secrets {
		res := a.verify(key, 0)
		want := int64(perKey + 1)
		if i == revoked {
			if res.Code != verify.Revoked {
				t.Errorf("the revoked key on A: %s", res.Code)
			}
			continue
		}
		if res.Code != verify.Valid || res.Decision.QuotaUsed != want {
			t.Errorf("key %d on A: %s, used %d; want VALID and %d (the warm-up and the burst)", i, res.Code, res.Decision.QuotaUsed, want)
		}
	}
}

// TestFlushedScriptCacheMidTrafficCostsNoCall: Redis forgets the script
// (SCRIPT FLUSH, as after a restart or a failover to a replica that never
// ran it) while calls are batched: each call of the batch gets NOSCRIPT,
// sends the script itself, and is counted once, as a lone call does.
func TestFlushedScriptCacheMidTrafficCostsNoCall(t *testing.T) {
	r := testenv.PrivateRedis(t)
	f, a, b := twoInstances(t, r.URL())
	_, key := f.MustKey(keys.Settings{})
	for _, in := range []*instance{a, b} {
		if res := in.verify(key, 1); res.Code != verify.Valid {
			t.Fatal(res.Code)
		}
	}
	opt, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	var valid atomic.Int64
	var calls []func() verify.Code
	for i := range 60 {
		in := []*instance{a, b}[i%2]
		calls = append(calls, func() verify.Code { return in.verify(key, 1).Code })
	}
	for i, code := range burst(calls) {
		if code != verify.Valid {
			t.Errorf("call %d after SCRIPT FLUSH: %s", i, code)
			continue
		}
		valid.Add(1)
	}
	if n := a.redis.FallbackCalls() + b.redis.FallbackCalls(); n != 0 {
		t.Errorf("%d calls counted locally: NOSCRIPT is not an outage", n)
	}
	if res := a.verify(key, 0); res.Decision.QuotaUsed != valid.Load()+2 {
		t.Errorf("Redis counts %d used, want the %d calls granted", res.Decision.QuotaUsed, valid.Load()+2)
	}
}
