package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The collector's default for a verification server, unless GOGC or
// GOMEMLIMIT are set: after each collection GOGC is set so that the heap
// may grow by 4× its live size (GOGC 400) while that is small, but by no
// more than gcHeadroom beyond it, and never by less than its live size
// (GOGC 100, Go's own default).
//
// Why: with a small heap the default of 100 collects ~20 times a second
// under load, ~15 % of the CPU per verification, which 400 avoids; but a
// fixed 400 lets a large key cache take five times its size (100 000
// cached keys: ~290 MiB resident), and the fixed 256 MiB soft limit that
// came with it made a cache larger than that collect without end. So the
// allowance is absolute (gcHeadroom) once the heap is past a few MiB, and
// proportional (100 %) once it is past gcHeadroom: a server holding a
// million keys uses twice their live size at most, as any Go program.
const (
	gcHeadroom   = 64 << 20
	gcMaxPercent = 400
	gcMinPercent = 100
)

// gcPercentFor returns the GOGC for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := int(min(uint64(gcMaxPercent), gcHeadroom*100/live))
	return max(gcMinPercent, p)
}

// tuneGC applies the default above unless GOGC or GOMEMLIMIT are set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(gcMaxPercent)
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, percent: gcMaxPercent}
	t.arm()
	go returnWhenQuiet(time.NewTicker(quietInterval).C, readHeap, debug.FreeOSMemory)
}

// A server that goes quiet after a burst (a cache warming up: 100 000 key
// reads leave ~70 MiB of garbage at that size) holds on to the memory the
// burst used: the collector only runs again when the heap grows, or after
// two minutes, and Go's scavenger returns free memory only down to 10 %
// above the heap goal, which the tuner puts up to twice the live heap. So
// at 100 000 cached keys an idle server held ~215 MiB resident for ~75
// MiB live. returnWhenQuiet gives the memory back once the process has
// gone quiet: every quietInterval it compares what a collection would
// free now (garbage, and free pages not yet returned) with what was
// allocated meanwhile, and when there is much to free and the allocation
// rate would take at least quietFor to use it up, it collects and returns
// the free memory (debug.FreeOSMemory). Cost: one collection per burst
// that ends, when the process is nearly idle; under load the allocation
// rate keeps it from
// running, and at a trickle it adds at most one collection to each the
// trickle causes. (Measured: right after 100 000 keys were created and
// warmed, the server is not quiet for minutes: it allocates ~6 MiB/s
// fanning out their events and listing every key's state in each usage
// flush, and collects every ~12 s; this returns the memory once that
// stops.)
const (
	quietInterval = 5 * time.Second
	quietFor      = 30 * time.Second
	// returnMin is the least spare memory worth a collection.
	returnMin = 16 << 20
)

// heapReading is what returnWhenQuiet reads of the heap (bytes).
type heapReading struct {
	allocs  uint64 // allocated since the process began
	live    uint64 // live after the last collection
	objects uint64 // in objects now, live or garbage
	free    uint64 // free and not yet returned to the OS
}

// spare is what a collection now would leave free, at most.
func (r heapReading) spare() uint64 {
	return r.free + r.objects - min(r.live, r.objects)
}

// quietReturn reports whether to collect and return memory, given the
// readings quietInterval apart: the spare memory is at least returnMin and
// a quarter of the live heap, and allocating at the interval's rate would
// take quietFor or more to use it up.
func quietReturn(prev, cur heapReading) bool {
	sp := cur.spare()
	if sp < returnMin || sp < cur.live/4 {
		return false
	}
	return (cur.allocs-prev.allocs)*uint64(quietFor/quietInterval) < sp
}

var heapSamples = []string{"/gc/heap/allocs:bytes", "/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes"}

// readHeap reads the heap's metrics.
func readHeap() heapReading {
	s := make([]metrics.Sample, len(heapSamples))
	for i, n := range heapSamples {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return heapReading{allocs: v(0), live: v(1), objects: v(2), free: v(3)}
}

// returnWhenQuiet reads the heap at every tick and calls free when
// quietReturn says so.
func returnWhenQuiet(tick <-chan time.Time, read func() heapReading, free func()) {
	prev := read()
	for range tick {
		cur := read()
		if quietReturn(prev, cur) {
			free()
			cur = read()
		}
		prev = cur
	}
}

// gcTuner re-derives GOGC from the live heap after every collection: a
// sentinel object, unreachable as soon as it is made, has a cleanup that
// runs after the collection that found it so, retunes and arms the next.
type gcTuner struct {
	sample  []metrics.Sample
	percent int
}

// gcSentinel is larger than the tiny allocator's 16 bytes, which batches
// small objects and would keep it alive with its neighbours.
type gcSentinel struct{ _ [32]byte }

func (t *gcTuner) arm() {
	runtime.AddCleanup(new(gcSentinel), func(t *gcTuner) {
		t.retune()
		t.arm()
	}, t)
}

// retune sets GOGC for the live heap the last collection left, when it
// changed by more than a tenth (each change costs a heap lock).
func (t *gcTuner) retune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(t.sample[0].Value.Uint64())
	if d := p - t.percent; d*10 > t.percent || -d*10 > t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}
