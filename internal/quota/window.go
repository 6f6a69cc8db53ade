// Package quota owns the rule for which quota window a key counts in: a
// live subscription's billing period, else the calendar month in UTC, with
// a period whose renewal is late rolled forward. The verifier (hot path),
// the store (loading a key's period) and the pages all take it from here,
// so the window a page shows is the one the verifier counts in.
package quota

import "time"

// Window is a quota window [Start, End). The zero Window, as a period,
// means calendar months.
type Window struct {
	Start, End time.Time
}

// Period is the quota period of a subscription: its billing period while
// it is live (paid for: billing.Live) and has one, else the zero Window,
// which WindowAt reads as calendar months.
func Period(live bool, start, end *time.Time) Window {
	if !live || start == nil || end == nil {
		return Window{}
	}
	return Window{Start: *start, End: *end}
}

// calendarMonth is the UTC month holding t.
func calendarMonth(t time.Time) Window {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Window{Start: start, End: start.AddDate(0, 1, 0)}
}

// WindowAt returns the quota window holding now: the billing period when
// one is known, else the calendar month in UTC. A period that has ended
// without its renewal being reported yet (the webhook is late) rolls
// forward by whole months, as Stripe renews a monthly subscription, so
// that usage starts again at the period end and quota.reset is the end
// Stripe will report.
func WindowAt(now time.Time, period Window) Window {
	if period.Start.IsZero() || period.End.IsZero() || !period.End.After(period.Start) || now.Before(period.Start) {
		return calendarMonth(now)
	}
	if now.Before(period.End) {
		return period
	}
	day := anchorDay(period)
	w := Window{Start: period.End}
	for n := 1; n <= 1200; n++ {
		w.End = monthsOn(period.End, n, day)
		if now.Before(w.End) {
			return w
		}
		w.Start = w.End
	}
	return calendarMonth(now) // a century without a renewal
}

// anchorDay is the day of the month a monthly period renews on. Stripe
// keeps the billing anchor's day and clamps it to the end of shorter
// months, so a period that ends on the last day of a month, earlier in the
// month than it started (Jan 31 → Feb 28), was clamped: the anchor is its
// start's day.
func anchorDay(p Window) int {
	end := p.End.UTC()
	d := end.Day()
	if end.AddDate(0, 0, 1).Month() != end.Month() && p.Start.UTC().Day() > d {
		d = p.Start.UTC().Day()
	}
	return d
}

// monthsOn is t moved n months on, on day (or the last day of that month
// when it is shorter), at t's time of day, in UTC. time.AddDate would
// instead overflow Jan 31 + 1 month into March.
func monthsOn(t time.Time, n, day int) time.Time {
	t = t.UTC()
	first := time.Date(t.Year(), t.Month()+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(day, last)-1)
}
