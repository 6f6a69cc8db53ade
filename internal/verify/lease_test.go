package verify_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// leasedInstances is twoInstances with leases on both (EnableLeases).
func leasedInstances(t *testing.T, redisURL string) (*fixture, *instance, *instance) {
	f, a, b := twoInstances(t, redisURL)
	a.redis.EnableLeases()
	b.redis.EnableLeases()
	return f, a, b
}

// plainRedis is a go-redis client of the Redis (or cluster) at url, for a
// test to read and write what keyhold keeps there.
func plainRedis(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	if strings.Contains(url, "addr=") || strings.Contains(url, "cluster=true") {
		return clusterClient(tb, url)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// windowCount is the count Redis holds of key id's current quota window.
func windowCount(t *testing.T, c redis.UniversalClient, f *fixture, acct, id string) int64 {
	t.Helper()
	start := quota.WindowAt(f.Now(), quota.Window{}).Start.Unix()
	n, err := c.Get(context.Background(), "kh:{"+acct+"}:q:"+id+":"+strconv.FormatInt(start, 10)).Int64()
	if err != nil {
		t.Fatalf("the window's count: %v", err)
	}
	return n
}

// TestLeasesQuotaExactOverBoth: sixteen goroutines over two instances with
// leases spend a quota of 8 000: exactly 8 000 calls are VALID, every later
// one QUOTA_EXCEEDED, and once the leases' unused units are back Redis
// counts exactly the calls granted.
func TestLeasesQuotaExactOverBoth(t *testing.T) { eachRedis(t, leasesQuotaExactOverBoth) }

func leasesQuotaExactOverBoth(t *testing.T, redisURL string) {
	const limit = 8000
	f, a, b := leasedInstances(t, redisURL)
	f.setPlan("roomy")
	q := int64(limit)
	k, key := f.MustKey(keys.Settings{Limits: &keys.Limits{Quota: &q}})
	var valid, exceeded atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		in := []*instance{a, b}[i%2]
		wg.Go(func() {
			for {
				switch res := in.verify(key, 1); res.Code {
				case verify.Valid:
					valid.Add(1)
				case verify.QuotaExceeded:
					exceeded.Add(1)
					return
				default:
					t.Errorf("%s", res.Code)
					return
				}
			}
		})
	}
	wg.Wait()
	if valid.Load() != limit || exceeded.Load() != 16 {
		t.Errorf("valid %d, exceeded %d; want exactly %d valid and each goroutine's last call exceeded", valid.Load(), exceeded.Load(), limit)
	}
	a.redis.GiveBackLeases()
	b.redis.GiveBackLeases()
	if n := windowCount(t, plainRedis(t, redisURL), f, f.account, k.ID); n != limit {
		t.Errorf("Redis counts %d, want the %d calls granted", n, limit)
	}
	for _, in := range []*instance{a, b} {
		if res := in.verify(key, 1); res.Code != verify.QuotaExceeded || res.Decision.QuotaUsed != limit {
			t.Errorf("after the quota: %s used %d, want QUOTA_EXCEEDED at %d", res.Code, res.Decision.QuotaUsed, limit)
		}
	}
}

// TestLeasesTakeFewScripts: one busy key on one instance runs the script
// for a fraction of its calls, each answer still counts exactly (one
// instance: nobody else grants), and a flush after the lease expired puts
// the unused units back.
func TestLeasesTakeFewScripts(t *testing.T) {
	url := testenv.Redis(t)
	f, a, _ := leasedInstances(t, url)
	f.setPlan("roomy")
	k, key := f.MustKey(keys.Settings{})
	c := plainRedis(t, url)
	scripts := func() int64 {
		s, err := c.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(s, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	before := scripts()
	const calls = 2000
	for i := range calls {
		res := a.verify(key, 1)
		if res.Code != verify.Valid || res.Decision.QuotaUsed != int64(i+1) {
			t.Fatalf("call %d: %s used %d, want VALID and %d used", i+1, res.Code, res.Decision.QuotaUsed, i+1)
		}
	}
	if n := scripts() - before; n > calls/8 {
		t.Errorf("%d calls ran the script %d times; with leases, want at most %d", calls, n, calls/8)
	}
	if n := windowCount(t, c, f, f.account, k.ID); n < calls || n > calls+64 {
		t.Errorf("Redis counts %d with a lease held, want %d to %d", n, calls, calls+64)
	}
	f.Advance(2 * time.Second) // past leaseLife
	if err := a.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := windowCount(t, c, f, f.account, k.ID); n != calls {
		t.Errorf("after the lease expired and a flush, Redis counts %d, want the %d calls granted", n, calls)
	}
	if res := a.verify(key, 1); res.Code != verify.Valid || res.Decision.QuotaUsed != calls+1 {
		t.Errorf("the next call: %s used %d, want %d", res.Code, res.Decision.QuotaUsed, calls+1)
	}
}

// TestLeasesCheckTheGeneration: a call granted from a lease still asks
// Redis for the key's change counter, so a key changed on another instance
// is re-read on the very next call, whether or not its broadcast arrived.
// Here the counter moves with no broadcast at all.
func TestLeasesCheckTheGeneration(t *testing.T) { eachRedis(t, leasesCheckTheGeneration) }

func leasesCheckTheGeneration(t *testing.T, redisURL string) {
	f, _, b := leasedInstances(t, redisURL)
	f.setPlan("roomy")
	k, key := f.MustKey(keys.Settings{})
	for range 50 { // a lease on B
		if res := b.verify(key, 1); res.Code != verify.Valid {
			t.Fatal(res.Code)
		}
	}
	loads := b.v.Loads()
	if res := b.verify(key, 1); res.Code != verify.Valid || b.v.Loads() != loads {
		t.Fatalf("a call from the lease: %s, %d reads", res.Code, b.v.Loads()-loads)
	}
	c := plainRedis(t, redisURL)
	if err := c.Incr(context.Background(), "kh:{"+f.account+"}:gen:"+k.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if res := b.verify(key, 1); res.Code != verify.Valid || b.v.Loads() != loads+1 {
		t.Errorf("after the change counter moved: %s with %d reads of the key, want VALID after one re-read", res.Code, b.v.Loads()-loads)
	}
	b.redis.GiveBackLeases()
	if n := windowCount(t, c, f, f.account, k.ID); n != 52 {
		t.Errorf("Redis counts %d, want the 52 calls granted", n)
	}
}
