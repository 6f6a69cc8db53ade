package verify

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript checks the key's generation, then takes cost from its GCRA
// rate limit and its quota window, atomically: one script call per
// verification (take.lua, which says why it uses this instance's clock),
// and concurrent calls share round trips (RedisLimits.pipe).
// All keys of a key share the hash tag of its account, {accountID}, so the
// script runs on one Redis Cluster slot, a pooled key's with its pool. Times are microseconds (Lua numbers are doubles:
// exact to 2^53).
//
// Beside the window's count, a hash keeps what each instance added to it
// (field: the instance's id). An instance knows what it added as Redis
// confirmed it; the hash also holds what Redis applied for a call whose
// reply never came (a timeout while Redis was stalled). The difference is
// what makes putting an outage's calls back exact.
//
// KEYS: 1 rate (tat), 2 quota window (used), 3 generation, 4 the window's
// units by instance; for a pooled key, 2 and 4 are its pool's, 5 is the
// key's own window (added to when it exists) and 6 its account's change
// counter (the pool's epoch).
// ARGV: 1 now, 2 interval, 3 tolerance, 4 cost, 5 quota, 6 window TTL (s),
// 7 take (0: peek), 8 generation expected ("any": not checked, for a
// sweep that takes nothing), 9 instance id, 10 mode, 11 the pool's epoch
// expected (KEYS[6]; "any": a key of its own, or a sweep), then, for modes
// 1 and 2: 12 floor (the window's count in the database), 13 mine (what
// this instance has added plus owed), 14 owed (granted while Redis was
// unreachable), 15 unflushed (granted and not in the database).
// Mode 0: a call; a missing window is reported (scriptNoWindow). Mode 1:
// the first call after an outage; mode 2: a later call that owes units, or
// the window is new. With a mode:
//   - window missing (new, or Redis lost its data): floor + unflushed; the
//     database has everything written, and each instance adds the rest.
//   - no field of this instance (re-seeded by another instance after a loss
//     of data, or this instance never added to it): + unflushed, likewise.
//   - mode 1: + mine − field: what it granted that Redis has not seen,
//     less what Redis applied of calls it never heard back about.
//   - mode 2: + owed.
//
// Returns {code, tat, used, generation}, code one of script*.
var takeScript = redis.NewScript(takeLua)

//go:embed take.lua
var takeLua string

// Result codes of takeScript, as take.lua names them.
const (
	scriptOK            = 0 // allowed (or peeked)
	scriptRateLimited   = 1
	scriptQuotaExceeded = 2
	scriptStale         = 3 // the key changed since it was cached; nothing taken
	scriptNoWindow      = 4 // mode 0 found no window: call again with mode 2
)

// RedisLimits counts rate limits and quotas in Redis, shared by every
// instance, with one script call per verification. Concurrent calls are
// auto-pipelined (go-redis's blocking AutoPipeliner): those that arrive
// while a batch is with Redis go together in the next one, one write and
// one read for all of them, which is what saves CPU on both sides (the
// syscalls of a round trip cost more than the script). Each script still
// runs atomically and alone in Redis, so pipelining changes no decision:
// quotas stay exact, rate limits shared, the change counter checked on
// every call. A batch that fails (Redis unreachable, a timeout) fails each
// of its calls, and each falls back as a lone call does. When Redis cannot be
// reached it falls back to counting in this process (MemoryLimits, from the
// last counts Redis gave), logs the outage once, and returns to shared
// counting when Redis answers again, adding to each window what this
// instance granted alone, once (see takeScript for how a window Redis lost
// and a call Redis applied without answering are accounted).
type RedisLimits struct {
	conn     *Redis
	pipe     redis.Scripter // conn's AutoPipeliner: what takeScript runs on
	seed     QuotaReader
	id       any // this instance's field in each window's hash of units by instance (a string, boxed once: one allocation less per call)
	local    MemoryLimits
	fallback atomic.Int64 // verifications counted locally

	owingMu sync.Mutex
	owing   map[*keyState]*Entry // keys that counted alone, reconciled when Redis is back

	// reconciled is the last recovery (Redis.recovery) whose putting back
	// of what keys counted alone has finished: until then this instance's
	// outage calls are missing from Redis's counts, and it is not back.
	reconciled atomic.Int64
}

// NewRedisLimits counts over conn. seed says what a key or a pool used in
// a window as the database knows it (every instance's flushed usage); it
// seeds a window that is new or that Redis lost.
func NewRedisLimits(conn *Redis, seed QuotaReader) (*RedisLimits, error) {
	if conn == nil || seed == nil {
		return nil, errors.New("verify: redis limits need a connection and a seed")
	}
	// The blocking face: a call returns when its script has run. One
	// ordered batch at a time keeps batches deep under load, and a lone
	// call goes at once, without waiting for company.
	opts := redis.DefaultBlockingAutoPipelineOptions()
	opts.MaxBatchSize = maxBatch
	ap, err := conn.rdb.AutoPipelineWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("verify: redis auto-pipelining: %w", err)
	}
	r := &RedisLimits{conn: conn, pipe: ap, seed: seed, id: any(randomName()), owing: map[*keyState]*Entry{}}
	r.reconciled.Store(conn.recovery.Load()) // nothing counted alone before now
	conn.whenBack(r.reconcileOwing)
	return r, nil
}

// Degraded reports whether Redis is unreachable and counting is local, or
// Redis is back but what this instance granted alone is not in Redis's
// counts yet (reconcileOwing has not finished): another instance reading
// those counts would grant past the quota.
func (r *RedisLimits) Degraded() bool {
	return r.conn.Degraded() || r.reconciled.Load() != r.conn.recovery.Load()
}

// Outages returns how many times Redis became unreachable.
func (r *RedisLimits) Outages() int64 { return r.conn.Outages() }

// FallbackCalls returns how many calls were counted locally.
func (r *RedisLimits) FallbackCalls() int64 { return r.fallback.Load() }

// Ping checks Redis answers, for /readyz.
func (r *RedisLimits) Ping(ctx context.Context) error { return r.conn.Ping(ctx) }

// Every Redis key of a key is tagged with its account ({accountID}): one
// script call reads and writes a key's rate, generation and quota window,
// and a pooled key's also its account's pool, so they must all be in one
// Redis Cluster slot. (An account's keys then share a slot: a busy account
// is one master's load, as a pool must be.)
func rateKey(acct, id string) string { return "kh:{" + acct + "}:rl:" + id }
func quotaKey(acct, id string, w Window) string {
	return "kh:{" + acct + "}:q:" + id + ":" + strconv.FormatInt(w.Start.Unix(), 10)
}
func byKey(acct, id string, w Window) string {
	return "kh:{" + acct + "}:qi:" + id + ":" + strconv.FormatInt(w.Start.Unix(), 10)
}

// poolKey and poolByKey are an account's pooled quota window and its units
// by instance, as quotaKey and byKey are a key's.
// Both are named by the pool's epoch: a new pool (another plan, a key
// joining or leaving) counts afresh from the database.
func poolKey(acct string, p *pool, w Window) string {
	return "kh:{" + acct + "}:pq:" + strconv.FormatInt(p.epoch.Load(), 10) + ":" + strconv.FormatInt(w.Start.Unix(), 10)
}
func poolByKey(acct string, p *pool, w Window) string {
	return "kh:{" + acct + "}:pqi:" + strconv.FormatInt(p.epoch.Load(), 10) + ":" + strconv.FormatInt(w.Start.Unix(), 10)
}

// Take implements Limits.
func (r *RedisLimits) Take(ctx context.Context, e *Entry, cost int64, now time.Time) (Decision, error) {
	return r.run(ctx, e, cost, now, true)
}

// Peek implements Limits.
func (r *RedisLimits) Peek(ctx context.Context, e *Entry, now time.Time) (Decision, error) {
	return r.run(ctx, e, 0, now, false)
}

// maxBatch is the most script calls that go to Redis in one round trip.
// The client's read timeout (250 ms, DialRedis) bounds a whole batch, not
// each call in it, and a batch that times out fails every call in it over
// to local counting: batches stay small enough that a slow machine
// answers all of them in time (go-redis's default is 300). Past 64, a
// batch saves little more: a round trip's cost is already a sixty-fourth
// per call.
const maxBatch = 64

// Script modes (takeScript).
const (
	modeCall      = "0"
	modeRecovered = "1"
	modeOwed      = "2"
)

func (r *RedisLimits) run(ctx context.Context, e *Entry, cost int64, now time.Time, take bool) (Decision, error) {
	p := r.conn.partOf(e.AccountID())
	if p.down.Load() {
		return r.locally(ctx, e, cost, now, take)
	}
	q, w := e.quotaWindow(now)
	sh := q.shared() // what the quota's exactness fields below are of
	epoch := p.recovery.Load()
	if take && (sh.synced.Load() != epoch || sh.owed.Load() != 0) {
		return r.reconcile(ctx, e, w, cost, now, epoch, false)
	}
	sh.calls.RLock()
	res, err := r.script(ctx, e, w, cost, now, take, true, modeCall, 0, 0, 0, 0)
	if err == nil && take && res[0] == scriptOK && cost > 0 {
		sh.granted.Add(cost)
		sh.mine.Add(cost)
	}
	sh.calls.RUnlock()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Decision{}, err
		}
		r.conn.wentDown(err, rateKey(e.AccountID(), e.KeyID))
		return r.locally(ctx, e, cost, now, take)
	}
	if res[0] == scriptNoWindow {
		if !take {
			return r.local.Peek(ctx, e, now)
		}
		// The window is new, or Redis lost it: seed it from the database.
		return r.reconcile(ctx, e, w, cost, now, epoch, false)
	}
	return r.decide(e, w, cost, now, res)
}

// reconcile runs the script in mode 1 (first call after an outage) or 2
// (owed units, or a window to seed), one at a time per key, so that no
// call of this instance is between Redis and its reply while mine is read.
// sweep: no call is waiting (reconcileOwing), so a failure is returned
// rather than counted locally.
func (r *RedisLimits) reconcile(ctx context.Context, e *Entry, w Window, cost int64, now time.Time, epoch int64, sweep bool) (Decision, error) {
	q := e.quotaState()
	st := q.shared()
	st.recMu.Lock()
	defer st.recMu.Unlock()
	mode := modeOwed
	if st.synced.Load() != epoch {
		mode = modeRecovered
		// Wait for this instance's calls still between Redis and their
		// replies (sent before the outage): mine must have them, or the
		// script would take what Redis applied of them back out.
		st.calls.Lock()
		defer st.calls.Unlock()
	}
	var floor int64
	var err error
	if e.pool != nil {
		floor, err = r.seed.PoolUsed(ctx, e.AccountID(), w.Start)
	} else {
		floor, err = r.seed.QuotaUsed(ctx, e.KeyID, w.Start)
	}
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
	// (Never below 0: a cost flushed to the pool's account just as the
	// account left the pool would make it so.)
	unflushed := max(0, st.granted.Load()-st.flushed.Load())
	// A sweep takes nothing and puts back what was granted: the key may
	// have changed since (revoked, even), and its units are owed all the
	// same, so its change counter is not checked.
	res, err := r.script(ctx, e, w, cost, now, true, !sweep, mode, floor, mine, owed, unflushed)
	if err != nil || res[0] == scriptStale {
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
		r.conn.wentDown(err, rateKey(e.AccountID(), e.KeyID))
		if sweep {
			return Decision{}, err
		}
		return r.locally(ctx, e, cost, now, true)
	}
	if res[0] == scriptStale {
		return Decision{}, ErrStale
	}
	st.mine.Add(owed)
	if sweep {
		// No call: the rate state stays as the last call left it (the
		// sweep's clock is the wall clock, not the verifier's).
		q.used.Store(res[2])
		st.synced.Store(epoch)
		if st.owed.Load() == 0 {
			st.hold.Store(false)
		}
		return Decision{}, nil
	}
	if res[0] == scriptOK && cost > 0 {
		st.granted.Add(cost)
		st.mine.Add(cost)
	}
	st.synced.Store(epoch)
	if st.owed.Load() == 0 {
		st.hold.Store(false)
	}
	return r.decide(e, w, cost, now, res)
}

// script runs takeScript.
func (r *RedisLimits) script(ctx context.Context, e *Entry, w Window, cost int64, now time.Time, take, checkGen bool, mode string, floor, mine, owed, unflushed int64) ([]int64, error) {
	g := gcraOf(e.Rate(), e.Burst(), time.Microsecond)
	takeArg := "1"
	if !take {
		takeArg = "0"
	}
	acct := e.AccountID()
	var keys []string
	if e.pool != nil {
		// The pool's window and units, then the key's own window, which
		// the script adds the cost to when it exists: an account that
		// returns to quotas per key this window finds each key's count
		// right (and re-seeds a missing one from the database).
		keys = []string{rateKey(acct, e.KeyID), poolKey(acct, e.pool, w), genKey(acct, e.KeyID), poolByKey(acct, e.pool, w), quotaKey(acct, e.KeyID, w), accountGenKey(acct)}
	} else {
		keys = []string{rateKey(acct, e.KeyID), quotaKey(acct, e.KeyID, w), genKey(acct, e.KeyID), byKey(acct, e.KeyID, w)}
	}
	// A day past the window's end, and never less (a reconciliation runs
	// on the wall clock, which need not be inside the window).
	ttl := max(86400, int64(w.End.Sub(now)/time.Second)+86400)
	var gen, epoch any = e.gen, "any"
	if !checkGen {
		gen = "any"
	} else if e.pool != nil {
		epoch = e.pool.epoch.Load()
	}
	args := []any{now.UnixMicro(), g.interval, g.tolerance, cost, e.Quota(), ttl, takeArg, gen, r.id, mode, epoch}
	if mode != modeCall {
		args = append(args, floor, mine, owed, unflushed)
	}
	// The auto-pipeliner sends a queued call whatever its context does
	// meanwhile: a call whose caller has gone must take nothing, as it did
	// when go-redis saw the context before sending.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return takeScript.Run(ctx, r.pipe, keys, args...).Int64Slice()
}

// decide turns the script's answer into a Decision (ErrStale for a
// stale entry), and keeps the local state close to the shared one, for a
// fallback.
func (r *RedisLimits) decide(e *Entry, w Window, cost int64, now time.Time, res []int64) (Decision, error) {
	code, tat, used := res[0], res[1], res[2]
	if code == scriptStale {
		return Decision{}, ErrStale
	}
	g := gcraOf(e.Rate(), e.Burst(), time.Microsecond)
	nowUs := now.UnixMicro()
	d := Decision{RateLimit: e.Burst(), QuotaLimit: e.Quota(), QuotaReset: w.End, QuotaUsed: used}
	e.quotaState().used.Store(used)
	if e.pool != nil && code == scriptOK && cost > 0 {
		// The key's own use, for its pages: this instance's part of it
		// (the database has every instance's, a flush later).
		e.state.used.Add(cost)
	}
	e.state.tat.Store(tat * int64(time.Microsecond))
	d.RateReset = time.UnixMicro(tat)
	d.RateRemaining = g.remaining(tat, nowUs)
	switch code {
	case scriptRateLimited:
		d.RateLimited = true
		d.RetryAfter = time.Duration(g.wait(tat, nowUs, cost)) * time.Microsecond
	case scriptQuotaExceeded:
		d.QuotaExceeded = true
		d.RetryAfter = max(time.Second, w.End.Sub(now))
	}
	return d, nil
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
		st := e.quotaState()
		sh := st.shared()
		if !sh.hold.Swap(true) {
			r.owingMu.Lock()
			r.owing[st] = e
			r.owingMu.Unlock()
		}
		sh.granted.Add(cost)
		sh.owed.Add(cost)
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
	recoveries := r.conn.recovery.Load()
	for st, e := range owing {
		p := r.conn.partOf(e.AccountID())
		if p.down.Load() || (e.pool != nil && e.pool.epoch.Load() == -1) {
			// Its part of a cluster is still away: its own return sweeps
			// it. (A pool made while Redis was away has no epoch yet, so
			// no name in Redis: its next call reads one, after its entry
			// is found stale, and puts back what it owes.)
			r.owingMu.Lock()
			r.owing[st] = e
			r.owingMu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := r.reconcile(ctx, e, st.window(), 0, time.Now(), p.recovery.Load(), true)
		cancel()
		if err != nil || st.held() {
			r.owingMu.Lock()
			r.owing[st] = e // the next call, or the next recovery, tries again
			r.owingMu.Unlock()
		}
	}
	// Only forward: a sweep of an earlier recovery that finishes late
	// (Redis went away and came back during it) must not undo a later one.
	for {
		done := r.reconciled.Load()
		if done >= recoveries || r.reconciled.CompareAndSwap(done, recoveries) {
			return
		}
	}
}

var _ Limits = (*RedisLimits)(nil)
