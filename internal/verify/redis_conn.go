package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is one connection to Redis, a single server or a Redis Cluster,
// with its health, shared by the limiter (RedisLimits) and the invalidator
// (RedisInvalidator) so that both see one outage: whichever finds Redis
// unreachable first switches both to their fallbacks, and one probe
// watches for its return. Neither hands its client to anyone else.
//
// Health is kept per part: a single Redis is one part, a cluster has one
// per hash slot. An outage takes down the part of the key that failed and,
// in a cluster, every slot of the master serving it (CLUSTER SLOTS, asked
// of the masters that answer): the keys of those slots are counted in this
// process while the other masters' keys stay shared, and each outage has
// its own probe and its own return.
type Redis struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // nil: a single Redis
	log     *slog.Logger

	parts     []part       // one for a single Redis, clusterSlots for a cluster
	downParts atomic.Int64 // parts down now
	epochs    atomic.Int64 // the last recovery epoch handed to a part
	outages   atomic.Int64
	recovery  atomic.Int64 // recoveries so far, of any part

	outMu sync.Mutex // one cluster outage is worked out at a time

	backMu sync.Mutex
	onBack []func() // called, in order, each time a part answers again
}

// part is the health of what fails alone: the whole of a single Redis, or
// one hash slot of a cluster.
type part struct {
	down atomic.Bool
	// recovery is the epoch (Redis.epochs) of the part's last return, 0
	// before any: a key whose state last synced in another epoch counted
	// alone since (keyState.synced). Epochs are unique across parts.
	recovery atomic.Int64
}

// DialRedis connects to url with short timeouts: a slow Redis must not
// slow verification down, and every caller has a fallback instead of
// retries. It does not wait for Redis to answer.
//
// redis://[user:pass@]host:port[/db] (or rediss://) is one Redis. A URL
// with addr parameters, redis://host1:port1?addr=host2:port2&addr=…, is a
// Redis Cluster seeded by every address it names (go-redis's
// ParseClusterURL); cluster=true makes a cluster of a URL with one
// address. The other parameters are go-redis's.
func DialRedis(url string, log *slog.Logger) (*Redis, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	single, cluster, err := parseRedisURL(url)
	if err != nil {
		return nil, err
	}
	if cluster != nil {
		opt := cluster
		opt.DialTimeout = 250 * time.Millisecond
		opt.ReadTimeout = 250 * time.Millisecond
		opt.WriteTimeout = 250 * time.Millisecond
		// No second try of any kind (-1: none; go-redis reads 0 as 3). In
		// a cluster the redirect budget is also the retry budget of a
		// network error or a timeout, and a script call retried after a
		// timeout may have run already: the count would be one too many
		// with no error to put it right (single Redis: MaxRetries below).
		// A MOVED after a resharding thus falls back for that one call,
		// and go-redis reloads the slot map for the next.
		opt.MaxRedirects = -1
		opt.MinRetryBackoff = -1
		opt.MaxRetryBackoff = -1
		opt.DialerRetries = 1
		opt.DialerRetryTimeout = 10 * time.Millisecond
		opt.PoolSize = 128 // per node
		opt.MinIdleConns = 8
		c := redis.NewClusterClient(opt)
		return &Redis{rdb: c, cluster: c, log: log, parts: make([]part, clusterSlots)}, nil
	}
	opt := single
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	// No retries (go-redis reads 0 as its default of 3): a script call
	// retried after a timeout may run twice, and the count be one too many
	// with no error to put it right; we fall back instead.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DialerRetryTimeout = 10 * time.Millisecond
	opt.PoolSize = 128
	opt.MinIdleConns = 8
	return &Redis{rdb: redis.NewClient(opt), log: log, parts: make([]part, 1)}, nil
}

// parseRedisURL reads KEYHOLD_REDIS_URL's value: the options of a single
// Redis, or of a cluster when the URL names more than one address or says
// cluster=true. Errors never repeat the URL, which may hold a password.
func parseRedisURL(raw string) (*redis.Options, *redis.ClusterOptions, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, nil, errors.New("verify: redis url: want redis://host:port or rediss://host:port, with ?addr=host:port for each further node of a cluster")
	}
	q := u.Query()
	cluster := q.Has("addr")
	if q.Has("cluster") {
		v := q["cluster"]
		on, err := strconv.ParseBool(v[len(v)-1])
		if err != nil {
			return nil, nil, fmt.Errorf("verify: redis url: cluster=%q: want true or false", v[len(v)-1])
		}
		if !on && cluster {
			return nil, nil, errors.New("verify: redis url: cluster=false with addr parameters: addr names the further nodes of a cluster")
		}
		cluster = on
		// Keyhold's own parameter: go-redis refuses parameters it does
		// not know.
		q.Del("cluster")
		u.RawQuery = q.Encode()
	}
	if cluster {
		for _, a := range q["addr"] {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, nil, fmt.Errorf("verify: redis url: addr=%q: want host:port", a)
			}
		}
		opt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("verify: redis cluster url: %w", err)
		}
		return nil, opt, nil
	}
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("verify: redis url: %w", err)
	}
	return opt, nil, nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.rdb.Close() }

// Cluster reports whether the connection is to a Redis Cluster.
func (r *Redis) Cluster() bool { return r.cluster != nil }

// Ping checks Redis answers, for /readyz: in a cluster, every master.
func (r *Redis) Ping(ctx context.Context) error {
	if r.cluster == nil {
		return r.rdb.Ping(ctx).Err()
	}
	return r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("%s: %w", c.Options().Addr, err)
		}
		return nil
	})
}

// masters returns a client of each master of the cluster, as go-redis
// knows them (it asks the cluster when it knows none).
func (r *Redis) masters(ctx context.Context) ([]*redis.Client, error) {
	var (
		mu sync.Mutex
		cs []*redis.Client
	)
	err := r.cluster.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		cs = append(cs, c)
		mu.Unlock()
		return nil
	})
	return cs, err
}

// Degraded reports whether any part of Redis is unreachable (the limiter
// counts the keys there locally, changes reach this instance late).
func (r *Redis) Degraded() bool { return r.downParts.Load() > 0 }

// Outages returns how many times a part of Redis became unreachable.
func (r *Redis) Outages() int64 { return r.outages.Load() }

// partOf returns the part holding the keys tagged with an account's id
// (kh:{accountID}:…): all of its keys' and its pool's.
func (r *Redis) partOf(accountID string) *part {
	if r.cluster == nil {
		return &r.parts[0]
	}
	return &r.parts[tagSlot(accountID)]
}

// partOfKey returns the part holding a Redis key.
func (r *Redis) partOfKey(key string) *part {
	if r.cluster == nil {
		return &r.parts[0]
	}
	return &r.parts[keySlot(key)]
}

// whenBack registers fn to run each time a part answers after an outage.
func (r *Redis) whenBack(fn func()) {
	r.backMu.Lock()
	r.onBack = append(r.onBack, fn)
	r.backMu.Unlock()
}

// outage is one part of Redis gone: the slots it took down and a key in
// them to probe.
type outage struct {
	parts []*part
	key   string
	node  string // the master's address, for the log; "" for a single Redis
}

// wentDown marks the part holding key unreachable (in a cluster, with
// every slot of its master), logs it once per outage, and starts probing
// for its return.
func (r *Redis) wentDown(err error, key string) {
	if r.cluster == nil {
		p := &r.parts[0]
		if p.down.Swap(true) {
			return
		}
		r.downParts.Add(1)
		r.outages.Add(1)
		r.log.Error("redis unreachable: counting rate limits and quotas in this instance until it is back", "err", err)
		go r.probe(&outage{parts: []*part{p}, key: key})
		return
	}
	if r.partOfKey(key).down.Load() {
		return
	}
	// One outage worked out at a time: the calls failing with this one
	// wait for it rather than each asking the cluster for its slots.
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if r.partOfKey(key).down.Load() {
		return
	}
	slots, node := r.slotsWith(keySlot(key))
	o := &outage{key: key, node: node}
	for _, s := range slots {
		if p := &r.parts[s]; !p.down.Swap(true) {
			o.parts = append(o.parts, p)
		}
	}
	if len(o.parts) == 0 {
		return
	}
	r.downParts.Add(int64(len(o.parts)))
	r.outages.Add(1)
	r.log.Error("redis cluster node unreachable: counting the rate limits and quotas of its keys in this instance until it is back",
		"node", node, "slots", len(o.parts), "err", err)
	go r.probe(o)
}

// slotsWith returns the slots served by the master of slot, and its
// address, as the first master to answer CLUSTER SLOTS says; every slot
// when none answers (the whole cluster is away: each key that works again
// after the probe's return comes back with it, and each that does not
// fails again, with its own master), and slot alone when the answer does
// not cover it.
func (r *Redis) slotsWith(slot int) ([]int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var (
		once   sync.Once
		ranges []redis.ClusterSlot
	)
	_ = r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		//lint:ignore SA1019 CLUSTER SHARDS is Redis 7; keyhold supports 6.2
		rs, err := c.ClusterSlots(ctx).Result() //nolint:staticcheck // see lint:ignore above
		if err == nil {
			once.Do(func() { ranges = rs })
		}
		return nil
	})
	if ranges == nil {
		all := make([]int, clusterSlots)
		for i := range all {
			all[i] = i
		}
		return all, "every node"
	}
	var master redis.ClusterNode
	for _, rg := range ranges {
		if rg.Start <= slot && slot <= rg.End && len(rg.Nodes) > 0 {
			master = rg.Nodes[0]
		}
	}
	if master.ID == "" {
		return []int{slot}, "unknown"
	}
	var slots []int
	for _, rg := range ranges {
		if len(rg.Nodes) > 0 && rg.Nodes[0].ID == master.ID {
			for s := rg.Start; s <= rg.End; s++ {
				slots = append(slots, s)
			}
		}
	}
	return slots, master.Addr
}

// probe asks Redis until it answers for the outage's part, then ends the
// outage: a PING for a single Redis; in a cluster a read of the key that
// failed, routed as every call of its slot is, so that the probe succeeds
// only once the slot is served again (a master back from a restart may
// refuse its slots until it has rejoined).
func (r *Redis) probe(o *outage) {
	for {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		var err error
		if r.cluster == nil {
			err = r.rdb.Ping(ctx).Err()
		} else {
			err = r.cluster.Exists(ctx, o.key).Err()
			if err != nil {
				// A replica may have taken the slots over.
				r.cluster.ReloadState(ctx)
			}
		}
		cancel()
		if err != nil {
			continue
		}
		epoch := r.epochs.Add(1)
		r.recovery.Add(1)
		for _, p := range o.parts {
			p.recovery.Store(epoch)
			p.down.Store(false)
		}
		r.downParts.Add(-int64(len(o.parts)))
		if o.node == "" {
			r.log.Info("redis is back: shared counting resumes")
		} else {
			r.log.Info("redis cluster node is back: shared counting of its keys resumes", "node", o.node, "slots", len(o.parts))
		}
		// The outage is over before the callbacks: should Redis go away
		// again during them, the next outage starts a probe of its own.
		r.backMu.Lock()
		fns := r.onBack
		r.backMu.Unlock()
		for _, fn := range fns {
			fn()
		}
		return
	}
}
