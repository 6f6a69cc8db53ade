package notices

import (
	"time"

	"github.com/keyhold/keyhold/internal/quota"
)

// MinPace is how much of a window must have passed before its pace says
// anything: in the first minutes one burst would forecast the quota gone
// by lunchtime.
const MinPace = time.Hour

// Forecast says when a quota runs out at this window's pace so far (used
// units over the time elapsed since the window started): runsOut is that
// moment and ok is true when it falls inside the window. ok is false when
// the quota will not run out this window at this pace, when too little of
// the window has passed to have a pace (the first hour), or when there is
// no limit. A quota already used up ran out now: runsOut is now, ok true.
func Forecast(used, limit int64, w quota.Window, now time.Time) (runsOut time.Time, ok bool) {
	if limit <= 0 || !now.Before(w.End) {
		return time.Time{}, false
	}
	if used >= limit {
		return now, true
	}
	elapsed := now.Sub(w.Start)
	if used <= 0 || elapsed < MinPace {
		return time.Time{}, false
	}
	// left / (used / elapsed), in float: used × elapsed overflows int64
	// for large quotas.
	left := float64(limit - used)
	f := left / float64(used) * float64(elapsed)
	if f >= float64(w.End.Sub(now)) {
		// Compared as floats: a slow pace on a large quota is centuries,
		// past what a Duration holds.
		return time.Time{}, false
	}
	return now.Add(time.Duration(f)), true
}
