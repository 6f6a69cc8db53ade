package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{1 << 20, 400},  // a small heap: 4× its size, 4 MiB
		{16 << 20, 400}, // exactly 64 MiB of room
		{32 << 20, 200}, // 64 MiB of room, no more
		{64 << 20, 100},
		{600 << 20, 100}, // never below Go's default
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// TestTuneGC checks that the tuner retunes after collections (a live heap
// of 48 MiB asks for GOGC 133) and that GOGC or GOMEMLIMIT in the
// environment leave the collector alone. (The tuner stays armed for the
// rest of this test binary: it only changes how often it collects.)
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: the tuner changed GOGC to %d", got)
	}
	live := make([]byte, 48<<20)
	tuneGC(func(string) string { return "" })
	// The live heap is the whole test binary's, other tests running
	// beside this one included: the tuner must follow what it is (at
	// least the 48 MiB here, so at most 133, far from 400).
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the tuner runs after the collection
		got := debug.SetGCPercent(100)    // returns the current value, put back
		debug.SetGCPercent(got)
		metrics.Read(sample)
		heap := sample[0].Value.Uint64()
		want := gcPercentFor(heap)
		if heap >= 48<<20 && got <= 133 && got >= want-want/10 && got <= want+want/10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with a live heap of %d MiB GOGC is %d, want about %d (at most 133)", heap>>20, got, want)
		}
	}
	runtime.KeepAlive(live)
}
