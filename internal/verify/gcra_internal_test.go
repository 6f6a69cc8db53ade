package verify

import (
	"testing"
	"time"
)

// TestGCRAInEitherUnit: the limiter in memory (ns) and in Redis (µs) make
// the same decisions from the one helper: 10 a second, 5 at once.
func TestGCRAInEitherUnit(t *testing.T) {
	rate, burst := int64(10), int64(5)
	for _, unit := range []time.Duration{time.Nanosecond, time.Microsecond} {
		g := gcraOf(rate, burst, unit)
		ms := int64(time.Millisecond / unit)
		if g.interval != 100*ms || g.tolerance != 500*ms {
			t.Fatalf("%v: interval %d, tolerance %d", unit, g.interval, g.tolerance)
		}
		for _, tc := range []struct {
			name               string
			stored, now, cost  int64 // in ms
			ok                 bool
			remaining, waitFor int64 // remaining after the call (or now, refused); wait when refused, ms
		}{
			{"EmptyBucketTakesFive", 0, 1000, 5, true, 0, 0},
			{"EmptyBucketRefusesSix", 0, 1000, 6, false, 5, 100},
			{"FullBucketRefusesOne", 1500, 1000, 1, false, 0, 100},
			{"AfterOneIntervalOneFits", 1500, 1100, 1, true, 0, 0},
			{"PastTatIsNow", 200, 1000, 1, true, 4, 0},
			{"PeekIsCostZero", 1200, 1000, 0, true, 3, 0},
		} {
			tat, next, ok := g.next(tc.stored*ms, tc.now*ms, tc.cost)
			if ok != tc.ok {
				t.Errorf("%v %s: ok %v", unit, tc.name, ok)
				continue
			}
			if ok {
				if r := g.remaining(next, tc.now*ms); r != tc.remaining {
					t.Errorf("%v %s: remaining %d, want %d", unit, tc.name, r, tc.remaining)
				}
				continue
			}
			if r := g.remaining(tat, tc.now*ms); r != tc.remaining {
				t.Errorf("%v %s: remaining %d, want %d", unit, tc.name, r, tc.remaining)
			}
			if w := g.wait(tat, tc.now*ms, tc.cost); w != tc.waitFor*ms {
				t.Errorf("%v %s: wait %d, want %d", unit, tc.name, w/ms, tc.waitFor)
			}
		}
	}
}

// TestGCRAOfAZeroRateIsOnePerSecond: a rate of 0 (never configured so,
// but never a division by zero) counts as 1 a second.
func TestGCRAOfAZeroRateIsOnePerSecond(t *testing.T) {
	if g := gcraOf(0, 2, time.Nanosecond); g.interval != int64(time.Second) || g.tolerance != 2*int64(time.Second) {
		t.Errorf("%+v", g)
	}
}
