package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"golang.org/x/sync/singleflight"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
)

// ErrNotFound is what a Loader returns for a hash that names no secret.
var ErrNotFound = errors.New("verify: not found")

// Record is a key as the Loader reads it from the database.
type Record struct {
	Key *keys.Key
	// SecretExpiresAt is when this secret stops working after a rotation;
	// nil while it is the key's current secret.
	SecretExpiresAt *time.Time
	PlanID          string
	Period          Window // the account's billing period; zero: calendar months
	Suspended       bool   // the account is suspended: its keys answer Disabled
}

// Loader is what the verifier needs from the database.
type Loader interface {
	// KeyByHash returns the key whose secret hashes to hash, or ErrNotFound.
	KeyByHash(ctx context.Context, hash [32]byte) (*Record, error)
	QuotaReader
	// AddUsage adds counted usage, atomically: all of it or none.
	AddUsage(ctx context.Context, usage []Usage) error
}

// QuotaReader reads what the database holds of a quota window's count
// (every instance's flushed usage).
type QuotaReader interface {
	// QuotaUsed returns the quota units a key used in the window starting
	// at windowStart.
	QuotaUsed(ctx context.Context, keyID string, windowStart time.Time) (int64, error)
	// PoolUsed returns the quota units an account's pooled keys (those
	// without a quota override) used in the window starting at
	// windowStart: the count of its pool (plans.ScopeAccount).
	PoolUsed(ctx context.Context, accountID string, windowStart time.Time) (int64, error)
}

// Config configures a Verifier.
type Config struct {
	Loader Loader
	Plans  *plans.Catalog
	Limits Limits // nil: MemoryLimits
	// Invalidator carries changes between instances (nil: NewLocal()).
	// The verifier asks it for each key's change counter when it reads
	// the key, and trusts cached keys briefly while it is Degraded; one
	// that numbers new secrets (RedisInvalidator) lets the filter of known
	// secrets trust its misses across instances (see Secrets).
	Invalidator Invalidator
	Logger      *slog.Logger // nil: discard
	// TTL is how long a cached key is trusted before it is read again, in
	// the background while the cached entry keeps answering: a safety net,
	// since every change is announced (events, Redis, NOTIFY); default 5m.
	// NegativeTTL is how
	// long a miss is remembered; default 5s.
	TTL, NegativeTTL time.Duration
	// MaxKeys bounds the cache; default 1,000,000 entries.
	MaxKeys int
	// MaxPending bounds usage kept in memory while the database is down;
	// default 1,000,000 rows. Past it the oldest rows are dropped (counted).
	MaxPending int
	// LoadTimeout bounds one database read on a cache miss; default 2s.
	LoadTimeout time.Duration
	// Now is the clock; nil: time.Now. For tests.
	Now func() time.Time
	// Secrets lists every stored secret's hash. When set, the verifier
	// keeps the hashes in a filter (8-byte prefixes in a flat table, about
	// 12 MB for a million secrets) and answers a well-formed key that is
	// not in it NotFound without a database read, so a flood of random
	// keys never reaches the database. That is right only if every secret
	// added later reaches the filter before its key is handed out: in this
	// process through KeyEvent, and from other instances through a
	// Broadcast, whose counter of added secrets in Redis (Invalidator a
	// *RedisInvalidator) tells the filter whether it has heard of all of
	// them. So set it for a single instance (SQLite), with Local peers, or
	// with Redis. On PostgreSQL without Redis leave it nil: NOTIFY cannot
	// tell an instance that it has heard of every secret, and an unknown
	// key is read as before.
	// SyncSecrets loads it; until then unknown keys are read.
	Secrets SecretLister
	// Thresholds hears of each quota threshold (80 and 100 %) a key's
	// count crosses; nil: nobody listens. See ThresholdSink.
	Thresholds ThresholdSink
	// SecretsResync is how often SyncSecrets rebuilds the filter from the
	// database, dropping deleted secrets and repairing what a lost
	// announcement left out; default 10m.
	SecretsResync time.Duration
}

// Verifier answers verifications. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	cache  *cache
	limits Limits
	inv    Invalidator
	log    *slog.Logger
	group  singleflight.Group

	statesMu sync.Mutex
	states   map[string]*keyState
	slab     []keyState // the states newStateLocked hands out next
	// dirty lists the states counted since the last flush (their dirty
	// mark set), so that a flush visits those, not every key cached.
	dirtyMu sync.Mutex
	dirty   []*keyState
	spare   []*keyState // the list the last flush went through, emptied, for the next (under dirtyMu)
	// pools are the counting states of accounts' pooled quotas, by
	// account id (under statesMu): a keyState of which only the quota
	// part counts.
	pools map[string]*pool
	// shapes interns what cached keys share (Entry.shape). A table of
	// its own: the cleanups of shapes hold it, and must not hold the
	// verifier, whose entries point to them.
	shapes *shapes

	flushMu sync.Mutex // one flush at a time
	pending [][]Usage  // batches whose write failed, oldest first, each retried unchanged with its id

	dropped atomic.Int64 // usage rows dropped past MaxPending
	loads   atomic.Int64 // database reads of keys (cache misses and refreshes)

	filter  *filter       // known secrets; nil without Config.Secrets
	counter secretCounter // secrets added on every instance; nil alone
	unknown atomic.Int64  // keys answered NotFound by the filter
}

// New returns a Verifier.
func New(c Config) (*Verifier, error) {
	if c.Loader == nil || c.Plans == nil {
		return nil, errors.New("verify: Loader and Plans are required")
	}
	if c.Limits == nil {
		c.Limits = MemoryLimits{}
	}
	if c.Invalidator == nil {
		c.Invalidator = NewLocal()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TTL == 0 {
		c.TTL = 5 * time.Minute
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = 5 * time.Second
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 1_000_000
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1_000_000
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = 2 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SecretsResync == 0 {
		c.SecretsResync = 10 * time.Minute
	}
	v := &Verifier{cfg: c, cache: newCache(c.MaxKeys, c.TTL, c.NegativeTTL), limits: c.Limits, inv: c.Invalidator, log: c.Logger, states: map[string]*keyState{}, pools: map[string]*pool{}, shapes: &shapes{}}
	if c.Secrets != nil {
		v.filter = newFilter()
		if sc, ok := c.Invalidator.(secretCounter); ok {
			// The Invalidator asks for the load once it is subscribed
			// (Resubscribed), so that no announcement falls between the
			// load and the subscription.
			v.counter = sc
		} else {
			v.filter.wantLoad()
		}
	}
	return v, nil
}

// Limits on a request.
const (
	MaxCost      = 1000
	MaxReqScopes = 32
)

// Request is one verification.
type Request struct {
	Key    string
	Cost   int64 // 0..MaxCost; the caller applies the default of 1
	Scopes []string
	// IP is the client address the gateway saw (the body's "ip"),
	// unmapped from IPv4-mapped IPv6 and without a zone (ReadRequest
	// does both); the zero Addr: none given. A key with an IP allow-list
	// answers Forbidden unless IP is on it; other keys ignore it.
	IP netip.Addr
	// Exchange marks a token exchange (POST /v1/tokens): checked and
	// charged like a verification, but a VALID one is counted in usage
	// as TokenIssued.
	Exchange bool
}

// Result is the answer to a verification.
type Result struct {
	Code     Code
	Entry    *Entry   // the key, when one was found
	Decision Decision // rate limit and quota, when Entry is set
	Now      time.Time
}

// Verify checks req and fills res. It never returns an error: every
// outcome, Unavailable included, is a Code.
func (v *Verifier) Verify(ctx context.Context, req *Request, res *Result) {
	now := v.cfg.Now()
	*res = Result{Now: now}
	if req.Cost < 0 || req.Cost > MaxCost || len(req.Scopes) > MaxReqScopes {
		res.Code = BadRequest
		return
	}
	secret, err := keys.Parse(req.Key)
	if err != nil {
		res.Code = Malformed
		return
	}
	h := secret.Hash()
	for range 3 {
		if v.check(ctx, &h, req, res, now) {
			return
		}
		// The key changed on another instance since it was cached: read
		// it again.
		v.cache.remove(h)
		*res = Result{Now: now}
	}
	res.Code = Unavailable // changing faster than we can read it
}

// refusal is the code of the checks that take nothing, for req at nowNs:
// Valid when the key passes them all.
func (e *Entry) refusal(req *Request, nowNs int64) Code {
	switch {
	case e.revoked:
		return Revoked
	case e.expiresAt != 0 && nowNs >= e.expiresAt:
		return Expired
	case e.secretExpiresAt != 0 && nowNs >= e.secretExpiresAt:
		return Expired
	case e.suspended:
		// After the key's own end (revoked or expired stays so when the
		// account is unsuspended), before anything the request asks
		// (scopes, limits): a suspended account's key answers the same
		// whatever the call, and takes nothing.
		return Disabled
	case e.allow != nil && !e.allow.allows(req.IP):
		// Like a suspension, before anything the call asks for: an
		// address that may not use the key learns nothing of its scopes.
		return Forbidden
	case !hasScopes(e.Scopes(), req.Scopes):
		return InsufficientScope
	}
	return Valid
}

// StillValid reports whether the key of req passes, now, the checks of a
// verification that take nothing (revoked, expired, suspended, allow-list,
// scopes), from the cache or a read, counting nothing. A replay of a
// VALID answer asks it first: an Idempotency-Key must not outlive a
// revocation (DESIGN: a revoke takes effect on the next verify).
func (v *Verifier) StillValid(ctx context.Context, req *Request) bool {
	secret, err := keys.Parse(req.Key)
	if err != nil {
		return false
	}
	now := v.cfg.Now()
	h := secret.Hash()
	e, _ := v.entry(ctx, &h, now)
	return e != nil && e.refusal(req, now.UnixNano()) == Valid
}

// lateRetryMin is the least wait after which check takes a refused call
// again on the current clock.
const lateRetryMin = time.Millisecond

// check runs the checks after parsing. It reports false when the limits
// found the cached entry stale (ErrStale: nothing was taken).
func (v *Verifier) check(ctx context.Context, h *[32]byte, req *Request, res *Result, now time.Time) bool {
	e, code := v.entry(ctx, h, now)
	if e == nil {
		res.Code = code
		return true
	}
	res.Entry = e
	res.Code = e.refusal(req, now.UnixNano())
	if res.Code != Valid {
		d, err := v.limits.Peek(ctx, e, now)
		if errors.Is(err, ErrStale) {
			return false
		}
		res.Decision = d
		v.counted(e.state, res.Code, false, 0, now)
		return true
	}
	d, err := v.limits.Take(ctx, e, req.Cost, now)
	if err == nil && d.RateLimited {
		// now is when the call began. One that waited since (behind a
		// reconciliation after a Redis outage, a stalled batch, a starved
		// process) meets a rate state that calls begun later left ahead of
		// now by as much, and is refused on a clock that has moved on. When
		// the Retry-After it would be told has already passed, it is asked
		// once more on the current clock (the refusal took nothing). Not for
		// waits under lateRetryMin: a key of 10 000/s or more has a
		// Retry-After within a Redis round trip, and retrying each refusal
		// of a client hammering past its limit would double what it costs
		// Redis, which all instances share.
		if later := v.cfg.Now(); later.Sub(now) >= max(d.RetryAfter, lateRetryMin) {
			now = later
			res.Now = later
			d, err = v.limits.Take(ctx, e, req.Cost, now)
		}
	}
	if errors.Is(err, ErrStale) {
		return false
	}
	if err != nil {
		// Limits fall back on their own; an error here means no answer at
		// all (or a caller that went away), and an unmetered VALID would
		// give usage away.
		if ctx.Err() == nil {
			v.log.Error("limits", "err", err)
		}
		res.Code = Unavailable
		return true
	}
	res.Decision = d
	switch {
	case d.RateLimited:
		res.Code = RateLimited
	case d.QuotaExceeded:
		res.Code = QuotaExceeded
	}
	if v.cfg.Thresholds != nil && !d.RateLimited {
		v.thresholds(e, &d, req.Cost)
	}
	v.counted(e.state, res.Code, req.Exchange, req.Cost, now)
	return true
}

// allows reports whether ip is in one of the prefixes of the allow-list;
// the zero Addr never is. The caller unmapped ip (ReadRequest), as the
// prefixes were (keys.ParseAllowlist), so an IPv4 client matches IPv4
// prefixes however its gateway wrote it. Only the prefixes of ip's family
// are tried (IPv4 first, n4 of them), with netip.Prefix.Contains, which
// does not allocate.
func (a *allowlist) allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	var ps []netip.Prefix
	switch {
	case ip.Is4():
		ps = a.prefixes[:a.n4]
	case ip.Is6():
		ps = a.prefixes[a.n4:]
	}
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func hasScopes(have, need []string) bool {
outer:
	for _, n := range need {
		for _, h := range have {
			if h == n {
				continue outer
			}
		}
		return false
	}
	return true
}

// entry returns the cached entry for h, loading it on a miss or when the
// cache says it is too old to answer from. With no entry it returns the
// code to answer.
func (v *Verifier) entry(ctx context.Context, h *[32]byte, now time.Time) (*Entry, Code) {
	nowNs := now.UnixNano()
	degraded := v.inv.Degraded()
	e, st := v.cache.lookup(h, nowNs, degraded)
	switch st {
	case fresh:
		return e, Valid
	case due:
		// Past its TTL: answer from it and read it again in the
		// background, so no verification waits on the database.
		v.refresh(*h, e, now)
		return e, Valid
	case missed:
		return nil, NotFound
	}
	if e == nil && v.knownAbsent(ctx, h, now) {
		// Not remembered as a miss: a flood of random keys would fill the
		// negative cache for nothing.
		v.unknown.Add(1)
		return nil, NotFound
	}
	fresh, err := v.load(ctx, *h, now)
	switch {
	case err == nil:
		return fresh, Valid
	case errors.Is(err, ErrNotFound):
		return nil, NotFound
	case e != nil:
		// The database is unreachable but the key is known: keep verifying
		// it, and try the database again in a second.
		v.cache.postpone(*h, e, nowNs, degraded)
		return e, Valid
	}
	v.log.Warn("verify: key lookup failed", "err", err)
	return nil, Unavailable
}

// refresh has the cache re-read a due entry in the background. (Its own
// function, so that only a due entry's hash and time escape to the heap,
// not every verification's.)
func (v *Verifier) refresh(h [32]byte, e *Entry, now time.Time) {
	// One re-read per entry at a time; the verifications of a hot key that
	// arrive meanwhile return here, before the closure below is made (it
	// escapes, so it would be an allocation each).
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	v.cache.refresh(h, e, now.UnixNano(), func() error {
		_, err := v.load(context.Background(), h, now)
		return err
	})
}

// load reads a key from the database (once for concurrent misses of the
// same hash) and caches it, or caches the miss.
//
// The key's change counter is read after the key, in the same load: a
// change committed before the counter is read and after the key was read
// would leave the entry older than its counter says, but such a change is
// announced after its counter is bumped, and the cache refuses an entry
// when any change was applied since the load began (put's seq). So one
// query per load; reading the key a second time after the counter, as the
// verifier once did, is not needed.
func (v *Verifier) load(ctx context.Context, h [32]byte, now time.Time) (*Entry, error) {
	r, err, _ := v.group.Do(string(h[:]), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.cfg.LoadTimeout)
		defer cancel()
		v.loads.Add(1)
		seq := v.cache.seq()
		rec, err := v.cfg.Loader.KeyByHash(ctx, h)
		if errors.Is(err, ErrNotFound) {
			v.cache.putMiss(h, now.UnixNano())
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("verify: load key: %w", err)
		}
		gen, epoch := v.inv.Generation(ctx, rec.Key.AccountID, rec.Key.ID)
		e, err := v.newEntry(ctx, rec, now, epoch)
		if err != nil {
			return nil, err
		}
		e.gen = gen
		v.cache.put(h, e, seq)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Entry), nil
}

// newEntry builds the cache entry of a record, with the key's counting
// state (created, and seeded from the database, the first time).
// epoch is the account's change counter (the pool's, for a pooled key).
func (v *Verifier) newEntry(ctx context.Context, rec *Record, now time.Time, epoch int64) (*Entry, error) {
	k := rec.Key
	plan := v.cfg.Plans.Get(rec.PlanID)
	e := &Entry{KeyID: k.ID, revoked: k.RevokedAt != nil, suspended: rec.Suspended}
	planLim := limits{rate: int64(plan.RatePerSecond), burst: int64(plan.Burst), quota: plan.MonthlyQuota}
	if p := rec.Period; !p.Start.IsZero() && !p.End.IsZero() {
		// (A period missing either end is calendar months to
		// quota.WindowAt, as the zero one is.)
		planLim.periodStart, planLim.periodEnd = p.Start.UnixNano(), p.End.UnixNano()
	}
	lim := planLim
	if len(k.IPAllowlist) > 0 {
		// A copy (the entry is immutable), IPv4 first: allows tries only
		// the prefixes of the address's family.
		a := &allowlist{prefixes: slices.Clone(k.IPAllowlist)}
		slices.SortStableFunc(a.prefixes, func(a, b netip.Prefix) int { return a.Addr().BitLen() - b.Addr().BitLen() })
		for _, p := range a.prefixes {
			if p.Addr().Is4() {
				a.n4++
			}
		}
		e.allow = a
	}
	e.loadedAt.Store(now.UnixNano())
	if k.RateOverride != nil {
		lim.rate = int64(*k.RateOverride)
		lim.burst = max(lim.rate, lim.burst)
	}
	if k.BurstOverride != nil {
		lim.burst = int64(*k.BurstOverride)
	}
	if k.QuotaOverride != nil {
		lim.quota = *k.QuotaOverride
	}
	if k.ExpiresAt != nil {
		e.expiresAt = k.ExpiresAt.UnixNano()
	}
	if rec.SecretExpiresAt != nil {
		e.secretExpiresAt = rec.SecretExpiresAt.UnixNano()
	}
	if err := v.entryJSON(e, k, plan.ID, planLim); err != nil {
		return nil, err
	}
	e.lim = &e.shape.lim
	if lim != planLim {
		e.lim = &lim
	}
	st, err := v.state(ctx, e, now)
	if err != nil {
		return nil, fmt.Errorf("verify: quota used: %w", err)
	}
	e.state = st
	// The state's copy of the id, the first read's: a re-read's would be
	// one more string a key for as long as its entry lives.
	e.KeyID = st.keyID
	// A key with a quota override of its own keeps it; the others of a
	// pooled plan count against their account's pool (the store's
	// PoolUsed sums the same keys).
	if plan.Pooled() && k.QuotaOverride == nil {
		if e.pool, err = v.poolOf(ctx, e, now, epoch); err != nil {
			return nil, fmt.Errorf("verify: pool used: %w", err)
		}
	}
	st.pool.Store(e.pool)
	return e, nil
}

// state returns the counting state of e's key, creating it seeded with the
// quota used so far in the current window as the database has it.
func (v *Verifier) state(ctx context.Context, e *Entry, now time.Time) (*keyState, error) {
	v.statesMu.Lock()
	st := v.states[e.KeyID]
	v.statesMu.Unlock()
	if st != nil {
		return st, nil
	}
	w := quota.WindowAt(now, e.Period())
	used, err := v.cfg.Loader.QuotaUsed(ctx, e.KeyID, w.Start)
	if err != nil {
		return nil, err
	}
	v.statesMu.Lock()
	defer v.statesMu.Unlock()
	if prev := v.states[e.KeyID]; prev != nil {
		return prev, nil
	}
	st = v.newStateLocked()
	st.keyID, st.accountID = e.KeyID, e.AccountID()
	st.start(e, w, used, now)
	v.states[e.KeyID] = st
	return st, nil
}

// stateSlab is how many keys' states one allocation holds.
const stateSlab = 128

// newStateLocked returns a zero keyState from the current slab. A key's
// state lives as long as the verifier, so a slab never holds dead ones;
// made one by one, they shared the heap's small spans with the garbage
// of the reads that made them (rows, statements, requests), and each such
// span stayed in use for the states in it after the garbage was
// collected: at 100 000 keys read in a warm-up, megabytes of holes.
// statesMu must be held.
func (v *Verifier) newStateLocked() *keyState {
	if len(v.slab) == 0 {
		v.slab = make([]keyState, stateSlab)
	}
	st := &v.slab[0]
	v.slab = v.slab[1:]
	return st
}

// poolOf returns the pool of e's account for epoch (the account's change
// counter as just read), making it when there is none or the one there is
// of another epoch: counted from the database, after this process's
// counts so far are written there, so that what its keys used before they
// were pooled stays used. (Other instances' counts not yet written are
// not in it: up to one flush interval of their calls.)
func (v *Verifier) poolOf(ctx context.Context, e *Entry, now time.Time, epoch int64) (*pool, error) {
	v.statesMu.Lock()
	p := v.pools[e.AccountID()]
	if p != nil {
		if pe := p.epoch.Load(); pe == epoch || epoch == -1 || (pe == -1 && p.epoch.CompareAndSwap(-1, epoch)) {
			// The same pool, or an epoch unread (-1) on either side: see
			// pool.
			v.statesMu.Unlock()
			return p, nil
		}
	}
	v.statesMu.Unlock()
	if err := v.Flush(ctx); err != nil {
		v.log.Warn("verify: flush before counting a pool", "account_id", e.AccountID(), "err", err)
	}
	w := quota.WindowAt(now, e.Period())
	used, err := v.cfg.Loader.PoolUsed(ctx, e.AccountID(), w.Start)
	if err != nil {
		return nil, err
	}
	p = &pool{keyState: keyState{accountID: e.AccountID()}}
	p.epoch.Store(epoch)
	p.start(e, w, used, now)
	v.statesMu.Lock()
	defer v.statesMu.Unlock()
	if prev := v.pools[e.AccountID()]; prev != nil && prev.epoch.Load() == epoch {
		return prev, nil
	}
	v.pools[e.AccountID()] = p
	return p, nil
}

// entryJSON renders the key's fields of a response, in parts (see
// AppendJSON): the name, in the entry; the owner, plan and scopes, in a
// shape shared by every key that has the same; the metadata, interned.
// Each part is what encoding/json renders for that field of the key
// object the answer once marshaled whole, so the answer is the same to
// the byte.
//
// Metadata goes through keys.ReadableMeta: a value stored before today's
// rules (1e999) must neither fail the verification nor make the answer
// undecodable, so such a number is answered as a string of its literal
// (logged, by key id, so the operator can tell the owner).
func (v *Verifier) entryJSON(e *Entry, k *keys.Key, planID string, lim limits) error {
	meta, changed := keys.ReadableMeta(k.Meta)
	if changed {
		v.log.Warn("key metadata is not readable as stored; answered in a readable form", "key_id", k.ID)
	}
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	owner, err := json.Marshal(struct {
		OwnerID string `json:"owner_id"`
	}{k.AccountID})
	if err != nil {
		return fmt.Errorf("verify: render key: %w", err)
	}
	rest, err := json.Marshal(struct {
		Plan   string   `json:"plan"`
		Scopes []string `json:"scopes"`
	}{planID, scopes})
	if err != nil {
		return fmt.Errorf("verify: render key: %w", err)
	}
	name, err := json.Marshal(k.Name)
	if err != nil {
		return fmt.Errorf("verify: render key: %w", err)
	}
	answered, err := json.Marshal(json.RawMessage(meta))
	if err != nil {
		return fmt.Errorf("verify: render key: %w", err)
	}
	ownerPart := string(owner[1:len(owner)-1]) + ","
	withID := !plainJSON(k.ID)
	if withID {
		// Never for Keyhold's own ids; a key id that JSON must escape
		// goes, rendered, in front of the owner, in a shape of its own.
		id, err := json.Marshal(struct {
			KeyID string `json:"key_id"`
		}{k.ID})
		if err != nil {
			return fmt.Errorf("verify: render key: %w", err)
		}
		ownerPart = string(id[1:len(id)-1]) + "," + ownerPart
	}
	sh := &shape{
		accountID: k.AccountID, planID: planID, scopes: slices.Clone(scopes), lim: lim,
		id: ownerPart + string(rest[1:len(rest)-1]) + ",", ownerLen: len(ownerPart), withID: withID,
	}
	e.shape = v.shapes.intern(sh)
	mj := metaJSON{raw: string(meta)}
	if string(answered) != mj.raw {
		mj.answer = string(answered)
	}
	e.meta = unique.Make(mj)
	e.name = string(name)
	return nil
}

// plainJSON reports whether s is its own JSON string body: printable
// ASCII that encoding/json writes as is (no quote, backslash or HTML
// character).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// InvalidateKey drops every cached secret of a key, so the next
// verification reads it again.
func (v *Verifier) InvalidateKey(keyID string) {
	v.cache.drop(func(e *Entry) bool { return e.KeyID == keyID })
}

// InvalidateAccount drops every cached key of an account (after a plan
// change or a suspension, or a key joining or leaving its pool), and its
// pool: the next pooled key read counts the pool again (poolOf).
//
// With Redis the pool is not dropped here but by its epoch (the account's
// change counter there, which the change bumped): dropped here, a pool
// that counted alone during an outage would lose what it must put back,
// and one made again could take the old epoch, whose count in Redis holds
// this instance's units of the dropped one.
func (v *Verifier) InvalidateAccount(accountID string) {
	if _, epochs := v.inv.(*RedisInvalidator); !epochs {
		v.statesMu.Lock()
		delete(v.pools, accountID)
		v.statesMu.Unlock()
	}
	v.cache.drop(func(e *Entry) bool { return e.AccountID() == accountID })
}

// Loads returns how many times keys were read from the database.
func (v *Verifier) Loads() int64 { return v.loads.Load() }

// CachedKeys returns how many secrets are cached.
func (v *Verifier) CachedKeys() int { return v.cache.len() }

// QuotaUsed returns what this process counts as a key's quota used in the
// window holding now, when it has counted the key at all: fresher than the
// database, which lags by up to one flush. For a key of a pooled plan it
// is the key's own use (its quota is its pool's: PoolUsed), and with
// Redis only this process's calls of it: the database's count, when
// higher, is the one to show.
func (v *Verifier) QuotaUsed(keyID string, now time.Time) (used int64, w Window, ok bool) {
	v.statesMu.Lock()
	st := v.states[keyID]
	v.statesMu.Unlock()
	if st == nil {
		return 0, Window{}, false
	}
	return st.current(now)
}

// PoolUsed returns what this process counts as an account's pooled quota
// used in the window holding now, when it has counted the pool at all.
func (v *Verifier) PoolUsed(accountID string, now time.Time) (used int64, w Window, ok bool) {
	v.statesMu.Lock()
	st := v.pools[accountID]
	v.statesMu.Unlock()
	if st == nil {
		return 0, Window{}, false
	}
	return st.current(now)
}
