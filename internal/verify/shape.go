package verify

import (
	"runtime"
	"sync"
	"weak"
)

// shape is what many keys have in common: an account's keys mostly share
// their plan, scopes, limits (those of the plan) and billing period. The
// cache keeps one shape for each distinct combination, pointed to by every
// entry that has it, instead of a copy in every entry: at 100 000 cached
// keys the copies, with their rendering in the answer, were the larger
// part of the verifier's heap. Immutable.
type shape struct {
	accountID string
	planID    string
	scopes    []string
	// lim is the plan's limits in the account's billing period; a key
	// with overrides has its own (Entry.lim).
	lim limits
	// id is the answer's `"owner_id":"…",` (owner: its first ownerLen
	// bytes) then `"plan":"…","scopes":[…],` (scopes), as encoding/json
	// renders those fields of the answer's key object; with lim, the map
	// key that interns the shape (shapeKey).
	id       string
	ownerLen int
	// withID: the owner part starts with the answer's `"key_id":…,`,
	// for the rare key id that JSON must escape (such a shape is the
	// key's own); otherwise the answer writes the id as it is.
	withID bool
}

// limits are a key's numbers that follow from its plan, its overrides and
// its account's billing period: the same for most keys of an account.
type limits struct {
	// rate and burst are per second and calls at once; quota is per
	// window.
	rate, burst, quota int64
	// periodStart and periodEnd are the account's billing period (unix
	// ns), both 0 for calendar months.
	periodStart, periodEnd int64
}

// shapeKey names a shape in the table: its rendering and its numbers.
type shapeKey struct {
	id  string
	lim limits
}

func (s *shape) owner() string      { return s.id[:s.ownerLen] }
func (s *shape) planScopes() string { return s.id[s.ownerLen:] }

// metaJSON is a key's metadata (interned with unique.Make: many keys have
// the same, {} most of all): raw as read (keys.ReadableMeta), for tokens,
// and as the answer renders it when that differs ("" when it does not).
type metaJSON struct {
	raw, answer string
}

// shapes interns shapes by their rendering and limits (which name every
// field a shape has), holding each weakly (and nothing else, so that a
// shape's cleanup, which holds the table, does not keep the shape alive):
// a shape no entry points to any more is collected, and its slot removed,
// so the table never outgrows the cache however keys come and go.
type shapes struct {
	mu sync.Mutex
	m  map[shapeKey]weak.Pointer[shape]
}

// intern returns the shape equal to s, s itself when there is none yet.
func (t *shapes) intern(s *shape) *shape {
	id := shapeKey{id: s.id, lim: s.lim}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[shapeKey]weak.Pointer[shape]{}
	}
	if old := t.m[id].Value(); old != nil {
		return old
	}
	wp := weak.Make(s)
	t.m[id] = wp
	// The cleanup holds the id and the weak pointer, never s (which would
	// keep s alive): it removes the slot unless a newer shape took it.
	runtime.AddCleanup(s, func(id shapeKey) {
		t.mu.Lock()
		if t.m[id] == wp {
			delete(t.m, id)
		}
		t.mu.Unlock()
	}, id)
	return s
}

// len returns the number of shapes interned, collected ones whose cleanup
// has not run yet included.
func (t *shapes) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
