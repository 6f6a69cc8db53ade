package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// eachScaleRedis runs test, in parallel, on a Redis of its own and on the
// binary's Redis Cluster (three masters; KEYHOLD_REDIS_URL in its cluster
// form, redis://N1?addr=N2&addr=N3).
func eachScaleRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedis(t).URL())
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.RedisCluster(t))
	})
}

// eachPrivateRedis is eachScaleRedis with a cluster of the test's own,
// for a test that counts what it alone does: a shared cluster carries
// other tests' secret announcements (the counter in kh:secrets), and a
// random key verified between another test's announcement and its
// arrival is read from the database.
func eachPrivateRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedis(t).URL())
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedisCluster(t).URL())
	})
}

// masterOfAccount returns the address of the cluster master serving the
// keys of an account's keys (kh:{account id}:…), as the cluster says.
func masterOfAccount(tb testing.TB, cc *redis.ClusterClient, id string) string {
	tb.Helper()
	ctx := context.Background()
	slot, err := cc.ClusterKeySlot(ctx, "kh:{"+id+"}:rl:k").Result()
	if err != nil {
		tb.Fatal(err)
	}
	//lint:ignore SA1019 what keyhold asks (verify/redis_conn.go)
	ranges, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // see lint:ignore above
	if err != nil {
		tb.Fatal(err)
	}
	for _, rg := range ranges {
		if int64(rg.Start) <= slot && slot <= int64(rg.End) {
			return rg.Nodes[0].Addr
		}
	}
	tb.Fatalf("no master serves slot %d", slot)
	return ""
}

// TestScaleOutClusterMasterKilled runs two instances on a three-master
// Redis Cluster and kills the master of one key: that key keeps answering,
// counted in each instance; a key on another master stays shared (its
// quota exact over concurrent calls on both); /metrics and /readyz say a
// part of Redis is away; and once the master is back the first key's
// count is shared again and holds every call granted, the ones counted
// alone included.
func TestScaleOutClusterMasterKilled(t *testing.T) {
	t.Parallel()
	const quota = 60
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedisCluster(t)
	opt, err := redis.ParseClusterURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(opt)
	defer cc.Close()
	a, b := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))
	apps := []*app{a, b}

	// Two keys on different masters (of two accounts: an account's keys
	// share its slot): the first one's master is killed.
	var dead, live string
	var deadMaster string
	for n := 0; live == ""; n++ {
		c := a.Client(t)
		c.MustSignup(fmt.Sprintf("cluster-%d@example.com", n))
		s := c.MustCreateKey("k", "read")
		ans := mustVerify(t, a, s)
		wantCode(t, "a new key", ans, http.StatusOK, "VALID")
		switch m := masterOfAccount(t, cc, ans.OwnerID); {
		case dead == "":
			dead, deadMaster = s, m
		case m != deadMaster:
			live = s
		}
	}
	victim := -1
	for i := range testenv.ClusterMasters {
		if r.Addr(i) == deadMaster {
			victim = i
		}
	}
	// Both instances have used each key once: 2 of the quota.
	wantCode(t, "the first key on B", mustVerify(t, b, dead), http.StatusOK, "VALID")
	wantCode(t, "the second key on B", mustVerify(t, b, live), http.StatusOK, "VALID")
	granted := 2
	waitFallback(t, 0, 5*time.Second, apps...)

	r.Kill(victim)
	// Each instance finds the master gone on its next call of the key on
	// it, and counts that key alone; every answer is a verification.
	for i, x := range apps {
		eventually(t, 10*time.Second, fmt.Sprintf("instance %d counting the killed master's key alone", i+1), func() (bool, string) {
			wantCode(t, "the killed master's key", mustVerify(t, x, dead), http.StatusOK, "VALID")
			granted++
			v, err := metric(x, "keyhold_redis_fallback")
			return err == nil && v == 1, fmt.Sprint(v, err)
		})
		status, body, err := readiness(x)
		if err != nil || status != http.StatusOK || body["redis"] != "down" || body["database"] != "ok" {
			t.Errorf("instance %d /readyz with a master away = %d %v (%v), want 200 with \"redis\":\"down\"", i+1, status, body, err)
		}
	}

	// The live master's key: quota-2 left (a call on each instance), and
	// 60 more concurrent calls than that over both: exactly quota-2 VALID.
	const extra = 60
	const left = quota - 2
	codes := make(chan string, left+extra)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range left + extra {
		x := apps[i%2]
		wg.Go(func() {
			<-start
			ans, err := tryVerify(x.URL, live)
			if err != nil {
				codes <- err.Error()
				return
			}
			codes <- ans.Code
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	got := map[string]int{}
	for c := range codes {
		got[c]++
	}
	if got["VALID"] != left || got["QUOTA_EXCEEDED"] != extra {
		t.Errorf("%d concurrent calls of a key on a live master with %d of its quota left gave %v, want exactly %d VALID and %d QUOTA_EXCEEDED",
			left+extra, left, got, left, extra)
	}

	r.Start(victim)
	waitFallback(t, 0, 10*time.Second, apps...)
	for i, x := range apps {
		status, body, err := readiness(x)
		if err != nil || status != http.StatusOK || body["redis"] != "ok" {
			t.Errorf("instance %d /readyz after the return = %d %v (%v), want 200 with \"redis\":\"ok\"", i+1, status, body, err)
		}
	}
	// Shared again, with the calls counted alone in: each call on either
	// instance takes one from what is left of quota - granted.
	for i := range 4 {
		x := apps[i%2]
		ans := mustVerify(t, x, dead)
		wantCode(t, fmt.Sprintf("call %d after the return", i+1), ans, http.StatusOK, "VALID")
		granted++
		if ans.Quota.Remaining != int64(quota-granted) {
			t.Errorf("call %d after the return (instance %d): %d left, want %d: not every call is in the shared count once",
				i+1, i%2+1, ans.Quota.Remaining, quota-granted)
		}
	}
}
