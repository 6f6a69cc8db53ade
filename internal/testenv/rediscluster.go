package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ClusterMasters is how many masters a test Redis Cluster has.
const ClusterMasters = 3

var redisClusterOnce once[string]

// RedisCluster returns the URL of the Redis Cluster of this test binary,
// in the form KEYHOLD_REDIS_URL takes for a cluster
// (redis://127.0.0.1:P1?addr=127.0.0.1:P2&addr=127.0.0.1:P3): three
// masters without replicas, joined by redis-cli --cluster create, started
// on first use and stopped by Main.
//
// Like Redis's, the cluster is shared by every test of the binary: use key
// prefixes of your own and never FLUSHALL. A test that stops nodes uses
// PrivateRedisCluster.
func RedisCluster(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	u, err := redisClusterOnce.get(func() (string, error) {
		root, err := rootDir()
		if err != nil {
			return "", err
		}
		c, err := startCluster(filepath.Join(root, "redis-cluster"))
		if err != nil {
			return "", err
		}
		for _, n := range c.nodes {
			onStop(func() { n.stop() })
		}
		return c.URL(), nil
	})
	if err != nil {
		fail(tb, err)
	}
	return u
}

// RedisClusterServer is a Redis Cluster of one test's own, whose masters
// the test may kill and start again: a master started again has its port
// and its nodes.conf, so it rejoins the cluster with the slots it had, and
// without their data (no persistence), as after a crash.
//
// The masters keep serving while one is away: the nodes run with
// cluster-require-full-coverage no (with the default, yes, every node
// refuses every key once one master has failed) and a node timeout of a
// second.
type RedisClusterServer struct {
	tb    testing.TB
	nodes []*clusterNode
}

// PrivateRedisCluster starts a Redis Cluster for tb alone, stopped in
// Cleanup.
func PrivateRedisCluster(tb testing.TB) *RedisClusterServer {
	tb.Helper()
	requireMain(tb)
	c, err := startCluster(tb.TempDir())
	if c != nil {
		tb.Cleanup(func() {
			for _, n := range c.nodes {
				n.stop()
			}
		})
	}
	if err != nil {
		fail(tb, err)
	}
	c.tb = tb
	return c
}

// URL returns the cluster's URL (see RedisCluster).
func (c *RedisClusterServer) URL() string {
	u := "redis://" + c.nodes[0].addr()
	for i, n := range c.nodes[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + n.addr()
	}
	return u
}

// Addr returns master i's address (127.0.0.1:PORT), i in [0, ClusterMasters).
func (c *RedisClusterServer) Addr(i int) string { return c.nodes[i].addr() }

// Kill kills master i (SIGKILL): its slots are served by no one until it
// is started again.
func (c *RedisClusterServer) Kill(i int) {
	c.tb.Helper()
	c.nodes[i].stop()
}

// Start starts master i again, on its port and with its nodes.conf, and
// waits until it serves its slots (cluster_state:ok on it and on every
// other running master).
func (c *RedisClusterServer) Start(i int) {
	c.tb.Helper()
	if err := c.nodes[i].start(); err != nil {
		c.tb.Fatalf("redis cluster: %v", err)
	}
	if err := c.waitOK(); err != nil {
		c.tb.Fatalf("redis cluster: %v", err)
	}
}

// clusterNode is one redis-server of a cluster.
type clusterNode struct {
	bin, cli string
	dir      string
	port     int
	bus      int // the cluster bus port (--cluster-port)
	p        *proc
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// startCluster starts ClusterMasters nodes in directories under dir and
// joins them. On an error it returns the cluster so far, for its caller
// to stop.
func startCluster(dir string) (*RedisClusterServer, error) {
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	cli := lookFor("redis-cli", "/usr/bin/redis-cli", "/usr/local/bin/redis-cli")
	if cli == "" {
		return nil, notInstalled("redis-cli", "apt-get install redis-tools (Debian)")
	}
	c := &RedisClusterServer{}
	for i := range ClusterMasters {
		n := &clusterNode{bin: bin, cli: cli, dir: filepath.Join(dir, "node"+strconv.Itoa(i+1))}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return c, fmt.Errorf("redis cluster: %w", err)
		}
		// The ports may be taken between freePort and the server's bind
		// (other test binaries run too): the first start tries others.
		for attempt := 1; ; attempt++ {
			if n.port, err = freePort(); err != nil {
				return c, err
			}
			if n.bus, err = freePort(); err != nil {
				return c, err
			}
			err = n.start()
			if err == nil {
				break
			}
			if !errors.Is(err, errPortInUse) || attempt == 3 {
				return c, fmt.Errorf("redis cluster: %w", err)
			}
		}
		c.nodes = append(c.nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis cluster: redis-cli --cluster create: %w: %s", err, strings.TrimSpace(string(out)))
	}
	err = c.waitOK()
	return c, err
}

// waitOK waits until every running node says cluster_state:ok and knows
// every other.
func (c *RedisClusterServer) waitOK() error {
	deadline := time.Now().Add(startTimeout)
	for {
		var last error
		for _, n := range c.nodes {
			if n.p == nil {
				continue
			}
			info, err := n.cli1("cluster", "info")
			switch {
			case err != nil:
				last = err
			case !strings.Contains(info, "cluster_state:ok"):
				last = fmt.Errorf("%s: cluster_state is not ok:\n%s", n.addr(), info)
			case !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(ClusterMasters)):
				last = fmt.Errorf("%s does not know every node yet:\n%s", n.addr(), info)
			}
			if last != nil {
				break
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis cluster not ready after %v: %v", startTimeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cli1 runs one redis-cli command against n.
func (n *clusterNode) cli1(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.cli, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port)}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// start starts the node (again) and waits until it answers PING.
func (n *clusterNode) start() error {
	if n.p != nil {
		return nil
	}
	p, err := startRedisProc(context.Background(), n.bin, n.dir, n.port, nil,
		"--cluster-port", strconv.Itoa(n.bus),
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(n.dir, "nodes.conf"),
		"--cluster-node-timeout", "1000",
		"--cluster-require-full-coverage", "no",
	)
	if err != nil {
		return err
	}
	n.p = p
	return nil
}

// stop kills the node, if it runs.
func (n *clusterNode) stop() {
	if n.p == nil {
		return
	}
	n.p.stop(syscall.SIGKILL)
	n.p = nil
}
