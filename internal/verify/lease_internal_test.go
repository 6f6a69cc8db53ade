package verify

import "testing"

// TestLeaseSize: a lease is no bigger than its key's next lease size, a
// sixteenth of the burst, a second of the rate and a sixty-fourth of what
// the window has left, never smaller than the call, and never taken for a
// pooled quota.
func TestLeaseSize(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		size, rate, burst, used int64
		quota, cost, want       int64
		pooled                  bool
	}{
		{"per call until busy", 1, 1e6, 1e6, 0, 1e9, 1, 1, false},
		{"the lease size", 64, 1e6, 1e6, 0, 1e9, 1, 64, false},
		{"a sixteenth of the burst", 64, 1e6, 320, 0, 1e9, 1, 20, false},
		{"a second of the rate", 64, 10, 1e6, 0, 1e9, 1, 10, false},
		{"far from the edge only", 64, 1e6, 1e6, 1e9 - 640, 1e9, 1, 10, false},
		{"at the edge, the call alone", 64, 1e6, 1e6, 1e9 - 63, 1e9, 1, 1, false},
		{"never below the cost", 64, 1e6, 1e6, 1e9 - 63, 1e9, 5, 5, false},
		{"a cost above the lease", 4, 1e6, 1e6, 0, 1e9, 9, 9, false},
		{"pooled: no lease", 64, 1e6, 1e6, 0, 1e9, 1, 1, true},
	} {
		e := &Entry{lim: &limits{rate: tc.rate, burst: tc.burst, quota: tc.quota}, state: &keyState{}}
		if tc.pooled {
			e.pool = &pool{}
		}
		e.state.used.Store(tc.used)
		sh := &shared{}
		sh.lease.size = tc.size
		if got := leaseSize(e, sh, tc.cost); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
