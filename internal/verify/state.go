package verify

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/keyhold/keyhold/internal/quota"
)

// Entry is a key as the hot path needs it, cached by the hash of its
// secret. It is immutable once built, but for the cache's two stamps
// (loadedAt, used); a change to the key replaces it.
//
// It is kept small, since the cache holds one per secret (a million by
// default): what keys share (the account, the plan, the scopes, the
// limits and billing period, the metadata, and their rendering in the
// answer) lives once in a shape that they point to, and only the key's own
// fields are here. Its strings and slices are shared: read them, never
// write to them.
type Entry struct {
	KeyID           string
	expiresAt       int64 // unix ns; 0: never
	secretExpiresAt int64 // unix ns; 0: never (set when rotated away)
	// allow is the key's IP allow-list; nil: any address (Entry.allows).
	allow *allowlist
	shape *shape
	// lim is the shape's limits, or the key's own when it has overrides
	// (allocated apart, so that a key with overrides still shares its
	// shape with its siblings).
	lim  *limits
	meta unique.Handle[metaJSON]
	// name is the key's name as a JSON string, quoted and escaped.
	name     string
	loadedAt atomic.Int64 // unix ns; moved on by the cache when a re-read fails
	used     atomic.Int64 // unix ns of the last lookup, at most a second old (cache eviction)
	gen      int64        // the key's change counter when it was read (shared limits)
	state    *keyState
	// pool is the account's pooled quota (plans.ScopeAccount) when the
	// key counts against it, nil when the key has a quota of its own (its
	// plan's per key, or its override): the quota is taken from
	// quotaState, the rate limit always from state.
	pool       *pool
	refreshing atomic.Bool // a background re-read of this entry is claimed or running
	revoked    bool
	suspended  bool // the account is suspended
}

// allowlist is a key's IP allow-list in keys.ParseAllowlist's form, its n4
// IPv4 prefixes first.
type allowlist struct {
	prefixes []netip.Prefix
	n4       int
}

// Rate returns the key's rate limit, per second.
func (e *Entry) Rate() int64 { return e.lim.rate }

// Burst returns how many calls the key may make at once.
func (e *Entry) Burst() int64 { return e.lim.burst }

// Quota returns the key's quota per window (its pool's, for a pooled key).
func (e *Entry) Quota() int64 { return e.lim.quota }

// AccountID returns the id of the key's account.
func (e *Entry) AccountID() string { return e.shape.accountID }

// PlanID returns the id of the key's plan.
func (e *Entry) PlanID() string { return e.shape.planID }

// Scopes returns the key's scopes (shared: read them, never write to
// them).
func (e *Entry) Scopes() []string { return e.shape.scopes }

// Meta returns the key's metadata as read (a JSON object), for tokens.
// (A copy: the interned original is a string.)
func (e *Entry) Meta() []byte { return []byte(e.meta.Value().raw) }

// quotaState is the state that counts the key's quota: its pool's, or its
// own.
func (e *Entry) quotaState() *keyState {
	if e.pool != nil {
		return &e.pool.keyState
	}
	return e.state
}

// quotaWindow rolls the key's state over to the window holding now (its
// usage is attributed to it), and its pool's too for a pooled key, and
// returns the state that counts the quota with that window.
func (e *Entry) quotaWindow(now time.Time) (*keyState, Window) {
	w := e.state.windowFor(e, now)
	if e.pool == nil {
		return e.state, w
	}
	return &e.pool.keyState, e.pool.windowFor(e, now)
}

// Pooled reports whether the key's quota is its account's pool.
func (e *Entry) Pooled() bool { return e.pool != nil }

// quota80 is the count at which 80 % of the quota is reached.
func (e *Entry) quota80() int64 { return at80(e.Quota()) }

// Period returns the account's billing period; zero: calendar months.
func (e *Entry) Period() Window {
	l := e.lim
	if l.periodStart == 0 && l.periodEnd == 0 {
		return Window{}
	}
	return Window{Start: time.Unix(0, l.periodStart).UTC(), End: time.Unix(0, l.periodEnd).UTC()}
}

// periodKey is the start of the billing period the windows are derived
// from (unix ns); 0 for calendar months.
func (e *Entry) periodKey() int64 { return e.lim.periodStart }

// keyState is what the process counts for one key. It outlives cache
// entries (a revoke or edit replaces the entry, never the counts) and is
// shared by every secret of the key.
type keyState struct {
	keyID, accountID string

	tat  atomic.Int64 // GCRA theoretical arrival time, unix ns
	used atomic.Int64 // quota units used in the current window

	// mu guards the window and bucket rollovers and the pending list.
	mu          sync.Mutex
	windowStart atomic.Int64 // unix ns
	windowEnd   atomic.Int64 // unix ns
	period      atomic.Int64 // Entry.periodKey() the window was derived from

	cost        atomic.Int64 // quota units of the VALID calls since the last snapshot
	lastUsed    atomic.Int64 // unix ns
	lastWritten int64        // last use last written (unix ns); guarded by mu
	// exceeded is the start (unix ns) of the last window in which this
	// process reported a refusal by the quota as its 100 % threshold.
	exceeded atomic.Int64
	// pending holds the snapshots taken at rollovers, nil when there are
	// none (most of the time: a pointer, not a slice, in every key's
	// state).
	pending *[]Usage

	// sh is what shared limits keep of the window (RedisLimits, through
	// shared()); nil while none has counted it, as with limits in memory.
	sh atomic.Pointer[shared]
	// pool is the account's pool while the key's quota is the pool's
	// (the entry last built for it had Entry.pool), else nil: a flush
	// holds the key's usage back while the pool's is (hold), and
	// its written cost is the pool's (Verifier.markFlushed).
	pool atomic.Pointer[pool]

	// Outcomes counted since the last snapshot. 32 bits are plenty: a
	// snapshot is taken at every flush, and while usage is held back (a
	// Redis outage) at least every hour (count), and no key is verified
	// 4 billion times an hour on one instance. (The fields are ordered
	// so that these and dirty pack: the cache holds a state per key.)
	valid, rateLimited, quotaExceeded, scopeDenied, invalid, tokenIssued atomic.Uint32
	// hour is the current usage bucket, in hours since 1970 (packed with
	// the counters: 32 bits last until the year 491 930).
	hour  atomic.Uint32
	dirty atomic.Bool // counted since the last drain; set: on Verifier.dirty
}

// hourOf is the usage bucket of now, as keyState.hour holds it.
func hourOf(now time.Time) uint32 { return uint32(now.Unix() / 3600) }

// shared is what shared limits (RedisLimits) need to put this instance's
// share of a window back into Redis after an outage, exactly once. The
// counts are quota units of the current window, reset when it rolls over.
// Apart from keyState, as only an instance counting in Redis has them.
type shared struct {
	granted atomic.Int64 // granted by this instance: through Redis or counted alone
	flushed atomic.Int64 // of granted, written to the database
	mine    atomic.Int64 // added to Redis's count by this instance, as its replies confirmed
	owed    atomic.Int64 // granted alone (Redis unreachable), not yet added to Redis
	synced  atomic.Int64 // the shared limits' recovery epoch this state last synced in (kept across windows)
	// hold keeps the key's usage out of the database while its calls
	// counted alone are not in Redis yet: should Redis come back without
	// its data, the window is re-seeded from the database plus what each
	// instance has not written there, which is only exact if nothing is
	// written in between.
	hold  atomic.Bool
	recMu sync.Mutex // one reconciliation with Redis at a time
	// calls is held shared by each shared-limits call from its send to its
	// reply counted in mine, and exclusively by a reconciliation that reads
	// mine against Redis's count (RedisLimits.reconcile): a call sent before
	// an outage can still be between Redis and its reply after Redis is back
	// (queued behind a batch, or retried by the client), and reading mine
	// then would leave it out of Redis's count for good.
	calls sync.RWMutex
}

// shared returns st's shared-limits state, made on first use.
func (st *keyState) shared() *shared {
	if sh := st.sh.Load(); sh != nil {
		return sh
	}
	st.sh.CompareAndSwap(nil, new(shared))
	return st.sh.Load()
}

// held reports whether st's usage is held back from the database (hold).
func (st *keyState) held() bool {
	sh := st.sh.Load()
	return sh != nil && sh.hold.Load()
}

// pool is an account's pooled quota: a keyState of which only the quota
// part counts, for one epoch of the account (its change counter when the
// pool was made, Invalidator.Generation). A change of the account (its
// plan, or a key joining or leaving the pool) starts a new pool: counted
// again from the database, and in Redis under a new name (poolKey), so
// that no count of the old members lives on.
//
// An epoch of -1 is one that could not be read (Redis away): such a pool
// takes the first epoch read after it (poolOf), keeping its counts, since
// what it counted alone must still be put back into Redis.
type pool struct {
	keyState
	epoch atomic.Int64
}

// start sets a new state's window (w, derived from e's period) and the
// quota used in it so far.
func (st *keyState) start(e *Entry, w Window, used int64, now time.Time) {
	st.windowStart.Store(w.Start.UnixNano())
	st.windowEnd.Store(w.End.UnixNano())
	st.period.Store(e.periodKey())
	st.hour.Store(hourOf(now))
	st.used.Store(used)
}

// poolHeld reports whether the key's pool holds its usage back (hold).
func (st *keyState) poolHeld() bool {
	p := st.pool.Load()
	return p != nil && p.held()
}

// current returns the quota used in the window being counted, if it holds
// now.
func (st *keyState) current(now time.Time) (used int64, w Window, ok bool) {
	start, end := st.windowStart.Load(), st.windowEnd.Load()
	if ns := now.UnixNano(); ns < start || ns >= end {
		return 0, Window{}, false
	}
	return st.used.Load(), Window{Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC()}, true
}

// Usage is what one key did in one hour and one quota window, to be added
// to the database.
type Usage struct {
	KeyID, AccountID string
	Hour             time.Time // start of the UTC hour
	WindowStart      time.Time // start of the quota window the cost belongs to
	Valid            int64
	RateLimited      int64
	QuotaExceeded    int64
	ScopeDenied      int64 // INSUFFICIENT_SCOPE: a good key asked for a scope it lacks
	Invalid          int64 // any other refusal of a known key: REVOKED, EXPIRED, DISABLED, FORBIDDEN
	TokenIssued      int64 // VALID exchanges for a token (Request.Exchange); their cost is in Cost
	Cost             int64
	LastUsed         time.Time // zero: no valid call
	// Batch names the flush the row belongs to; every row of one AddUsage
	// call carries the same one, and a retried flush carries it again, so
	// the store can tell a batch it already wrote. Empty: no such check.
	Batch string
}

func (u *Usage) empty() bool {
	return u.Valid == 0 && u.RateLimited == 0 && u.QuotaExceeded == 0 && u.ScopeDenied == 0 && u.Invalid == 0 && u.TokenIssued == 0 && u.Cost == 0 && u.LastUsed.IsZero()
}

// windowFor returns the quota window holding now, rolling the state over
// (resetting the count) when now has left the one being counted.
func (st *keyState) windowFor(e *Entry, now time.Time) Window {
	ns := now.UnixNano()
	current := func() bool {
		return ns >= st.windowStart.Load() && ns < st.windowEnd.Load() && st.period.Load() == e.periodKey()
	}
	if current() {
		return st.window()
	}
	w := quota.WindowAt(now, e.Period())
	st.mu.Lock()
	defer st.mu.Unlock()
	if current() { // another call rolled it
		return st.window()
	}
	st.snapshotLocked()
	st.period.Store(e.periodKey())
	if w.Start.UnixNano() != st.windowStart.Load() {
		// A new window. (A new billing period that starts where the
		// counted window did keeps its count.)
		st.used.Store(0)
		if sh := st.sh.Load(); sh != nil {
			sh.granted.Store(0)
			sh.flushed.Store(0)
			sh.mine.Store(0)
			sh.owed.Store(0)
		}
	}
	st.windowStart.Store(w.Start.UnixNano())
	st.windowEnd.Store(w.End.UnixNano())
	return w
}

// window returns the quota window being counted, without rolling it over.
func (st *keyState) window() Window {
	return Window{Start: time.Unix(0, st.windowStart.Load()).UTC(), End: time.Unix(0, st.windowEnd.Load()).UTC()}
}

// count records one outcome at now; exchange: a VALID one issued a token
// (counted as TokenIssued instead of Valid). It reports whether it marked
// the state dirty: the caller must then list it for the next flush
// (Verifier.counted).
func (st *keyState) count(code Code, exchange bool, cost int64, now time.Time) bool {
	if h := hourOf(now); h != st.hour.Load() {
		st.mu.Lock()
		if h != st.hour.Load() {
			st.snapshotLocked()
			st.hour.Store(h)
		}
		st.mu.Unlock()
	}
	switch code {
	case Valid:
		if exchange {
			st.tokenIssued.Add(1)
		} else {
			st.valid.Add(1)
		}
		st.cost.Add(cost)
		st.lastUsed.Store(now.UnixNano())
	case RateLimited:
		st.rateLimited.Add(1)
	case QuotaExceeded:
		st.quotaExceeded.Add(1)
	case InsufficientScope:
		st.scopeDenied.Add(1)
	default:
		st.invalid.Add(1)
	}
	// Marked after counting: a flush that clears the mark before our
	// counts land leaves the mark set for the next flush. The caller that
	// sets it puts the state on the verifier's list of what to flush.
	return !st.dirty.Load() && st.dirty.CompareAndSwap(false, true)
}

// snapshotLocked moves the counts so far into pending, attributed to the
// current hour and window. st.mu must be held.
func (st *keyState) snapshotLocked() {
	if u := st.takeLocked(); !u.empty() {
		if st.pending == nil {
			st.pending = new([]Usage)
		}
		*st.pending = append(*st.pending, u)
	}
}

// takeLocked returns the counts so far, attributed to the current hour and
// window, and resets them. st.mu must be held.
func (st *keyState) takeLocked() Usage {
	u := Usage{
		KeyID: st.keyID, AccountID: st.accountID,
		Hour:          time.Unix(int64(st.hour.Load())*3600, 0).UTC(),
		WindowStart:   time.Unix(0, st.windowStart.Load()).UTC(),
		Valid:         int64(st.valid.Swap(0)),
		RateLimited:   int64(st.rateLimited.Swap(0)),
		QuotaExceeded: int64(st.quotaExceeded.Swap(0)),
		ScopeDenied:   int64(st.scopeDenied.Swap(0)),
		Invalid:       int64(st.invalid.Swap(0)),
		TokenIssued:   int64(st.tokenIssued.Swap(0)),
		Cost:          st.cost.Swap(0),
	}
	// Last use is written at most once a minute per key: pages show it
	// as "3 minutes ago", and one UPDATE per key per flush was the
	// flush's main cost.
	if lu := st.lastUsed.Load(); lu != 0 && lu-st.lastWritten >= int64(time.Minute) {
		st.lastUsed.CompareAndSwap(lu, 0)
		st.lastWritten = lu
		u.LastUsed = time.Unix(0, lu).UTC()
	}
	return u
}

// drain takes every pending snapshot and the counts so far. The pending
// list is let go, not kept for reuse: it holds something only after an
// hour or window rolled over, and a kept one would be a Usage's worth of
// memory for every key ever counted.
func (st *keyState) drain(out []Usage) []Usage {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending != nil {
		out = append(out, *st.pending...)
		st.pending = nil
	}
	if u := st.takeLocked(); !u.empty() {
		out = append(out, u)
	}
	return out
}
