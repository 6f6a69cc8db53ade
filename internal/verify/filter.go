package verify

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// hashTable is a set of 64-bit prefixes of secret hashes: open addressing
// with linear probing over one flat slice, no pointers (the collector never
// scans it), 8 bytes a slot. Lookups are lock-free atomic loads; inserts
// are made by one writer at a time (filter.mu). It never shrinks or
// forgets: a resync builds a new one.
//
// A prefix stands for its hash: SHA-256 is uniform, so a random key meets
// one of a million stored prefixes with probability 10^6/2^64 ≈ 5·10^-14,
// and then merely costs the database read it would have cost anyway.
type hashTable struct {
	slots []atomic.Uint64 // 0: empty
	n     int             // prefixes held; guarded by filter.mu
}

// prefixOf is the table's key for a hash: its first 8 bytes, never 0 (the
// empty slot).
func prefixOf(h *[32]byte) uint64 {
	return max(1, binary.LittleEndian.Uint64(h[:8]))
}

// newHashTable returns a table with room for n prefixes at a load of two
// thirds, where a probe for an absent prefix reads about five slots, most
// often in one cache line.
func newHashTable(n int) *hashTable {
	return &hashTable{slots: make([]atomic.Uint64, max(64, n+n/2))}
}

// home is p's first slot: the high bits of p times the size (Lemire's
// reduction), so the size need not be a power of two.
func (t *hashTable) home(p uint64) int {
	hi, _ := bits.Mul64(p, uint64(len(t.slots)))
	return int(hi)
}

func (t *hashTable) has(p uint64) bool {
	for i := t.home(p); ; {
		switch t.slots[i].Load() {
		case p:
			return true
		case 0:
			return false
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// insert adds p; the caller is the only writer and has left room.
func (t *hashTable) insert(p uint64) {
	for i := t.home(p); ; {
		switch t.slots[i].Load() {
		case p:
			return
		case 0:
			t.slots[i].Store(p)
			t.n++
			return
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// grown returns a copy of t at half load: room to grow by 60 % before the
// next copy, so copies cost a few inserts per key added.
func (t *hashTable) grown() *hashTable {
	g := newHashTable((t.n + 1) * 4 / 3)
	for i := range t.slots {
		if q := t.slots[i].Load(); q != 0 {
			g.insert(q)
		}
	}
	return g
}

// full reports whether one more prefix would load the table past 80 %,
// where probes for absent prefixes grow long.
func (t *hashTable) full() bool { return (t.n+1)*5 > len(t.slots)*4 }

// bytes returns the memory the table's slots take.
func (t *hashTable) bytes() int { return len(t.slots) * 8 }

// filter is the set of every stored secret's hash, with what the verifier
// needs to know whether the set is complete: with shared limits (Redis), a
// counter numbers every secret added on any instance, and the filter is
// complete up to mark; alone, every secret is added through this process,
// and the filter is complete once loaded.
type filter struct {
	tab    atomic.Pointer[hashTable] // nil until loaded
	loadMu sync.Mutex                // one load at a time
	want   chan struct{}             // a (re)load is wanted; capacity 1

	mu      sync.Mutex
	loading bool     // a load is reading the database
	during  []uint64 // prefixes added while it reads, for the new table

	// With a shared counter: the epoch names the counter (a new one after
	// Redis lost it), mark is the number up to which every secret added
	// has been heard, ahead holds numbers heard out of order above it.
	epoch      string
	mark       int64
	aheadEpoch string
	ahead      map[int64]struct{}
	// behind is a counter value seen above mark at behindSince: when mark
	// has not reached it a while later, a message was lost.
	behind      int64
	behindSince time.Time
}

// maxAhead bounds the numbers kept out of order; past it a message was
// surely lost, and a reload is cheaper than waiting.
const maxAhead = 1 << 16

// lostAfter is how long a gap in the heard numbers may stay open before
// the filter reloads: far longer than a pub/sub message takes.
const lostAfter = 2 * time.Second

func newFilter() *filter {
	return &filter{want: make(chan struct{}, 1), ahead: map[int64]struct{}{}}
}

// ready reports whether the filter has loaded.
func (f *filter) ready() bool { return f.tab.Load() != nil }

// has reports whether h may be a stored secret's hash.
func (f *filter) has(h *[32]byte) bool {
	t := f.tab.Load()
	return t == nil || t.has(prefixOf(h))
}

// wantLoad asks the sync loop for a (re)load.
func (f *filter) wantLoad() {
	select {
	case f.want <- struct{}{}:
	default:
	}
}

// add records a secret added through this process. It never waits for a
// load: the hash goes in the current table and, during a load, into the
// next one.
func (f *filter) add(h *[32]byte) {
	f.mu.Lock()
	f.addLocked(prefixOf(h))
	f.mu.Unlock()
}

func (f *filter) addLocked(p uint64) {
	if f.loading {
		f.during = append(f.during, p)
	}
	t := f.tab.Load()
	if t == nil {
		return // the load will read it from the database
	}
	if t.has(p) {
		return
	}
	if t.full() {
		// Grow into a copy; readers keep the old table until the swap,
		// and none of them can yet hold the key being added.
		t = t.grown()
		t.insert(p)
		f.tab.Store(t)
		return
	}
	t.insert(p)
}

// heard records a secret announced by the shared counter as number n of
// epoch.
func (f *filter) heard(epoch string, n int64, h *[32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The hash goes in before the mark moves past it: a verification that
	// sees the mark then finds the hash.
	f.addLocked(prefixOf(h))
	if epoch != f.aheadEpoch {
		f.aheadEpoch, f.ahead = epoch, map[int64]struct{}{}
	}
	if epoch == f.epoch && n <= f.mark {
		return
	}
	f.ahead[n] = struct{}{}
	f.advanceLocked()
	if len(f.ahead) > maxAhead {
		f.wantLoad()
	}
}

// advanceLocked moves mark over the numbers heard in order.
func (f *filter) advanceLocked() {
	if f.aheadEpoch != f.epoch {
		return
	}
	for {
		if _, ok := f.ahead[f.mark+1]; !ok {
			break
		}
		delete(f.ahead, f.mark+1)
		f.mark++
	}
}

// absent reports whether h is surely no stored secret's hash, given that
// the shared counter stood at (epoch, n) after the verification began.
// Every secret numbered up to n was committed before n was read; the
// filter holds all of them when its mark has reached n in the same epoch.
func (f *filter) absent(h *[32]byte, epoch string, n int64, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.ready():
		return false
	case epoch != f.epoch:
		// Redis lost the counter (or the filter loaded without one):
		// numbers from before mean nothing now.
		f.wantLoad()
		return false
	case n <= f.mark:
		// Looked up again: the hash may have been heard since the
		// caller's first look, just before the mark passed it.
		return !f.tab.Load().has(prefixOf(h))
	case f.behind == 0 || f.mark >= f.behind:
		f.behind, f.behindSince = n, now
	case now.Sub(f.behindSince) > lostAfter:
		f.behind = 0
		f.wantLoad()
	}
	return false
}

// startLoad marks a load as reading, so additions meanwhile are kept.
func (f *filter) startLoad() {
	f.mu.Lock()
	f.loading, f.during = true, nil
	f.mu.Unlock()
}

// abortLoad forgets a load that failed.
func (f *filter) abortLoad() {
	f.mu.Lock()
	f.loading, f.during = false, nil
	f.mu.Unlock()
}

// finishLoad swaps in the table built from the database, with what was
// added while it was read, complete up to (epoch, mark).
func (f *filter) finishLoad(t *hashTable, epoch string, mark int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.during {
		if t.full() {
			t = t.grown()
		}
		t.insert(p)
	}
	f.loading, f.during = false, nil
	f.tab.Store(t)
	if epoch != f.epoch || mark > f.mark {
		f.epoch, f.mark = epoch, mark
	}
	f.behind = 0
	if f.aheadEpoch == epoch {
		for n := range f.ahead {
			if n <= f.mark {
				delete(f.ahead, n)
			}
		}
		f.advanceLocked()
	}
}

// size returns the prefixes held and the bytes their table takes.
func (f *filter) size() (n, bytes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tab.Load()
	if t == nil {
		return 0, 0
	}
	return t.n, t.bytes()
}
