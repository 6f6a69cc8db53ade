package verify

import (
	"testing"
	"time"
)

// A drain hands over the rolled-over snapshots before the counts since,
// and keeps no list behind: one kept for reuse was a Usage's worth of
// memory for every key ever counted.
func TestDrainKeepsNoList(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC)
	st := &keyState{keyID: "k", accountID: "a"}
	st.hour.Store(now.Unix() / 3600 * 3600)
	st.count(Valid, false, 2, now)
	st.count(RateLimited, false, 0, now.Add(time.Hour)) // rolls the hour over
	rows := st.drain(nil)
	if len(rows) != 2 || rows[0].Valid != 1 || rows[0].Cost != 2 || rows[1].RateLimited != 1 || !rows[0].Hour.Before(rows[1].Hour) {
		t.Fatalf("drained %+v", rows)
	}
	if st.pending != nil {
		t.Fatalf("a drained state keeps a list of cap %d", cap(st.pending))
	}
	if rows := st.drain(nil); len(rows) != 0 {
		t.Fatalf("a second drain gave %+v", rows)
	}
}
