package verify

import "time"

// Window is a quota window [Start, End).
type Window struct {
	Start, End time.Time
}

// calendarMonth is the UTC month holding t.
func calendarMonth(t time.Time) Window {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Window{Start: start, End: start.AddDate(0, 1, 0)}
}

// windowAt returns the quota window holding now: the billing period when
// one is known (rolled forward by whole months if its renewal has not been
// reported yet), else the calendar month in UTC.
func windowAt(now time.Time, period Window) Window {
	if period.Start.IsZero() || period.End.IsZero() || !period.End.After(period.Start) {
		return calendarMonth(now)
	}
	w := period
	for n := 1; !now.Before(w.End) && n < 1200; n++ {
		w = Window{Start: w.End, End: period.End.AddDate(0, n, 0)}
	}
	if now.Before(w.Start) {
		return calendarMonth(now)
	}
	return w
}
