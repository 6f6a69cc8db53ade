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

func TestQuietReturn(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name      string
		prev, cur heapReading
		want      bool
	}{
		{"quiet after a burst: 70 MiB of garbage, nothing allocated",
			heapReading{allocs: 500 * mib}, heapReading{allocs: 500 * mib, live: 75 * mib, objects: 145 * mib}, true},
		{"free pages held count as spare",
			heapReading{}, heapReading{live: 75 * mib, objects: 75 * mib, free: 40 * mib}, true},
		{"a trickle is quiet: 70 MiB spare, 11 MiB in 5s (over 30s to use it up)",
			heapReading{allocs: 100 * mib}, heapReading{allocs: 111 * mib, live: 75 * mib, objects: 145 * mib}, true},
		{"12 MiB in 5s would use 70 MiB spare in under 30s",
			heapReading{allocs: 100 * mib}, heapReading{allocs: 112 * mib, live: 75 * mib, objects: 145 * mib}, false},
		{"under load: the spare memory is about to be reused",
			heapReading{allocs: 100 * mib}, heapReading{allocs: 200 * mib, live: 75 * mib, objects: 145 * mib}, false},
		{"too little to return (under 16 MiB)",
			heapReading{}, heapReading{live: 4 * mib, objects: 12 * mib, free: 2 * mib}, false},
		{"little beside a large live heap (under a quarter of it)",
			heapReading{}, heapReading{live: 800 * mib, objects: 900 * mib, free: 50 * mib}, false},
		{"objects read below the last live size (freed since)",
			heapReading{}, heapReading{live: 100 * mib, objects: 90 * mib, free: 30 * mib}, true},
	} {
		if got := quietReturn(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: quietReturn = %v, want %v (spare %d MiB)", tc.name, got, tc.want, tc.cur.spare()/mib)
		}
	}
}

// TestReturnWhenQuiet drives the loop with its own ticks: it frees once
// the heap is quiet with memory to spare, reads again after freeing, and
// does not free again while nothing new is spare.
func TestReturnWhenQuiet(t *testing.T) {
	const mib = 1 << 20
	readings := []heapReading{
		{allocs: 100 * mib, live: 10 * mib, objects: 60 * mib},  // start
		{allocs: 300 * mib, live: 60 * mib, objects: 120 * mib}, // tick 1: busy
		{allocs: 300 * mib, live: 60 * mib, objects: 120 * mib}, // tick 2: quiet, 60 MiB spare: free
		{allocs: 300 * mib, live: 60 * mib, objects: 60 * mib},  // after the free
		{allocs: 301 * mib, live: 60 * mib, objects: 61 * mib},  // tick 3: nothing spare
	}
	i := 0
	read := func() heapReading {
		r := readings[i]
		i++
		return r
	}
	frees := []int{}
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		returnWhenQuiet(tick, read, func() { frees = append(frees, i) })
		close(done)
	}()
	for range 3 {
		tick <- time.Now()
	}
	close(tick)
	<-done
	if len(frees) != 1 || frees[0] != 3 {
		t.Errorf("freed after readings %v, want once, after the third", frees)
	}
	if i != len(readings) {
		t.Errorf("%d readings, want %d", i, len(readings))
	}
}

// TestReturnWhenQuietReturns runs the loop on this process's own heap:
// 64 MiB of garbage (or the live heap's size, when the other tests of the
// binary hold more) and a quiet process make it return memory to the OS.
func TestReturnWhenQuietReturns(t *testing.T) {
	released := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	garbage := make([][]byte, max(64, readHeap().live>>20))
	for i := range garbage {
		garbage[i] = make([]byte, 1<<20)
	}
	runtime.KeepAlive(garbage) // garbage from here on
	before := released()
	tick := make(chan time.Time, 1)
	freed := make(chan struct{}, 1)
	go returnWhenQuiet(tick, readHeap, func() {
		debug.FreeOSMemory()
		freed <- struct{}{}
	})
	tick <- time.Now()
	select {
	case <-freed:
	case <-time.After(10 * time.Second):
		t.Fatal("64 MiB of garbage in a quiet process: nothing returned")
	}
	close(tick)
	if after := released(); after < before+32<<20 {
		t.Errorf("released %d MiB, then %d MiB: want at least 32 MiB more", before>>20, after>>20)
	}
}
