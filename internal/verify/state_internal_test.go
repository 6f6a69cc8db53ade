package verify

import (
	"testing"
	"time"
	"unsafe"
)

// A drain hands over the rolled-over snapshots before the counts since,
// and keeps no list behind: one kept for reuse was a Usage's worth of
// memory for every key ever counted.
func TestDrainKeepsNoList(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC)
	st := &keyState{keyID: "k", accountID: "a"}
	st.hour.Store(hourOf(now))
	st.count(Valid, false, 2, now)
	st.count(RateLimited, false, 0, now.Add(time.Hour)) // rolls the hour over
	rows := st.drain(nil)
	if len(rows) != 2 || rows[0].Valid != 1 || rows[0].Cost != 2 || rows[1].RateLimited != 1 || !rows[0].Hour.Before(rows[1].Hour) {
		t.Fatalf("drained %+v", rows)
	}
	if st.pending != nil {
		t.Fatalf("a drained state keeps a list of cap %d", cap(*st.pending))
	}
	if rows := st.drain(nil); len(rows) != 0 {
		t.Fatalf("a second drain gave %+v", rows)
	}
	// The hour is stored in hours: the row's hour is the hour's start.
	if want := now.Add(time.Hour).Truncate(time.Hour); !rows[1].Hour.Equal(want) {
		t.Errorf("second row's hour %v, want %v", rows[1].Hour, want)
	}
}

// TestStateSizes holds the counting state a key keeps for good (one per
// key counted; the Verifier allocates them in slabs) and its cache entry
// to their sizes: every byte counts 100 000 times at 100 000 keys.
func TestStateSizes(t *testing.T) {
	if got := unsafe.Sizeof(keyState{}); got > 168 {
		t.Errorf("keyState is %d bytes, want at most 168", got)
	}
	// An entry is made one by one (a re-read replaces it), so the heap's
	// size class is what it costs: 128 bytes holds up to 128.
	if got := unsafe.Sizeof(Entry{}); got > 128 {
		t.Errorf("Entry is %d bytes, want at most 128", got)
	}
}
