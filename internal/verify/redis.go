package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript checks the key's generation, then takes cost from its GCRA
// rate limit and its quota window, atomically: one round trip per
// verification. All keys of a key share the hash tag {keyID}, so the script
// runs on one Redis Cluster slot. Times are microseconds (Lua numbers are
// doubles: exact to 2^53).
//
// KEYS: 1 rate (tat), 2 quota window (used), 3 generation.
// ARGV: 1 now, 2 interval, 3 tolerance, 4 cost, 5 quota, 6 window TTL (s),
// 7 floor: the window's count in the database (every instance's flushed
// usage), or -1 when not read, 8 take (0: peek), 9 generation expected.
// The window's count is raised to the floor when below it: after an outage
// the database holds what instances counted alone, and taking the larger
// count never counts a call twice.
// Returns {code, tat, used, generation}: code 0 ok, 1 rate limited, 2 quota
// exceeded, 3 stale (the key changed since it was cached; nothing taken),
// 4 the window is missing (new, or Redis lost it): send the floor.
var takeScript = redis.NewScript(`
local gen = tonumber(redis.call('GET', KEYS[3]) or '0')
if gen ~= tonumber(ARGV[9]) then return {3, 0, 0, gen} end
local now, interval, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, quota, floor = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local used = tonumber(redis.call('GET', KEYS[2]) or '-1')
if used < 0 then
  if floor < 0 then return {4, 0, 0, gen} end
  used = floor
  redis.call('SET', KEYS[2], used, 'EX', ARGV[6])
elseif floor > used then
  used = floor
  redis.call('SET', KEYS[2], used, 'KEEPTTL')
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[8] == '0' then return {0, tat, used, gen} end
local nexttat = tat + interval * cost
if nexttat - now > tol then return {1, tat, used, gen} end
if used + cost > quota then return {2, tat, used, gen} end
if cost > 0 then
  redis.call('SET', KEYS[1], nexttat, 'PX', math.floor((nexttat - now) / 1000) + 1000)
  used = redis.call('INCRBY', KEYS[2], cost)
end
return {0, nexttat, used, gen}
`)

// RedisLimits counts rate limits and quotas in Redis, shared by every
// instance, with one script call per verification. When Redis cannot be
// reached it falls back to counting in this process (MemoryLimits, from the
// last counts Redis gave), logs the outage once, and returns to shared
// counting when Redis answers again, raising each window to the database's
// count, which by then holds what every instance counted alone.
type RedisLimits struct {
	rdb      *redis.Client
	seed     func(ctx context.Context, keyID string, windowStart time.Time) (int64, error)
	log      *slog.Logger
	local    MemoryLimits
	down     atomic.Bool
	probing  atomic.Bool
	outages  atomic.Int64
	epoch    atomic.Int64 // recoveries so far: a state synced in an older epoch re-reads the floor
	fallback atomic.Int64 // verifications counted locally
}

// NewRedisLimits connects to url (redis:// or rediss://) with short
// timeouts: a slow Redis must not slow verification down. seed returns the
// quota a key used in a window as the database knows it (every instance's
// flushed usage); it re-seeds a window Redis lost.
func NewRedisLimits(url string, seed func(ctx context.Context, keyID string, windowStart time.Time) (int64, error), log *slog.Logger) (*RedisLimits, error) {
	if seed == nil {
		return nil, errors.New("verify: redis limits need a seed")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("verify: redis url: %w", err)
	}
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	opt.MaxRetries = 0 // we fall back instead
	opt.DialerRetries = 1
	opt.DialerRetryTimeout = 10 * time.Millisecond
	opt.PoolSize = 128
	opt.MinIdleConns = 8
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// go-redis prints pool errors to stderr; we report outages ourselves.
	redis.SetLogger(redisLogger{log})
	return &RedisLimits{rdb: redis.NewClient(opt), seed: seed, log: log}, nil
}

// redisLogger sends go-redis's own messages to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Client returns the Redis client, for the invalidation broadcast.
func (r *RedisLimits) Client() *redis.Client { return r.rdb }

// Close closes the connections.
func (r *RedisLimits) Close() error { return r.rdb.Close() }

// Degraded reports whether Redis is unreachable and counting is local.
func (r *RedisLimits) Degraded() bool { return r.down.Load() }

// Outages returns how many times Redis became unreachable.
func (r *RedisLimits) Outages() int64 { return r.outages.Load() }

// FallbackCalls returns how many calls were counted locally.
func (r *RedisLimits) FallbackCalls() int64 { return r.fallback.Load() }

// Ping checks Redis answers, for /readyz.
func (r *RedisLimits) Ping(ctx context.Context) error { return r.rdb.Ping(ctx).Err() }

func rateKey(id string) string { return "kh:{" + id + "}:rl" }
func genKey(id string) string  { return "kh:{" + id + "}:gen" }
func quotaKey(id string, w Window) string {
	return "kh:{" + id + "}:q:" + strconv.FormatInt(w.Start.Unix(), 10)
}

// Take implements Limits.
func (r *RedisLimits) Take(ctx context.Context, e *Entry, cost int64, now time.Time) (Decision, error) {
	return r.run(ctx, e, cost, now, true)
}

// Peek implements Limits.
func (r *RedisLimits) Peek(ctx context.Context, e *Entry, now time.Time) (Decision, error) {
	return r.run(ctx, e, 0, now, false)
}

func (r *RedisLimits) run(ctx context.Context, e *Entry, cost int64, now time.Time, take bool) (Decision, error) {
	st := e.state
	if r.down.Load() {
		return r.locally(ctx, e, cost, now, take)
	}
	w := st.windowFor(e, now)
	intervalUs := max(1, int64(time.Second/time.Microsecond)/max(1, e.Rate))
	tolUs := intervalUs * e.Burst
	nowUs := now.UnixMicro()
	takeArg := "1"
	if !take {
		takeArg = "0"
	}
	keys := []string{rateKey(e.KeyID), quotaKey(e.KeyID, w), genKey(e.KeyID)}
	ttl := int64(w.End.Sub(now)/time.Second) + 86400
	floor := int64(-1)
	epoch := r.epoch.Load()
	var res []int64
	var err, seedErr error
	for range 2 {
		if floor < 0 && st.synced.Load() != epoch {
			// Redis came back since this key last synced: what instances
			// counted alone meanwhile is in the database.
			if floor, seedErr = r.seed(ctx, e.KeyID, w.Start); seedErr != nil {
				break
			}
		}
		res, err = takeScript.Run(ctx, r.rdb, keys, nowUs, intervalUs, tolUs, cost, e.Quota, ttl, floor, takeArg, e.gen).Int64Slice()
		if err != nil || res[0] != 4 {
			break
		}
		// The window is missing (new, or Redis lost it): seed it from
		// the database.
		if floor, seedErr = r.seed(ctx, e.KeyID, w.Start); seedErr != nil {
			break
		}
	}
	if seedErr != nil || (err == nil && res[0] == 4) {
		// The database cannot say what the window holds: count locally
		// for this call, without calling Redis down.
		return r.locally(ctx, e, cost, now, take)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Decision{}, err
		}
		r.wentDown(err)
		return r.locally(ctx, e, cost, now, take)
	}
	st.synced.Store(epoch)
	code, tat, used := res[0], res[1], res[2]
	d := Decision{RateLimit: e.Burst, QuotaLimit: e.Quota, QuotaReset: w.End, QuotaUsed: used}
	if code == 3 {
		d.Stale = true
		return d, nil
	}
	// Keep the local state close to the shared one, for a fallback.
	st.used.Store(used)
	st.tat.Store(tat * int64(time.Microsecond))
	d.RateReset = time.UnixMicro(tat)
	d.RateRemaining = max(0, (tolUs-(tat-nowUs))/intervalUs)
	switch code {
	case 1:
		d.RateLimited = true
		d.RetryAfter = time.Duration(tat+intervalUs*cost-nowUs-tolUs) * time.Microsecond
	case 2:
		d.QuotaExceeded = true
		d.RetryAfter = max(time.Second, w.End.Sub(now))
	}
	return d, nil
}

// locally counts in this process while Redis is away, remembering what it
// took so it can be added to Redis's count when it is back.
func (r *RedisLimits) locally(ctx context.Context, e *Entry, cost int64, now time.Time, take bool) (Decision, error) {
	if !take {
		return r.local.Peek(ctx, e, now)
	}
	r.fallback.Add(1)
	return r.local.Take(ctx, e, cost, now)
}

// wentDown switches to local counting and starts probing Redis.
func (r *RedisLimits) wentDown(err error) {
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

// probe pings Redis until it answers, then returns to shared counting.
func (r *RedisLimits) probe() {
	defer r.probing.Store(false)
	for {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			r.epoch.Add(1)
			r.down.Store(false)
			r.log.Info("redis is back: shared counting resumes")
			return
		}
	}
}

// Generation implements Limits: the key's change counter in Redis, read
// before the key is read from the database.
func (r *RedisLimits) Generation(ctx context.Context, keyID string) int64 {
	if r.down.Load() {
		return 0
	}
	g, err := r.rdb.Get(ctx, genKey(keyID)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		r.wentDown(err)
		return 0
	}
	return g
}

// Changed marks keys changed in Redis (before the change is announced), so
// every instance's next verification of them reads them again.
func (r *RedisLimits) Changed(ctx context.Context, keyIDs ...string) error {
	if len(keyIDs) == 0 {
		return nil
	}
	pipe := r.rdb.Pipeline()
	for _, id := range keyIDs {
		pipe.Incr(ctx, genKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.wentDown(err)
		return fmt.Errorf("verify: mark keys changed: %w", err)
	}
	return nil
}

var _ Limits = (*RedisLimits)(nil)
