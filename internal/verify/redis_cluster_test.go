package verify_test

// Redis Cluster: the shared tests of redis_test.go run on a single Redis
// and on a three-master cluster (eachRedis); these test what only a
// cluster has: URLs naming several nodes, every script's keys in one hash
// slot, and a master killed mid-traffic.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// eachRedis runs test on the binary's single Redis and on its Redis
// Cluster.
func eachRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("Single", func(t *testing.T) { test(t, testenv.Redis(t)) })
	t.Run("Cluster", func(t *testing.T) { test(t, testenv.RedisCluster(t)) })
}

// clusterClient is a plain go-redis client of the cluster at url, for a
// test to look at what keyhold wrote.
func clusterClient(tb testing.TB, url string) *redis.ClusterClient {
	tb.Helper()
	opt, err := redis.ParseClusterURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClusterClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestDialRedisURLs(t *testing.T) {
	// Real servers: the connections dial in the background.
	single := strings.TrimPrefix(testenv.Redis(t), "redis://")
	cluster := testenv.RedisCluster(t) // redis://N1?addr=N2&addr=N3
	seed, more, _ := strings.Cut(strings.TrimPrefix(cluster, "redis://"), "?")
	second := strings.TrimPrefix(strings.Split(more, "&")[0], "addr=")
	for _, tc := range []struct {
		url     string
		cluster bool
	}{
		{"redis://" + single, false},
		{"redis://" + single + "/2?pool_size=4", false},
		{"redis://" + single + "?cluster=false", false},
		{cluster, true},
		{"redis://" + seed + "?addr=" + second, true},
		{"redis://" + seed + "?cluster=true", true},
		{"redis://" + seed + "?cluster=1&addr=" + second, true},
	} {
		conn, err := verify.DialRedis(tc.url, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if conn.Cluster() != tc.cluster {
			t.Errorf("%s: cluster %v, want %v", tc.url, conn.Cluster(), tc.cluster)
		}
		conn.Close()
	}
	for _, tc := range []struct{ url, want string }{
		{"localhost:6379", "want redis://host:port"},
		{"http://127.0.0.1:6379", "want redis://host:port"},
		{"redis://", "want redis://host:port"},
		{"redis://:secret-pw@127.0.0.1:7000?addr=nonsense", `addr="nonsense": want host:port`},
		{"redis://:secret-pw@127.0.0.1:7000?cluster=maybe", `cluster="maybe": want true or false`},
		{"redis://:secret-pw@127.0.0.1:7000?cluster=false&addr=127.0.0.1:7001", "cluster=false with addr"},
		{"redis://:secret-pw@127.0.0.1:7000?addr=127.0.0.1:7001&bogus=1", "bogus"},
		{"redis://:secret-pw@127.0.0.1:7000?bogus=1", "bogus"},
		{"redis://:secret-pw@127.0.0.1:7000/x", "database"},
		{"redis://:secret-pw@127.0.0.1:7000?addr=127.0.0.1:7001&pool_size=many", "pool_size"},
	} {
		conn, err := verify.DialRedis(tc.url, nil)
		if err == nil {
			conn.Close()
			t.Errorf("%s: no error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("%s: the error repeats the password: %q", tc.url, err)
		}
	}
}

// TestKeySlotIsClusterKeyslot holds the slot function of the per-node
// health to Redis's own, hash tags and their odd cases included.
func TestKeySlotIsClusterKeyslot(t *testing.T) {
	c := clusterClient(t, testenv.RedisCluster(t))
	ctx := context.Background()
	var ids []string
	for range 20 {
		ids = append(ids, keyhold.NewID())
	}
	names := []string{verify.SecretsKey, "keyhold:invalidate", "", "{}", "{}x", "x{}{y}", "a{b}c", "{a}{b}", "{", "}", "x{y", "123456789"}
	// (An id starting with "}" would tag nothing, and each of its keys
	// would hash whole, in slots of their own; keyhold's ids never do.)
	for _, id := range append(ids, "a}b") {
		names = append(names, verify.RateKey(id, "k1"))
		if got, want := verify.TagSlot(id), verify.KeySlot(verify.RateKey(id, "k1")); got != want {
			t.Errorf("account id %q: slot %d, its key's rate key's %d", id, got, want)
		}
	}
	for _, n := range names {
		want, err := c.ClusterKeySlot(ctx, n).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := verify.KeySlot(n); int64(got) != want {
			t.Errorf("slot of %q: %d, CLUSTER KEYSLOT says %d", n, got, want)
		}
	}
}

// scriptKeys records the keys of every script keyhold runs (EVAL, EVALSHA
// and their _RO forms), and of every other command, alone or pipelined.
type scriptKeys struct {
	mu      sync.Mutex
	scripts [][]string
	other   []string
}

func (h *scriptKeys) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptKeys) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}
func (h *scriptKeys) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.record(cmd)
		}
		return next(ctx, cmds)
	}
}

func (h *scriptKeys) record(cmd redis.Cmder) {
	args := cmd.Args()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		n, _ := strconv.Atoi(fmt.Sprint(args[2]))
		var ks []string
		for _, k := range args[3 : 3+n] {
			ks = append(ks, fmt.Sprint(k))
		}
		h.scripts = append(h.scripts, ks)
	case "mget":
		// (A key's and its account's change counters: one slot too.)
		var ks []string
		for _, k := range args[1:] {
			ks = append(ks, fmt.Sprint(k))
		}
		h.scripts = append(h.scripts, ks)
	default:
		h.other = append(h.other, strings.ToLower(cmd.Name()))
	}
}

// TestClusterScriptKeysShareASlot: every script keyhold runs on a cluster
// (the limiter's in its modes, the announcement of a secret), and every
// MGET, has all its keys in one slot, as CLUSTER KEYSLOT says; the other
// commands are of one key each, or none.
func TestClusterScriptKeysShareASlot(t *testing.T) {
	url := testenv.RedisCluster(t)
	f, a, b := twoInstances(t, url)
	h := &scriptKeys{}
	c := f.instanceHooked(url, h) // a third instance, whose commands h sees
	k, key := f.MustKey(keys.Settings{})
	pool := f.MustAccount()
	f.setPlanOf(pool, "pooled")
	_, pooled := f.MustKeyIn(pool, keys.Settings{})
	for _, in := range []*instance{a, b, c} {
		for _, key := range []string{key, pooled} {
			if res := in.verify(key, 1); res.Code != verify.Valid {
				t.Fatalf("verify: %s", res.Code)
			}
		}
	}
	c.bc.KeyChanged(context.Background(), k.AccountID, k.ID)
	c.bc.AccountChanged(context.Background(), f.account, []string{k.ID, "other-key"})
	if res := c.verify(key, 1); res.Code != verify.Valid {
		t.Fatalf("verify after the changes: %s", res.Code)
	}
	// A secret announced through the hooked instance's invalidator.
	if err := c.inv.Announce(context.Background(), verify.Change{Kind: verify.SecretAdded}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.scripts) < 3 {
		t.Fatalf("%d scripts seen, want the limiter's calls and the announcement", len(h.scripts))
	}
	cc := clusterClient(t, url)
	for _, ks := range h.scripts {
		var slots []int64
		for _, k := range ks {
			s, err := cc.ClusterKeySlot(context.Background(), k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots = append(slots, s)
		}
		slices.Sort(slots)
		if len(slices.Compact(slots)) != 1 {
			t.Errorf("a script's keys %q are in slots %v, want one", ks, slots)
		}
	}
	for _, name := range h.other {
		switch name {
		case "get", "incr", "hmget", "hsetnx", "publish", "ping", "exists", "cluster", "command", "hello", "client":
		default:
			t.Errorf("command %s: not known to take at most one key", name)
		}
	}
	if a.redis.FallbackCalls()+b.redis.FallbackCalls()+c.redis.FallbackCalls() != 0 || a.redis.Degraded() || c.redis.Degraded() {
		t.Error("a call fell back on a healthy cluster")
	}
}

// instanceHooked is instance with h on its Redis client.
func (f *fixture) instanceHooked(redisURL string, h redis.Hook) *instance {
	f.t.Helper()
	conn := mustRedis(f.t, redisURL)
	conn.AddHook(h)
	rl, err := verify.NewRedisLimits(conn, f.db)
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

// masterOf returns which of r's masters serves an account's keys.
func masterOf(tb testing.TB, r *testenv.RedisClusterServer, cc *redis.ClusterClient, accountID string) int {
	tb.Helper()
	slot := verify.TagSlot(accountID)
	//lint:ignore SA1019 what keyhold asks (redis_conn.go)
	ranges, err := cc.ClusterSlots(context.Background()).Result() //nolint:staticcheck // see lint:ignore above
	if err != nil {
		tb.Fatal(err)
	}
	for _, rg := range ranges {
		if rg.Start <= slot && slot <= rg.End {
			for i := range testenv.ClusterMasters {
				if rg.Nodes[0].Addr == r.Addr(i) {
					return i
				}
			}
		}
	}
	tb.Fatalf("no master serves slot %d", slot)
	return -1
}

// TestClusterMasterKilledMidTraffic: two instances verify a key whose
// slot is on one master while that master is killed and started again
// (back empty: no persistence). Its key falls back to local counting and
// back; a key on another master stays shared all along (its quota exact
// across the instances during the outage); afterwards Redis's count and
// the database's usage of the first key are exactly the calls granted.
func TestClusterMasterKilledMidTraffic(t *testing.T) {
	r := testenv.PrivateRedisCluster(t)
	f, a, b := twoInstances(t, r.URL())
	f.setPlan("roomy")
	cc := clusterClient(t, r.URL())
	const victim = 1
	const liveQuota = 50
	var deadID, deadKey, liveID, liveKey string
	for deadKey == "" || liveKey == "" {
		// A key's Redis keys are in its account's slot: one account on
		// the victim, one elsewhere.
		acct := f.MustAccount()
		f.setPlanOf(acct, "roomy")
		onVictim := masterOf(t, r, cc, acct) == victim
		switch {
		case onVictim && deadKey == "":
			k, s := f.MustKeyIn(acct, keys.Settings{})
			deadID, deadKey = k.ID, s
		case !onVictim && liveKey == "":
			q := int64(liveQuota)
			k, s := f.MustKeyIn(acct, keys.Settings{Limits: &keys.Limits{Quota: &q}})
			liveID, liveKey = k.ID, s
		}
	}

	var granted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		in := []*instance{a, b}[i%2]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch res := in.verify(deadKey, 1); res.Code {
				case verify.Valid:
					granted.Add(1)
				default:
					t.Errorf("the killed master's key: %s", res.Code)
					return
				}
				time.Sleep(time.Millisecond) // traffic, not a busy loop
			}
		})
	}
	stopTraffic := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopTraffic()
	waitFor(t, "shared traffic", func() bool { return granted.Load() >= 100 })
	if err := a.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	r.Kill(victim)
	waitFor(t, "both instances falling back for the killed master's keys", func() bool { return a.redis.Degraded() && b.redis.Degraded() })
	before := granted.Load()
	waitFor(t, "traffic during the outage", func() bool { return granted.Load() >= before+100 })

	// The other master's key is still counted in Redis, by both: exactly
	// its quota is granted over 110 concurrent calls.
	fallbackA, fallbackB := a.redis.FallbackCalls(), b.redis.FallbackCalls()
	var valid, exceeded atomic.Int64
	var burst sync.WaitGroup
	start := make(chan struct{})
	for i := range liveQuota + 60 {
		in := []*instance{a, b}[i%2]
		burst.Go(func() {
			<-start
			switch res := in.verify(liveKey, 1); res.Code {
			case verify.Valid:
				valid.Add(1)
			case verify.QuotaExceeded:
				exceeded.Add(1)
			default:
				t.Errorf("the live master's key during the outage: %s", res.Code)
			}
		})
	}
	close(start)
	burst.Wait()
	if valid.Load() != liveQuota || exceeded.Load() != 60 {
		t.Errorf("key %s on a live master during the outage: %d valid, %d exceeded over two instances; want %d and 60",
			liveID, valid.Load(), exceeded.Load(), liveQuota)
	}
	// The killed master's key is counted alone meanwhile (its calls go on).
	waitFor(t, "fallback calls on both", func() bool {
		return a.redis.FallbackCalls() > fallbackA && b.redis.FallbackCalls() > fallbackB
	})
	// Flushes go on during the outage.
	for _, in := range []*instance{a, b} {
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	r.Start(victim)
	waitFor(t, "shared counting back on both", func() bool { return !a.redis.Degraded() && !b.redis.Degraded() })
	before = granted.Load()
	waitFor(t, "traffic after the return", func() bool { return granted.Load() >= before+50 })
	stopTraffic()

	// Every call counted once: one more call on each instance sees exactly
	// the calls granted so far, plus itself.
	fallbackA, fallbackB = a.redis.FallbackCalls(), b.redis.FallbackCalls()
	for _, in := range []*instance{a, b} {
		res := in.verify(deadKey, 1)
		if res.Code != verify.Valid {
			t.Fatalf("after the return: %s", res.Code)
		}
		if n := granted.Add(1); res.Decision.QuotaUsed != n {
			t.Errorf("after the return Redis counts %d used of key %s, want the %d calls granted", res.Decision.QuotaUsed, deadID, n)
		}
	}
	if a.redis.FallbackCalls() != fallbackA || b.redis.FallbackCalls() != fallbackB {
		t.Error("calls still counted locally after the return")
	}
	for _, in := range []*instance{a, b} {
		if res := in.verify(liveKey, 1); res.Code != verify.QuotaExceeded {
			t.Errorf("the live master's key after the outage: %s, want QUOTA_EXCEEDED", res.Code)
		}
		if err := in.v.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	used, err := f.db.DB.QuotaUsed(context.Background(), deadID, quota.WindowAt(f.Now(), quota.Window{}).Start)
	if err != nil {
		t.Fatal(err)
	}
	if used != granted.Load() {
		t.Errorf("the database counts %d used, want the %d calls granted", used, granted.Load())
	}
	if a.redis.Outages() != 1 || b.redis.Outages() != 1 {
		t.Errorf("outages %d and %d, want one each", a.redis.Outages(), b.redis.Outages())
	}
}

// TestClusterPingNamesTheMasterAway: /readyz's Ping needs every master; a
// master away is named.
func TestClusterPingNamesTheMasterAway(t *testing.T) {
	r := testenv.PrivateRedisCluster(t)
	conn := mustRedis(t, r.URL())
	ctx := context.Background()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping of a healthy cluster: %v", err)
	}
	r.Kill(2)
	if err := conn.Ping(ctx); err == nil || !strings.Contains(err.Error(), r.Addr(2)) {
		t.Errorf("ping with master %s killed: %v, want an error naming it", r.Addr(2), err)
	}
	r.Start(2)
	waitFor(t, "ping after the return", func() bool { return conn.Ping(ctx) == nil })
}

// TestClusterChangesArriveWithAMasterAway: an instance hears changes on
// every master, so with one master killed a change published by another
// instance (on whichever node answers) still drops its cache entry.
func TestClusterChangesArriveWithAMasterAway(t *testing.T) {
	r := testenv.PrivateRedisCluster(t)
	f, a, b := twoInstances(t, r.URL())
	cc := clusterClient(t, r.URL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.bc.Listen(ctx)
	const victim = 0
	var live []*keys.Key
	var secrets []string
	for len(live) < 7 {
		acct := f.MustAccount()
		if masterOf(t, r, cc, acct) != victim {
			k, s := f.MustKeyIn(acct, keys.Settings{})
			live, secrets = append(live, k), append(secrets, s)
		}
	}
	// The first change proves B subscribed: announce it until it lands.
	if res := b.verify(secrets[0], 1); res.Code != verify.Valid {
		t.Fatal(res.Code)
	}
	waitFor(t, "B subscribed", func() bool {
		a.bc.KeyChanged(context.Background(), live[0].AccountID, live[0].ID)
		time.Sleep(10 * time.Millisecond)
		return !b.v.HoldsKey(live[0].ID)
	})
	r.Kill(victim)
	for i, k := range live[1:] {
		// Each change is heard once per master: a load that meets one of
		// the copies is answered but not cached (the cache refuses an entry
		// read while a change was applied), so B may need a second call.
		waitFor(t, "B caching the key", func() bool {
			if res := b.verify(secrets[i+1], 1); res.Code != verify.Valid {
				t.Fatalf("B, key %d: %s", i+1, res.Code)
			}
			return b.v.HoldsKey(k.ID)
		})
		a.bc.KeyChanged(context.Background(), k.AccountID, k.ID)
		waitFor(t, "B dropping the changed key", func() bool { return !b.v.HoldsKey(k.ID) })
	}
}
