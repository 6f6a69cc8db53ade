package verify

import (
	"context"
	"math"
	"time"
)

// Decision is what Limits decided for one call.
type Decision struct {
	RateLimited   bool
	QuotaExceeded bool
	RateLimit     int64     // the burst: calls allowed at once
	RateRemaining int64     // calls left now
	RateReset     time.Time // when the limiter is full again
	QuotaLimit    int64
	QuotaUsed     int64
	QuotaReset    time.Time // end of the quota window
	RetryAfter    time.Duration
	// Stale: the key changed since it was cached (another instance changed
	// it); nothing was taken, and the verifier reads the key again.
	Stale bool
}

// QuotaRemaining is what is left of the quota, never negative.
func (d *Decision) QuotaRemaining() int64 { return max(0, d.QuotaLimit-d.QuotaUsed) }

// Limits takes a call's cost from a key's rate limit and quota. Take
// consumes both or neither: a call refused by the quota gives its rate
// back. Peek reports without consuming. The in-memory version counts per
// process; the Redis version (scale-out) shares counts between instances.
type Limits interface {
	Take(ctx context.Context, e *Entry, cost int64, now time.Time) (Decision, error)
	Peek(ctx context.Context, e *Entry, now time.Time) (Decision, error)
}

// MemoryLimits counts in the key's in-process state with atomic
// operations: exact under any concurrency within one process.
type MemoryLimits struct{}

// Take implements Limits.
func (MemoryLimits) Take(_ context.Context, e *Entry, cost int64, now time.Time) (Decision, error) {
	st := e.state
	w := st.windowFor(e, now)
	d := Decision{RateLimit: e.Burst, QuotaLimit: e.Quota, QuotaReset: w.End}

	// GCRA: the theoretical arrival time (tat) moves forward by one
	// emission interval per unit of cost; a call is allowed while tat stays
	// within burst intervals of now.
	interval := max(1, int64(time.Second)/max(1, e.Rate))
	tolerance := interval * e.Burst
	inc := interval * cost
	nowNs := now.UnixNano()
	for {
		old := st.tat.Load()
		tat := max(old, nowNs)
		next := tat + inc
		if next-nowNs > tolerance {
			d.RateLimited = true
			d.RateRemaining = max(0, (tolerance-(tat-nowNs))/interval)
			d.RetryAfter = time.Duration(next - nowNs - tolerance)
			d.RateReset = time.Unix(0, tat)
			d.QuotaUsed = st.used.Load()
			return d, nil
		}
		if cost == 0 || st.tat.CompareAndSwap(old, next) {
			d.RateRemaining = (tolerance - (next - nowNs)) / interval
			d.RateReset = time.Unix(0, next)
			break
		}
	}

	for {
		used := st.used.Load()
		if used+cost > e.Quota {
			st.tat.Add(-inc) // give the rate back: a refused call consumes nothing
			d.QuotaExceeded = true
			d.QuotaUsed = used
			d.RateRemaining = min(e.Burst, d.RateRemaining+cost)
			d.RetryAfter = max(time.Second, w.End.Sub(now))
			return d, nil
		}
		if st.used.CompareAndSwap(used, used+cost) {
			d.QuotaUsed = used + cost
			return d, nil
		}
	}
}

// Peek implements Limits.
func (MemoryLimits) Peek(_ context.Context, e *Entry, now time.Time) (Decision, error) {
	st := e.state
	w := st.windowFor(e, now)
	interval := max(1, int64(time.Second)/max(1, e.Rate))
	tolerance := interval * e.Burst
	nowNs := now.UnixNano()
	tat := max(st.tat.Load(), nowNs)
	return Decision{
		RateLimit: e.Burst, RateRemaining: max(0, (tolerance-(tat-nowNs))/interval), RateReset: time.Unix(0, tat),
		QuotaLimit: e.Quota, QuotaUsed: st.used.Load(), QuotaReset: w.End,
	}, nil
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

var _ Limits = MemoryLimits{}

// Shared is implemented by Limits that share counts between instances and
// so also carry each key's change counter (generation): an entry cached with
// an older generation is stale on every instance at once.
type Shared interface {
	// Generation returns the key's change counter, 0 when unknown.
	Generation(ctx context.Context, keyID string) int64
	// Degraded reports that sharing is down and counting is local.
	Degraded() bool
}
