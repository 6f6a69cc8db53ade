package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
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
// Beside the window's count, a hash keeps what each instance added to it
// (field: the instance's id). An instance knows what it added as Redis
// confirmed it; the hash also holds what Redis applied for a call whose
// reply never came (a timeout while Redis was stalled). The difference is
// what makes putting an outage's calls back exact.
//
// KEYS: 1 rate (tat), 2 quota window (used), 3 generation, 4 the window's
// units by instance.
// ARGV: 1 now, 2 interval, 3 tolerance, 4 cost, 5 quota, 6 window TTL (s),
// 7 take (0: peek), 8 generation expected, 9 instance id, 10 mode, then,
// for modes 1 and 2: 11 floor (the window's count in the database), 12
// mine (what this instance has added plus owed), 13 owed (granted while
// Redis was unreachable), 14 unflushed (granted and not in the database).
// Mode 0: a call; a missing window is reported (4). Mode 1: the first call
// after an outage; mode 2: a later call that owes units, or the window is
// new. With a mode:
//   - window missing (new, or Redis lost its data): floor + unflushed; the
//     database has everything written, and each instance adds the rest.
//   - no field of this instance (re-seeded by another instance after a loss
//     of data, or this instance never added to it): + unflushed, likewise.
//   - mode 1: + mine − field: what it granted that Redis has not seen,
//     less what Redis applied of calls it never heard back about.
//   - mode 2: + owed.
//
// Returns {code, tat, used, generation}: code 0 ok, 1 rate limited, 2 quota
// exceeded, 3 stale (the key changed since it was cached; nothing taken),
// 4 the window is missing (mode 0): call again with mode 2.
var takeScript = redis.NewScript(`
local gen = tonumber(redis.call('GET', KEYS[3]) or '0')
if gen ~= tonumber(ARGV[8]) then return {3, 0, 0, gen} end
local now, interval, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, quota = tonumber(ARGV[4]), tonumber(ARGV[5])
local used = tonumber(redis.call('GET', KEYS[2]) or '-1')
local mode = ARGV[10]
if mode == '0' then
  if used < 0 then return {4, 0, 0, gen} end
else
  local floor, mine, owed, unflushed = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
  local had = redis.call('HGET', KEYS[4], ARGV[9])
  if used < 0 then
    used = floor + unflushed
    redis.call('SET', KEYS[2], used, 'EX', ARGV[6])
    redis.call('HSET', KEYS[4], ARGV[9], mine)
  elseif not had then
    used = redis.call('INCRBY', KEYS[2], unflushed)
    redis.call('HSET', KEYS[4], ARGV[9], mine)
  elseif mode == '1' then
    local d = mine - tonumber(had)
    used = redis.call('INCRBY', KEYS[2], d)
    redis.call('HINCRBY', KEYS[4], ARGV[9], d)
  else
    used = redis.call('INCRBY', KEYS[2], owed)
    redis.call('HINCRBY', KEYS[4], ARGV[9], owed)
  end
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[7] == '0' then return {0, tat, used, gen} end
local nexttat = tat + interval * cost
if nexttat - now > tol then return {1, tat, used, gen} end
if used + cost > quota then return {2, tat, used, gen} end
if cost > 0 then
  redis.call('SET', KEYS[1], nexttat, 'PX', math.floor((nexttat - now) / 1000) + 1000)
  used = redis.call('INCRBY', KEYS[2], cost)
  if redis.call('HINCRBY', KEYS[4], ARGV[9], cost) == cost then
    redis.call('EXPIRE', KEYS[4], ARGV[6])
  end
end
return {0, nexttat, used, gen}
`)

// RedisLimits counts rate limits and quotas in Redis, shared by every
// instance, with one script call per verification. When Redis cannot be
// reached it falls back to counting in this process (MemoryLimits, from the
// last counts Redis gave), logs the outage once, and returns to shared
// counting when Redis answers again, adding to each window what this
// instance granted alone, once (see takeScript for how a window Redis lost
// and a call Redis applied without answering are accounted).
type RedisLimits struct {
	rdb      *redis.Client
	seed     func(ctx context.Context, keyID string, windowStart time.Time) (int64, error)
	log      *slog.Logger
	id       any // this instance's field in each window's hash of units by instance (a string, boxed once: one allocation less per call)
	local    MemoryLimits
	down     atomic.Bool
	probing  atomic.Bool
	outages  atomic.Int64
	epoch    atomic.Int64 // recoveries so far: a key synced in an older epoch reconciles first
	fallback atomic.Int64 // verifications counted locally

	owingMu sync.Mutex
	owing   map[*keyState]*Entry // keys that counted alone, reconciled when Redis is back
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
	return &RedisLimits{rdb: redis.NewClient(opt), seed: seed, log: log, id: any(randomName()),
		owing: map[*keyState]*Entry{}}, nil
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
func byKey(id string, w Window) string {
	return "kh:{" + id + "}:qi:" + strconv.FormatInt(w.Start.Unix(), 10)
}

// Take implements Limits.
func (r *RedisLimits) Take(ctx context.Context, e *Entry, cost int64, now time.Time) (Decision, error) {
	return r.run(ctx, e, cost, now, true)
}

// Peek implements Limits.
func (r *RedisLimits) Peek(ctx context.Context, e *Entry, now time.Time) (Decision, error) {
	return r.run(ctx, e, 0, now, false)
}

// Script modes (takeScript).
const (
	modeCall      = "0"
	modeRecovered = "1"
	modeOwed      = "2"
)

func (r *RedisLimits) run(ctx context.Context, e *Entry, cost int64, now time.Time, take bool) (Decision, error) {
	st := e.state
	if r.down.Load() {
		return r.locally(ctx, e, cost, now, take)
	}
	w := st.windowFor(e, now)
	epoch := r.epoch.Load()
	if take && (st.synced.Load() != epoch || st.owed.Load() != 0) {
		return r.reconcile(ctx, e, w, cost, now, epoch, false)
	}
	res, err := r.script(ctx, e, w, cost, now, take, modeCall, 0, 0, 0, 0)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Decision{}, err
		}
		r.wentDown(err)
		return r.locally(ctx, e, cost, now, take)
	}
	if res[0] == 4 {
		if !take {
			return r.local.Peek(ctx, e, now)
		}
		// The window is new, or Redis lost it: seed it from the database.
		return r.reconcile(ctx, e, w, cost, now, epoch, false)
	}
	if take && res[0] == 0 && cost > 0 {
		st.granted.Add(cost)
		st.mine.Add(cost)
	}
	return r.decide(e, w, cost, now, res), nil
}

// reconcile runs the script in mode 1 (first call after an outage) or 2
// (owed units, or a window to seed), one at a time per key, so that no
// call of this instance is between Redis and its reply while mine is read.
// sweep: no call is waiting (reconcileOwing), so a failure is returned
// rather than counted locally.
func (r *RedisLimits) reconcile(ctx context.Context, e *Entry, w Window, cost int64, now time.Time, epoch int64, sweep bool) (Decision, error) {
	st := e.state
	st.recMu.Lock()
	defer st.recMu.Unlock()
	mode := modeOwed
	if st.synced.Load() != epoch {
		mode = modeRecovered
	}
	floor, err := r.seed(ctx, e.KeyID, w.Start)
	if err != nil {
		if sweep {
			return Decision{}, err
		}
		// The database cannot say what the window holds: count locally
		// for this call, without calling Redis down.
		return r.locally(ctx, e, cost, now, true)
	}
	owed := st.owed.Swap(0)
	mine := st.mine.Load() + owed
	unflushed := st.granted.Load() - st.flushed.Load()
	res, err := r.script(ctx, e, w, cost, now, true, mode, floor, mine, owed, unflushed)
	if err != nil || res[0] == 3 {
		// Owed still. A reply that never came may have been applied: the
		// next reconciliation is a mode 1, which finds that in the hash.
		st.owed.Add(owed)
		if err != nil {
			st.synced.Store(-1)
		}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Decision{}, err
		}
		r.wentDown(err)
		if sweep {
			return Decision{}, err
		}
		return r.locally(ctx, e, cost, now, true)
	}
	if res[0] == 3 {
		return r.decide(e, w, cost, now, res), nil
	}
	st.mine.Add(owed)
	if sweep {
		// No call: the rate state stays as the last call left it (the
		// sweep's clock is the wall clock, not the verifier's).
		st.used.Store(res[2])
		st.synced.Store(epoch)
		if st.owed.Load() == 0 {
			st.hold.Store(false)
		}
		return Decision{}, nil
	}
	if res[0] == 0 && cost > 0 {
		st.granted.Add(cost)
		st.mine.Add(cost)
	}
	st.synced.Store(epoch)
	if st.owed.Load() == 0 {
		st.hold.Store(false)
	}
	return r.decide(e, w, cost, now, res), nil
}

// script runs takeScript.
func (r *RedisLimits) script(ctx context.Context, e *Entry, w Window, cost int64, now time.Time, take bool, mode string, floor, mine, owed, unflushed int64) ([]int64, error) {
	intervalUs := max(1, int64(time.Second/time.Microsecond)/max(1, e.Rate))
	takeArg := "1"
	if !take {
		takeArg = "0"
	}
	keys := []string{rateKey(e.KeyID), quotaKey(e.KeyID, w), genKey(e.KeyID), byKey(e.KeyID, w)}
	// A day past the window's end, and never less (a reconciliation runs
	// on the wall clock, which need not be inside the window).
	ttl := max(86400, int64(w.End.Sub(now)/time.Second)+86400)
	args := []any{now.UnixMicro(), intervalUs, intervalUs * e.Burst, cost, e.Quota, ttl, takeArg, e.gen, r.id, mode}
	if mode != modeCall {
		args = append(args, floor, mine, owed, unflushed)
	}
	return takeScript.Run(ctx, r.rdb, keys, args...).Int64Slice()
}

// decide turns the script's answer into a Decision, and keeps the local
// state close to the shared one, for a fallback.
func (r *RedisLimits) decide(e *Entry, w Window, cost int64, now time.Time, res []int64) Decision {
	st := e.state
	intervalUs := max(1, int64(time.Second/time.Microsecond)/max(1, e.Rate))
	tolUs := intervalUs * e.Burst
	nowUs := now.UnixMicro()
	code, tat, used := res[0], res[1], res[2]
	d := Decision{RateLimit: e.Burst, QuotaLimit: e.Quota, QuotaReset: w.End, QuotaUsed: used}
	if code == 3 {
		d.Stale = true
		return d
	}
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
	return d
}

// locally counts in this process while Redis is away, remembering what it
// granted (owed) so that it is added to Redis's count when Redis is back,
// and holding the key's usage back from the database until then.
func (r *RedisLimits) locally(ctx context.Context, e *Entry, cost int64, now time.Time, take bool) (Decision, error) {
	if !take {
		return r.local.Peek(ctx, e, now)
	}
	r.fallback.Add(1)
	d, err := r.local.Take(ctx, e, cost, now)
	if err == nil && cost > 0 && !d.RateLimited && !d.QuotaExceeded {
		st := e.state
		if !st.hold.Swap(true) {
			r.owingMu.Lock()
			r.owing[st] = e
			r.owingMu.Unlock()
		}
		st.granted.Add(cost)
		st.owed.Add(cost)
	}
	return d, err
}

// reconcileOwing puts what every key counted alone back into Redis after
// an outage, whether or not it is called again, so its usage reaches the
// database.
func (r *RedisLimits) reconcileOwing() {
	r.owingMu.Lock()
	owing := r.owing
	r.owing = map[*keyState]*Entry{}
	r.owingMu.Unlock()
	epoch := r.epoch.Load()
	for st, e := range owing {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := r.reconcile(ctx, e, st.window(), 0, time.Now(), epoch, true)
		cancel()
		if err != nil || st.hold.Load() {
			r.owingMu.Lock()
			r.owing[st] = e // the next call, or the next recovery, tries again
			r.owingMu.Unlock()
		}
	}
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
	for {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			r.epoch.Add(1)
			r.down.Store(false)
			r.log.Info("redis is back: shared counting resumes")
			// Probing ends before the sweep: should Redis go away again
			// during it, the next outage starts a probe of its own.
			r.probing.Store(false)
			r.reconcileOwing()
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
