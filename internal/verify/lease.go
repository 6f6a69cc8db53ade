package verify

// Leases: a busy key's calls on one instance take their units from Redis
// a few at a time (issue 17, scale-out).
//
// A call to shared limits runs takeScript: the key's change counter
// checked, its rate and quota taken, atomically. That script is what
// Redis spends its time on (about 14 µs a call here, against under 1 µs
// for a GET), and one Redis serves every instance. A lease takes n calls'
// worth at once, through the same script with a cost of n, and the
// instance grants the next calls from it. Each of those still reads the
// key's change counter from Redis (one GET, pipelined with the other
// calls'), so a key revoked or changed on any instance answers stale on
// the very next call everywhere, as with the script.
//
// What it costs in exactness:
//   - Quotas: nothing past the quota, ever: every unit granted was taken
//     from Redis's count first. Units taken and not granted go back
//     (giveBack) when the lease has expired (leaseLife) at the next call or
//     flush, when the entry goes stale, and at a graceful stop. A lease is
//     only taken while the window has leaseHeadroom times its units left,
//     so near the edge every call goes to Redis on its own, as before, and
//     the count is exact to the unit. Until units go back, other instances
//     see the quota lower by them (at most maxLease a key per instance),
//     and an instance killed with a lease leaves them counted in the
//     window.
//   - Rate limits: a lease's units are charged when it is taken and
//     granted later, within leaseLife, so calls can bunch past the burst by
//     at most one lease's units per instance: a lease holds at most
//     burst/leaseBurstShare units and rate×leaseLife.
//   - Answers: see EnableLeases.
//   - Pooled quotas take no leases: every call goes to Redis.

import (
	"context"
	_ "embed"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnableLeases makes busy keys take their units a few at a time (see
// above; off by default: KEYHOLD_REDIS_LEASES). Call it before the first
// verification.
//
// It is a choice, not the default, because of what answers show: a call
// granted from a lease reports the window's count as Redis gave it when
// the lease was taken, less the lease's unused units, so it does not see
// what other instances granted since, nor their own leases' unused units.
// quota.remaining and ratelimit.remaining are then within a few leases of
// the truth rather than exact, and two instances no longer give exactly
// the answers of one. What is granted stays within the quota.
func (r *RedisLimits) EnableLeases() { r.leases = true }

const (
	// leaseLife is how long a lease's units may be granted.
	leaseLife = time.Second
	// maxLease is the most units one lease takes.
	maxLease = 64
	// leaseHeadroom: a lease of n is taken only while the window has at
	// least leaseHeadroom×n units left.
	leaseHeadroom = 64
	// leaseBurstShare: a lease holds at most burst/leaseBurstShare units.
	leaseBurstShare = 16
	// leaseGrowWithin: a lease used up within this long of being taken
	// makes the next one twice as big.
	leaseGrowWithin = leaseLife / 2
)

// giveBackScript puts a lease's unused units back into a quota window:
// KEYS[1] the window, KEYS[2] its units by instance, ARGV[1] this
// instance's field, ARGV[2] the units. Only while both hold this
// instance's part: a window Redis lost, or re-seeded from the database
// (which counts granted calls only), never had them.
//
//go:embed give_back.lua
var giveBackLua string

var giveBackScript = redis.NewScript(giveBackLua)

// lease is what one key's shared state holds of units taken ahead of its
// calls. Guarded by mu.
type lease struct {
	mu     sync.Mutex
	left   int64 // units taken from Redis and not granted
	size   int64 // units the next lease takes (0 or 1: each call alone)
	taken  int64 // unix ns the lease was taken (the verifier's clock)
	window int64 // unix ns of the start of the quota window the units are of
	gen    int64 // the entry's change counter when taken
	epoch  int64 // the part's recovery epoch when taken
	used   int64 // the window's count in Redis after the lease, its units included
	tat    int64 // the rate state in Redis after the lease, µs
	listed bool  // on RedisLimits.leased, for a flush to give back
}

// usable reports whether the lease can grant cost for e at nowNs.
func (l *lease) usable(e *Entry, w Window, epoch, nowNs, cost int64) bool {
	return l.left >= cost && nowNs >= l.taken && nowNs-l.taken < int64(leaseLife) &&
		l.window == w.Start.UnixNano() && l.gen == e.gen && l.epoch == epoch
}

// unused is a lease's unused units, ended, to settle (RedisLimits.settle).
type unused struct {
	units, window, epoch int64
}

// clearLocked ends the lease and returns its unused units; a lease that
// expired unused shrinks the next one.
func (l *lease) clearLocked() unused {
	h := unused{units: l.left, window: l.window, epoch: l.epoch}
	if h.units > 0 {
		l.size = max(1, l.size/2)
	}
	l.left = 0
	return h
}

// fromLease grants cost from the key's lease when it has one that fits,
// after checking the key's change counter in Redis. ok false: no lease
// (one that expired or no longer fits has been given back); take one.
func (r *RedisLimits) fromLease(ctx context.Context, e *Entry, sh *shared, w Window, cost int64, now time.Time, epoch int64) (d Decision, ok bool, err error) {
	l := &sh.lease
	nowNs := now.UnixNano()
	l.mu.Lock()
	if !l.usable(e, w, epoch, nowNs, cost) {
		h := l.clearLocked()
		l.mu.Unlock()
		r.settle(ctx, e.state, sh, h)
		return Decision{}, false, nil
	}
	l.left -= cost
	taken := l.taken
	d = leaseDecision(e, w, l, now)
	if l.left == 0 && nowNs-l.taken < int64(leaseGrowWithin) {
		l.size = min(maxLease, max(2, l.size*2))
	}
	l.mu.Unlock()

	gen, err := r.ap.Get(ctx, genKey(e.AccountID(), e.KeyID)).Int64()
	if errors.Is(err, redis.Nil) {
		gen, err = 0, nil
	}
	if err != nil || gen != e.gen {
		// Not granted: the units stay the lease's (when it is still the
		// same lease), and the call goes on as one without a lease would.
		l.mu.Lock()
		if l.taken == taken && l.window == w.Start.UnixNano() {
			l.left += cost
		}
		l.mu.Unlock()
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return Decision{}, true, err
			}
			r.conn.wentDown(err, rateKey(e.AccountID(), e.KeyID))
			r.dropLease(e.state, sh)
			d, err := r.locally(ctx, e, cost, now, true)
			return d, true, err
		}
		r.settle(ctx, e.state, sh, r.endLease(sh))
		return Decision{}, true, ErrStale
	}
	sh.granted.Add(cost)
	e.state.used.Store(d.QuotaUsed)
	return d, true, nil
}

// leaseDecision is the answer to a call granted from l: the window's count
// as Redis gave it less the units not granted yet, the rate state as
// Redis left it plus them.
func leaseDecision(e *Entry, w Window, l *lease, now time.Time) Decision {
	g := gcraOf(e.Rate(), e.Burst(), time.Microsecond)
	return Decision{RateLimit: e.Burst(), QuotaLimit: e.Quota(), QuotaReset: w.End, QuotaUsed: l.used - l.left,
		RateRemaining: min(e.Burst(), g.remaining(l.tat, now.UnixMicro())+l.left), RateReset: time.UnixMicro(l.tat)}
}

// leaseSize is how many units a call of cost with no lease takes: cost
// alone, or a lease while the key is busy and far from its limits.
func leaseSize(e *Entry, sh *shared, cost int64) int64 {
	sh.lease.mu.Lock()
	n := sh.lease.size
	sh.lease.mu.Unlock()
	if n <= cost || e.pool != nil {
		return cost
	}
	n = min(n, e.Burst()/leaseBurstShare, e.Rate()*int64(leaseLife/time.Second))
	if left := e.Quota() - e.state.used.Load(); left < leaseHeadroom*n {
		n = left / leaseHeadroom
	}
	return max(cost, n)
}

// setLease records a lease of n units that granted cost, from the
// script's answer res. Units of an earlier lease still held (another call
// took a lease at the same time) are kept when they are of the same
// window, change counter and epoch, else returned, to settle.
func (r *RedisLimits) setLease(e *Entry, sh *shared, w Window, n, cost int64, res []int64, now time.Time, epoch int64) (old unused) {
	l := &sh.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := int64(0)
	if l.left > 0 && l.window == w.Start.UnixNano() && l.gen == e.gen && l.epoch == epoch {
		keep = l.left
	} else {
		old = unused{units: l.left, window: l.window, epoch: l.epoch}
	}
	l.left, l.taken, l.window, l.gen, l.epoch = keep+n-cost, now.UnixNano(), w.Start.UnixNano(), e.gen, epoch
	l.used, l.tat = res[2], res[1]
	if !l.listed {
		l.listed = true
		r.leasedMu.Lock()
		r.leased[e.state] = sh
		r.leasedMu.Unlock()
	}
	return old
}

// shrinkLease makes the key's next takes one call's: a lease did not fit
// its limits.
func shrinkLease(sh *shared) {
	sh.lease.mu.Lock()
	sh.lease.size = 1
	sh.lease.mu.Unlock()
}

// growLease notes a call taken alone: a key whose calls come often enough
// takes a lease next.
func growLease(sh *shared, now time.Time) {
	l := &sh.lease
	l.mu.Lock()
	if l.size <= 1 && l.left == 0 {
		if now.UnixNano()-l.taken < int64(leaseGrowWithin) {
			l.size = 2
		}
		l.taken = now.UnixNano()
	}
	l.mu.Unlock()
}

// endLease ends sh's lease and returns its unused units.
func (r *RedisLimits) endLease(sh *shared) unused {
	sh.lease.mu.Lock()
	defer sh.lease.mu.Unlock()
	return sh.lease.clearLocked()
}

// dropLease forgets the lease's unused units without telling Redis: what
// this instance added to the window (mine) no longer has them, and the
// reconciliation that follows an outage (or seeds a window Redis lost)
// sets Redis's count from mine.
// It returns the units taken out of mine.
func (r *RedisLimits) dropLease(st *keyState, sh *shared) int64 {
	return dropUnits(st, sh, r.endLease(sh))
}

// dropUnits takes a lease's unused units out of mine, when their window is
// still the one counted (a new window starts mine afresh), and returns
// how many it took out.
func dropUnits(st *keyState, sh *shared, h unused) int64 {
	if h.units > 0 && h.window == st.windowStart.Load() {
		sh.mine.Add(-h.units)
		return h.units
	}
	return 0
}

// settle puts a lease's unused units back into Redis (giveBack) when
// Redis has had them since: no outage, and no recovery, since the lease
// was taken. Otherwise the reconciliation with Redis sets its count from
// mine, and they only leave mine (dropUnits).
func (r *RedisLimits) settle(ctx context.Context, st *keyState, sh *shared, h unused) {
	if h.units <= 0 {
		return
	}
	p := r.conn.partOf(st.accountID)
	if p.down.Load() || p.recovery.Load() != h.epoch || sh.synced.Load() != h.epoch {
		dropUnits(st, sh, h)
		return
	}
	r.giveBack(ctx, st, sh, h.units, h.window)
}

// giveBack puts units of st's lease of the window starting at window back
// into Redis. A window that has ended keeps them: nothing counts in it
// any more.
func (r *RedisLimits) giveBack(ctx context.Context, st *keyState, sh *shared, units, window int64) {
	if units <= 0 || window != st.windowStart.Load() {
		return
	}
	w := st.window()
	// Units left to a caller that went away still go back.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	err := giveBackScript.Run(ctx, r.pipe, []string{quotaKey(st.accountID, st.keyID, w), byKey(st.accountID, st.keyID, w)}, r.id, units).Err()
	// Given back, or not Redis's to give (its window lost, re-seeded):
	// either way mine no longer has them. A failure is an outage: the
	// reconciliation after it sets Redis's count from mine.
	sh.mine.Add(-units)
	if err != nil {
		r.conn.wentDown(err, rateKey(st.accountID, st.keyID))
	}
}

// giveBackLeases gives back the unused units of every lease that has
// expired by now, or of every lease (all, at a graceful stop). The
// verifier calls it at each flush.
func (r *RedisLimits) giveBackLeases(ctx context.Context, now time.Time, all bool) {
	type leased struct {
		st *keyState
		sh *shared
	}
	r.leasedMu.Lock()
	list := make([]leased, 0, len(r.leased))
	for st, sh := range r.leased {
		list = append(list, leased{st, sh})
	}
	r.leasedMu.Unlock()
	for _, h := range list {
		l := &h.sh.lease
		l.mu.Lock() // (before leasedMu, as in setLease)
		if !all && l.left > 0 && now.UnixNano()-l.taken < int64(leaseLife) {
			l.mu.Unlock()
			continue
		}
		old := l.clearLocked()
		l.listed = false
		r.leasedMu.Lock()
		delete(r.leased, h.st)
		r.leasedMu.Unlock()
		l.mu.Unlock()
		r.settle(ctx, h.st, h.sh, old)
	}
}
