package verify

import (
	"sync"
	"sync/atomic"
)

const shardCount = 64

// cache maps the SHA-256 of a secret to its Entry, or to nil for a recent
// miss (a negative entry), in shards so verifications on many cores rarely
// meet on one lock. It is bounded: a full shard evicts an arbitrary entry.
type cache struct {
	shards   [shardCount]shard
	perShard int
	drops    atomic.Uint64 // drop calls so far: a load that began before one does not cache
}

type shard struct {
	mu      sync.RWMutex
	entries map[[32]byte]*Entry
	misses  map[[32]byte]int64 // hash → unix ns of the miss
}

func newCache(limit int) *cache {
	c := &cache{perShard: max(1, limit/shardCount)}
	for i := range c.shards {
		c.shards[i].entries = make(map[[32]byte]*Entry)
		c.shards[i].misses = make(map[[32]byte]int64)
	}
	return c
}

func (c *cache) shard(h *[32]byte) *shard { return &c.shards[h[0]%shardCount] }

// get returns the entry for h, or whether h missed at some time (unix ns).
func (c *cache) get(h *[32]byte) (e *Entry, missAt int64) {
	s := c.shard(h)
	s.mu.RLock()
	e = s.entries[*h]
	if e == nil {
		missAt = s.misses[*h]
	}
	s.mu.RUnlock()
	return e, missAt
}

// seq returns the count of drops, to pass to put after a load.
func (c *cache) seq() uint64 { return c.drops.Load() }

// put caches e for h unless a drop happened since seq was read (the entry
// may hold what the drop was meant to remove).
func (c *cache) put(h [32]byte, e *Entry, seq uint64) {
	s := c.shard(&h)
	s.mu.Lock()
	if c.drops.Load() != seq {
		s.mu.Unlock()
		return
	}
	if _, ok := s.entries[h]; !ok && len(s.entries) >= c.perShard {
		for k := range s.entries {
			delete(s.entries, k)
			break
		}
	}
	s.entries[h] = e
	delete(s.misses, h)
	s.mu.Unlock()
}

// postpone replaces e, if it is still h's entry, by a copy loaded at
// loadedAt: when a re-read failed, the entry keeps answering and is read
// again when that makes it due. A drop in between wins.
func (c *cache) postpone(h [32]byte, e *Entry, loadedAt int64) {
	s := c.shard(&h)
	s.mu.Lock()
	if s.entries[h] == e {
		retry := *e
		retry.loadedAt = loadedAt
		s.entries[h] = &retry
	}
	s.mu.Unlock()
}

func (c *cache) putMiss(h [32]byte, at int64) {
	s := c.shard(&h)
	s.mu.Lock()
	if len(s.misses) >= c.perShard {
		for k := range s.misses {
			delete(s.misses, k)
			break
		}
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
