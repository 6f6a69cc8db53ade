package verify

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

const shardCount = 64

// evictSample is how many entries a full shard compares to pick the one
// to evict (Redis's approximated LRU samples 5 too): close to true LRU
// without keeping a list that every lookup would have to write.
const evictSample = 5

// maxRefreshes bounds background re-reads of entries past their TTL.
const maxRefreshes = 4

// retryDelay is how soon an entry whose re-read failed is due again.
const retryDelay = time.Second

// degradedTTL is how long an entry is trusted while the Invalidator is
// degraded: another instance's revoke then reaches this one only through
// the database.
const degradedTTL = 2 * time.Second

// cache maps the SHA-256 of a secret to its Entry, or to the time of a
// recent miss (a negative entry), in shards so verifications on many cores
// rarely meet on one lock. It owns the life of an entry: how long it is
// trusted (lookup), its re-read in the background once past its TTL
// (refresh), a failed re-read (postpone), forgetting misses, and eviction
// when a shard is full: of the least recently used of a sample, for
// entries; of the oldest of a sample, for misses.
type cache struct {
	shards      [shardCount]shard
	perShard    int
	ttl         int64         // ns an entry answers before it is due for a re-read
	negativeTTL int64         // ns a miss is remembered
	drops       atomic.Uint64 // drop calls so far: a load that began before one does not cache
	refreshing  atomic.Int64  // background re-reads running
	// spawn runs a refresh; go in production, replaced by tests that
	// want to run or hold it themselves.
	spawn func(func())
}

type shard struct {
	mu      sync.RWMutex
	entries map[[32]byte]*Entry
	misses  map[[32]byte]int64 // hash → unix ns of the miss
}

func newCache(limit int, ttl, negativeTTL time.Duration) *cache {
	c := &cache{perShard: max(1, limit/shardCount), ttl: int64(ttl), negativeTTL: int64(negativeTTL),
		spawn: func(fn func()) { go fn() }}
	for i := range c.shards {
		c.shards[i].entries = make(map[[32]byte]*Entry)
		c.shards[i].misses = make(map[[32]byte]int64)
	}
	return c
}

func (c *cache) shard(h *[32]byte) *shard { return &c.shards[h[0]%shardCount] }

// status is what lookup found.
type status int

const (
	absent  status = iota // nothing: read the key
	fresh                 // answer from the entry
	due                   // answer from the entry, and refresh it
	expired               // too old to answer from (degraded): read it, and answer from it only if the read fails
	missed                // a recent miss: NotFound
)

// lookup returns h's entry and what to do with it at now. degraded
// shortens the trust in entries to degradedTTL, without a background
// re-read: the read happens before the answer.
func (c *cache) lookup(h *[32]byte, now int64, degraded bool) (*Entry, status) {
	s := c.shard(h)
	s.mu.RLock()
	e := s.entries[*h]
	var missAt int64
	if e == nil {
		missAt = s.misses[*h]
	}
	s.mu.RUnlock()
	if e == nil {
		if missAt != 0 && now-missAt < c.negativeTTL {
			return nil, missed
		}
		return nil, absent
	}
	// Written at most once a second, so that lookups of a hot key stay
	// reads of a shared cache line.
	if now-e.used.Load() >= int64(time.Second) {
		e.used.Store(now)
	}
	ttl := c.ttlFor(degraded)
	switch {
	case now-e.loadedAt.Load() < ttl:
		return e, fresh
	case degraded:
		return e, expired
	}
	return e, due
}

func (c *cache) ttlFor(degraded bool) int64 {
	if degraded {
		return min(c.ttl, int64(degradedTTL))
	}
	return c.ttl
}

// refresh re-reads a due entry in the background with load, unless
// maxRefreshes re-reads are running already (the entry is due a little
// longer). When the read fails for another reason than ErrNotFound, the
// entry keeps answering and is due again after retryDelay.
func (c *cache) refresh(h [32]byte, e *Entry, now int64, load func() error) {
	if c.refreshing.Add(1) > maxRefreshes {
		c.refreshing.Add(-1)
		e.refreshing.Store(false)
		return
	}
	c.spawn(func() {
		defer c.refreshing.Add(-1)
		defer e.refreshing.Store(false)
		if err := load(); err != nil && !errors.Is(err, ErrNotFound) {
			c.postpone(h, e, now, false)
		}
	})
}

// postpone makes e, if it is still h's entry, due again retryDelay after
// now: a read of it failed, and it keeps answering meanwhile. A drop or a
// newer entry in between wins.
func (c *cache) postpone(h [32]byte, e *Entry, now int64, degraded bool) {
	s := c.shard(&h)
	s.mu.RLock()
	if s.entries[h] == e {
		e.loadedAt.Store(now - c.ttlFor(degraded) + int64(retryDelay))
	}
	s.mu.RUnlock()
}

// seq returns the count of drops, to pass to put after a load.
func (c *cache) seq() uint64 { return c.drops.Load() }

// put caches e for h, and forgets a miss of h, unless a drop happened
// since seq was read (the entry may hold what the drop was meant to
// remove). A full shard first evicts the least recently used entry of a
// sample.
func (c *cache) put(h [32]byte, e *Entry, seq uint64) {
	s := c.shard(&h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.drops.Load() != seq {
		return
	}
	if _, ok := s.entries[h]; !ok && len(s.entries) >= c.perShard {
		s.evictEntry()
	}
	e.used.Store(e.loadedAt.Load())
	s.entries[h] = e
	delete(s.misses, h)
}

// evictEntry removes the least recently used of up to evictSample entries
// (map iteration starts at a random place), the least recently loaded on a
// tie. s.mu must be held.
func (s *shard) evictEntry() {
	var (
		victim [32]byte
		best   *Entry
		n      int
	)
	for h, e := range s.entries {
		if best == nil || e.used.Load() < best.used.Load() ||
			e.used.Load() == best.used.Load() && e.loadedAt.Load() < best.loadedAt.Load() {
			victim, best = h, e
		}
		if n++; n == evictSample {
			break
		}
	}
	if best != nil {
		delete(s.entries, victim)
	}
}

// putMiss remembers that h named no secret at at, dropping any entry of
// h. A full shard first forgets the oldest miss of a sample.
func (c *cache) putMiss(h [32]byte, at int64) {
	s := c.shard(&h)
	s.mu.Lock()
	delete(s.entries, h)
	if _, ok := s.misses[h]; !ok && len(s.misses) >= c.perShard {
		var (
			victim [32]byte
			oldest int64
			n      int
		)
		for k, t := range s.misses {
			if n == 0 || t < oldest {
				victim, oldest = k, t
			}
			if n++; n == evictSample {
				break
			}
		}
		delete(s.misses, victim)
	}
	s.misses[h] = at
	s.mu.Unlock()
}

// remove forgets the entry for h.
func (c *cache) remove(h [32]byte) {
	s := c.shard(&h)
	s.mu.Lock()
	delete(s.entries, h)
	s.mu.Unlock()
}

// drop removes every entry for which match is true.
func (c *cache) drop(match func(*Entry) bool) int {
	c.drops.Add(1) // before any shard is scanned: see put
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for h, e := range s.entries {
			if match(e) {
				delete(s.entries, h)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// len returns the number of positive entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
