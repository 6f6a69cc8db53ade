package testenv_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/testenv"
)

// clusterOf connects go-redis to the cluster at raw, which must be in
// KEYHOLD_REDIS_URL's cluster form.
func clusterOf(t *testing.T, raw string) *redis.ClusterClient {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || len(u.Query()["addr"]) != testenv.ClusterMasters-1 {
		t.Fatalf("cluster URL %q, want redis://N1?addr=N2&addr=N3", raw)
	}
	opt, err := redis.ParseClusterURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClusterClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	c := clusterOf(t, testenv.RedisCluster(t))
	ctx := context.Background()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_size:3") {
		t.Fatalf("CLUSTER INFO = %q (%v), want a healthy cluster of 3 masters", info, err)
	}
	// Keys land on every master, and read back.
	masters := map[string]bool{}
	for _, k := range []string{"testenv:{a}", "testenv:{b}", "testenv:{c}", "testenv:{d}", "testenv:{e}", "testenv:{f}"} {
		if err := c.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		m, err := c.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Errorf("six keys landed on %d masters, want 3", len(masters))
	}
}

func TestPrivateRedisClusterKillAndStart(t *testing.T) {
	t.Parallel()
	r := testenv.PrivateRedisCluster(t)
	c := clusterOf(t, r.URL())
	ctx := context.Background()
	const key = "testenv:{kill}"
	m, err := c.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i := range testenv.ClusterMasters {
		if r.Addr(i) == m.Options().Addr {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("the key's master %s is none of the cluster's", m.Options().Addr)
	}
	other := (victim + 1) % testenv.ClusterMasters
	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Kill(victim)
	if conn, err := net.DialTimeout("tcp", r.Addr(victim), time.Second); err == nil {
		conn.Close()
		t.Fatalf("master %s still accepts connections after Kill", r.Addr(victim))
	}
	// The other masters serve their slots meanwhile.
	o := redis.NewClient(&redis.Options{Addr: r.Addr(other)})
	defer o.Close()
	if err := o.Ping(ctx).Err(); err != nil {
		t.Errorf("master %s with another killed: %v", r.Addr(other), err)
	}
	r.Start(victim)
	// Back in the cluster with its slots, without its data.
	v := redis.NewClient(&redis.Options{Addr: r.Addr(victim)})
	defer v.Close()
	if n, err := v.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS on the restarted master = %d, %v; want 0 (it serves its slot, empty)", n, err)
	}
	info, err := v.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Errorf("CLUSTER INFO of the restarted master = %q (%v)", info, err)
	}
}
