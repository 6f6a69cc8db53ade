package verify

import (
	"crypto/rand"
	"testing"
)

func randomHash() (h [32]byte) {
	_, _ = rand.Read(h[:])
	return h
}

// The table grows as secrets are added one by one (a portal making keys
// all day) and keeps every one; random hashes stay out.
func TestFilterGrowsAndKeepsEverySecret(t *testing.T) {
	f := newFilter()
	f.finishLoad(newHashTable(0), "", 0)
	var added [][32]byte
	for range 100_000 {
		h := randomHash()
		f.add(&h)
		added = append(added, h)
	}
	for i := range added {
		if !f.has(&added[i]) {
			t.Fatalf("secret %d of %d lost", i, len(added))
		}
	}
	for range 100_000 {
		h := randomHash()
		if f.has(&h) {
			t.Fatal("a random hash is in the filter") // 1 in 10^8 or so
		}
	}
	n, bytes := f.size()
	if n != len(added) || bytes > 24*n {
		t.Errorf("%d secrets in %d bytes", n, bytes)
	}
	// A hash whose first 8 bytes are zero is stored as 1, never as the
	// empty slot.
	var zero [32]byte
	f.add(&zero)
	if !f.has(&zero) {
		t.Error("the all-zero prefix is lost")
	}
}

// Secrets added while a load reads the database are in the loaded table,
// even though the query may have read past them.
func TestFilterKeepsWhatIsAddedDuringALoad(t *testing.T) {
	f := newFilter()
	f.startLoad()
	h := randomHash()
	f.add(&h)
	f.finishLoad(newHashTable(0), "", 0)
	if !f.has(&h) {
		t.Error("a secret added during the load is lost")
	}
}

// Announcements heard out of order move the mark only over numbers all
// heard; another epoch's numbers never do.
func TestFilterMarkFollowsContiguousNumbers(t *testing.T) {
	f := newFilter()
	f.finishLoad(newHashTable(0), "e1", 5)
	h := [3][32]byte{randomHash(), randomHash(), randomHash()}
	f.heard("e1", 7, &h[0])
	if f.mark != 5 {
		t.Fatalf("mark %d after hearing 7 of 6,7", f.mark)
	}
	f.heard("e1", 6, &h[1])
	if f.mark != 7 {
		t.Fatalf("mark %d after hearing 6 and 7", f.mark)
	}
	f.heard("e2", 8, &h[2])
	if f.mark != 7 || !f.has(&h[2]) {
		t.Fatalf("another epoch: mark %d, hash kept %v", f.mark, f.has(&h[2]))
	}
	r := randomHash()
	if !f.absent(&r, "e1", 7, f.behindSince) || f.absent(&r, "e1", 8, f.behindSince) || f.absent(&r, "e2", 1, f.behindSince) {
		t.Error("absent() trusts a filter that has not heard every number")
	}
}
