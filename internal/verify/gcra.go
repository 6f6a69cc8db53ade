package verify

import "time"

// gcra is a key's rate limit as the generic cell rate algorithm sees it,
// in one unit of time (nanoseconds in memory, microseconds in Redis): the
// theoretical arrival time (tat) moves on by one emission interval per unit
// of cost, and a call is allowed while tat stays within tolerance (burst
// intervals) of now. It is the one Go copy of the arithmetic; take.lua
// holds the other, since a script cannot call Go.
type gcra struct {
	interval  int64 // time per unit of cost
	tolerance int64 // interval × burst
}

// gcraOf returns the limit of rate calls per second, burst at once, in
// unit.
func gcraOf(rate, burst int64, unit time.Duration) gcra {
	interval := max(1, int64(time.Second/unit)/max(1, rate))
	return gcra{interval: interval, tolerance: interval * burst}
}

// next is the tat after a call of cost at now, from the stored tat, and
// whether the call fits.
func (g gcra) next(stored, now, cost int64) (tat, next int64, ok bool) {
	tat = max(stored, now)
	next = tat + g.interval*cost
	return tat, next, next-now <= g.tolerance
}

// remaining is how many calls of cost 1 would be allowed at now with tat.
func (g gcra) remaining(tat, now int64) int64 {
	return max(0, (g.tolerance-(tat-now))/g.interval)
}

// wait is how long a call of cost refused at now with tat must wait.
func (g gcra) wait(tat, now, cost int64) int64 {
	return tat + g.interval*cost - now - g.tolerance
}
