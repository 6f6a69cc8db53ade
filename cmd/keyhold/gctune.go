package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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
