package verify

import (
	"errors"
	"testing"
	"time"
)

// sameShard returns the i-th hash of shard 0, distinct for each i.
func sameShard(i int) [32]byte {
	var h [32]byte
	h[0] = 0 // shard h[0] % shardCount
	h[1], h[2] = byte(i), byte(i>>8)
	return h
}

// entryAt returns an entry loaded at unix ns t.
func entryAt(t int64) *Entry {
	e := &Entry{}
	e.loadedAt.Store(t)
	return e
}

// inShard returns a hash of shard i.
func inShard(i int) [32]byte {
	var h [32]byte
	h[0] = byte(i)
	return h
}

const sec = int64(time.Second)

// newTestCache has room for three entries and three misses per shard, so
// one eviction compares all of a shard's (evictSample ≥ 3): the order is
// exact, not sampled.
func newTestCache() *cache {
	return newCache(3*shardCount, time.Minute, 5*time.Second)
}

func TestCacheEvictsTheLeastRecentlyUsedEntry(t *testing.T) {
	for _, tc := range []struct {
		name string
		used []int // entries looked up after all three were put, in order
		want int   // the entry evicted by a fourth put
	}{
		{"NoneUsedOldestGoes", nil, 0},
		{"FirstUsedSecondGoes", []int{0}, 1},
		{"AllUsedTheLeastRecentGoes", []int{2, 0, 1}, 2},
		{"UsedTwiceCountsTheLastUse", []int{0, 1, 2, 0}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache()
			now := 100 * sec
			for i := range 3 {
				c.put(sameShard(i), entryAt(now), c.seq())
				now += 2 * sec
			}
			for _, i := range tc.used {
				h := sameShard(i)
				if e, st := c.lookup(&h, now, false); e == nil || st != fresh {
					t.Fatalf("entry %d: %v %v", i, e, st)
				}
				now += 2 * sec
			}
			h3 := sameShard(3)
			c.put(h3, entryAt(now), c.seq())
			for i := range 4 {
				h := sameShard(i)
				e, _ := c.lookup(&h, now, false)
				if gone := e == nil; gone != (i == tc.want) {
					t.Errorf("entry %d: evicted %v, want entry %d evicted", i, gone, tc.want)
				}
			}
			if n := c.len(); n != 3 {
				t.Errorf("%d entries, want 3", n)
			}
		})
	}
}

func TestCacheForgetsTheOldestMissWhenFull(t *testing.T) {
	c := newTestCache()
	// Misses put out of time order: the oldest is the second.
	at := []int64{3 * sec, 1 * sec, 2 * sec}
	for i, t0 := range at {
		c.putMiss(sameShard(i), t0)
	}
	c.putMiss(sameShard(3), 4*sec)
	for i := range 4 {
		h := sameShard(i)
		_, st := c.lookup(&h, 4*sec, false)
		if forgotten := st != missed; forgotten != (i == 1) {
			t.Errorf("miss %d: forgotten %v, want only miss 1 (the oldest) forgotten", i, forgotten)
		}
	}
}

func TestCacheLookup(t *testing.T) {
	const ttl = int64(time.Minute)
	for _, tc := range []struct {
		name     string
		age      int64 // since the entry was loaded, or the miss seen
		miss     bool
		degraded bool
		want     status
	}{
		{"FreshEntry", ttl - 1, false, false, fresh},
		{"EntryPastItsTTLIsDue", ttl, false, false, due},
		{"DegradedEntryWithinTwoSeconds", 2*sec - 1, false, true, fresh},
		{"DegradedEntryPastTwoSecondsIsExpired", 2 * sec, false, true, expired},
		{"RecentMiss", 5*sec - 1, true, false, missed},
		{"OldMissIsForgotten", 5 * sec, true, false, absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache()
			h := sameShard(7)
			if tc.miss {
				c.putMiss(h, sec)
			} else {
				c.put(h, entryAt(sec), c.seq())
			}
			if _, st := c.lookup(&h, sec+tc.age, tc.degraded); st != tc.want {
				t.Errorf("status %d, want %d", st, tc.want)
			}
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		h := sameShard(1)
		if e, st := newTestCache().lookup(&h, sec, false); e != nil || st != absent {
			t.Errorf("%v %d", e, st)
		}
	})
}

func TestCachePutAfterADropIsRefused(t *testing.T) {
	c := newTestCache()
	h := sameShard(1)
	seq := c.seq() // a load begins
	c.drop(func(*Entry) bool { return false })
	c.put(h, entryAt(sec), seq)
	if e, _ := c.lookup(&h, sec, false); e != nil {
		t.Error("an entry loaded across a drop was cached")
	}
	c.put(h, entryAt(sec), c.seq())
	if e, _ := c.lookup(&h, sec, false); e == nil {
		t.Error("an entry loaded after the drop was not cached")
	}
}

func TestCacheMissReplacesEntryAndEntryReplacesMiss(t *testing.T) {
	c := newTestCache()
	h := sameShard(1)
	c.put(h, entryAt(sec), c.seq())
	c.putMiss(h, sec)
	if e, st := c.lookup(&h, sec, false); e != nil || st != missed {
		t.Errorf("after a miss: %v %d", e, st)
	}
	c.put(h, entryAt(sec), c.seq())
	if e, st := c.lookup(&h, sec, false); e == nil || st != fresh {
		t.Errorf("after a load: %v %d", e, st)
	}
}

// held replaces the cache's spawn: refreshes are kept to run by hand.
func held(c *cache) *[]func() {
	var fns []func()
	c.spawn = func(fn func()) { fns = append(fns, fn) }
	return &fns
}

func TestCacheRefreshIsBoundedAndPostponesAFailure(t *testing.T) {
	c := newTestCache()
	fns := held(c)
	errDB := errors.New("database down")
	var entries [maxRefreshes + 1]*Entry
	for i := range entries {
		entries[i] = entryAt(0)
		c.put(inShard(i), entries[i], c.seq())
	}
	now := int64(time.Minute) // every entry is due
	loads := 0
	for i := range entries {
		c.refresh(inShard(i), entries[i], now, func() error { loads++; return errDB })
	}
	if len(*fns) != maxRefreshes {
		t.Fatalf("%d refreshes started, want %d (the bound)", len(*fns), maxRefreshes)
	}
	(*fns)[0]()
	if loads != 1 {
		t.Fatalf("%d loads", loads)
	}
	h := inShard(0)
	e, st := c.lookup(&h, now, false)
	if e != entries[0] || st != fresh {
		t.Fatalf("after a failed re-read: %v %d, want the entry answering, fresh", e, st)
	}
	if _, st := c.lookup(&h, now+int64(retryDelay), false); st != due {
		t.Errorf("a failed re-read is due again after %v: %d", retryDelay, st)
	}
	// One finished: room for one more.
	c.refresh(inShard(maxRefreshes), entries[maxRefreshes], now, func() error { return ErrNotFound })
	if len(*fns) != maxRefreshes+1 {
		t.Fatalf("%d refreshes started after one ended, want %d", len(*fns), maxRefreshes+1)
	}
	(*fns)[maxRefreshes]()
	h = inShard(maxRefreshes)
	if e, _ := c.lookup(&h, now, false); e != entries[maxRefreshes] {
		t.Error("a re-read that found no key postponed the entry; the load removes it instead")
	}
}

func TestCachePostponeLeavesANewerEntry(t *testing.T) {
	c := newTestCache()
	h := sameShard(1)
	old, newer := entryAt(0), entryAt(10*sec)
	c.put(h, old, c.seq())
	c.put(h, newer, c.seq())
	c.postpone(h, old, 20*sec, false)
	if e, _ := c.lookup(&h, 20*sec, false); e != newer {
		t.Errorf("postpone of a replaced entry overwrote the newer one: %v", e)
	}
}

// TestRefreshOncePerEntry: while a due entry's re-read is claimed, the
// verifications of that key that arrive meanwhile start no other and
// allocate nothing; when the bound on re-reads turns one away, the entry
// can be claimed again.
func TestRefreshOncePerEntry(t *testing.T) {
	c := newTestCache()
	fns := held(c)
	v := &Verifier{cache: c}
	h, e := inShard(0), entryAt(0)
	c.put(h, e, c.seq())
	now := time.Unix(0, int64(time.Minute)) // due
	for range 10 {
		v.refresh(h, e, now)
	}
	if len(*fns) != 1 {
		t.Fatalf("%d re-reads of one entry started, want 1", len(*fns))
	}
	if a := testing.AllocsPerRun(100, func() { v.refresh(h, e, now) }); a != 0 {
		t.Errorf("a verification of an entry being re-read allocates %v times", a)
	}
	// Fill the bound with other entries: the next claim is turned away and
	// released, so a later verification may claim it again.
	for i := 1; i < maxRefreshes; i++ {
		v.refresh(inShard(i), entryAt(0), now)
	}
	other := entryAt(0)
	v.refresh(inShard(maxRefreshes), other, now)
	if len(*fns) != maxRefreshes || other.refreshing.Load() {
		t.Errorf("%d re-reads, refused entry still claimed: %v", len(*fns), other.refreshing.Load())
	}
}
