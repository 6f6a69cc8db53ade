package verify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is one connection pool to Redis with its health, shared by the
// limiter (RedisLimits) and the invalidator (RedisInvalidator) so that
// both see one outage: whichever finds Redis unreachable first switches
// both to their fallbacks, and one probe watches for its return. Neither
// hands its client to anyone else.
type Redis struct {
	rdb      *redis.Client
	log      *slog.Logger
	down     atomic.Bool
	probing  atomic.Bool
	outages  atomic.Int64
	recovery atomic.Int64 // recoveries so far

	backMu sync.Mutex
	onBack []func() // called, in order, each time Redis answers again
}

// DialRedis connects to url (redis:// or rediss://) with short timeouts:
// a slow Redis must not slow verification down, and every caller has a
// fallback instead of retries. It does not wait for Redis to answer.
func DialRedis(url string, log *slog.Logger) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("verify: redis url: %w", err)
	}
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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{rdb: redis.NewClient(opt), log: log}, nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.rdb.Close() }

// Ping checks Redis answers, for /readyz.
func (r *Redis) Ping(ctx context.Context) error { return r.rdb.Ping(ctx).Err() }

// Degraded reports whether Redis is unreachable (the limiter counts
// locally, changes reach this instance late).
func (r *Redis) Degraded() bool { return r.down.Load() }

// Outages returns how many times Redis became unreachable.
func (r *Redis) Outages() int64 { return r.outages.Load() }

// whenBack registers fn to run each time Redis answers after an outage.
func (r *Redis) whenBack(fn func()) {
	r.backMu.Lock()
	r.onBack = append(r.onBack, fn)
	r.backMu.Unlock()
}

// wentDown marks Redis unreachable, logs it once per outage, and starts
// probing for its return.
func (r *Redis) wentDown(err error) {
	if r.down.Swap(true) {
		return
	}
	r.outages.Add(1)
	r.log.Error("redis unreachable: counting rate limits and quotas in this instance until it is back", "err", err)
	if r.probing.Swap(true) {
		return
	}
	go r.probe()
}

// probe pings Redis until it answers, then ends the outage.
func (r *Redis) probe() {
	for {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			r.recovery.Add(1)
			r.down.Store(false)
			r.log.Info("redis is back: shared counting resumes")
			// Probing ends before the callbacks: should Redis go away
			// again during them, the next outage starts a probe of its own.
			r.probing.Store(false)
			r.backMu.Lock()
			fns := r.onBack
			r.backMu.Unlock()
			for _, fn := range fns {
				fn()
			}
			return
		}
	}
}
