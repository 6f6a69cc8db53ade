package templates

import (
	"strconv"
	"time"
)

// timeAgo says how long before now t was, the way people say it: "just
// now", "3 minutes ago", "2 hours ago", "yesterday", "5 days ago", and from
// a week on the date ("Jan 2, 2026", UTC). A t after now (clock skew between
// instances) is "just now".
func timeAgo(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	case d < 7*24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
	default:
		return shortDate(t)
	}
}

// plural is "1 minute" or "n minutes".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// shortDate is t's UTC date, e.g. "Jan 2, 2026".
func shortDate(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

// dateTimeUTC is t in UTC to the minute, for sentences: "Mar 5, 2026 at
// 10:00 UTC".
func dateTimeUTC(t time.Time) string { return t.UTC().Format("Jan 2, 2006 at 15:04 UTC") }

// exactTime is t in UTC to the second, for title attributes:
// "2026-01-02 15:04:05 UTC".
func exactTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// machineTime is t for a <time datetime> attribute (RFC 3339, UTC).
func machineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// nowOr is now, or the wall clock when a handler left Layout.Now unset.
func nowOr(now time.Time) time.Time {
	if now.IsZero() {
		return time.Now()
	}
	return now
}

// timeUntil says how far after now t is: "in 5 minutes", "in 23 hours",
// "in 6 days"; a t already past is "now".
func timeUntil(t, now time.Time) string {
	d := t.Sub(nowOr(now))
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return "in " + plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return "in " + plural(int(d/time.Hour), "hour")
	default:
		return "in " + plural(int(d/(24*time.Hour)), "day")
	}
}
