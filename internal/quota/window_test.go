package quota_test

import (
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/quota"
)

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// TestWindowAt pins the quota window rule: the billing period while now
// is in it, rolled forward month by month on Stripe's anchor day while
// the renewal has not been reported, else the calendar month in UTC.
func TestWindowAt(t *testing.T) {
	mid := quota.Window{Start: day(2027, 5, 10, 8), End: day(2027, 6, 10, 8)}
	cases := []struct {
		name   string
		now    time.Time
		period quota.Window
		want   quota.Window
	}{
		{"no period: the calendar month", day(2027, 2, 14, 12), quota.Window{}, quota.Window{Start: day(2027, 2, 1, 0), End: day(2027, 3, 1, 0)}},
		{"an empty period: the calendar month", day(2027, 2, 14, 12), quota.Window{Start: day(2027, 2, 1, 0), End: day(2027, 2, 1, 0)},
			quota.Window{Start: day(2027, 2, 1, 0), End: day(2027, 3, 1, 0)}},
		{"before the period: the calendar month", day(2027, 5, 9, 0), mid, quota.Window{Start: day(2027, 5, 1, 0), End: day(2027, 6, 1, 0)}},
		{"at its start", mid.Start, mid, mid},
		{"just before its end", mid.End.Add(-time.Nanosecond), mid, mid},
		{"at its end: rolled once", mid.End, mid, quota.Window{Start: day(2027, 6, 10, 8), End: day(2027, 7, 10, 8)}},
		{"two months late: rolled twice", day(2027, 7, 20, 0), mid, quota.Window{Start: day(2027, 7, 10, 8), End: day(2027, 8, 10, 8)}},
		{"anchored on the 31st, into February", day(2027, 2, 1, 0), quota.Window{Start: day(2026, 12, 31, 8), End: day(2027, 1, 31, 8)},
			quota.Window{Start: day(2027, 1, 31, 8), End: day(2027, 2, 28, 8)}},
		{"anchored on the 31st, out of February", day(2027, 3, 1, 0), quota.Window{Start: day(2027, 1, 31, 8), End: day(2027, 2, 28, 8)},
			quota.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 31, 8)}},
		{"anchored on the 31st, rolled past February", day(2027, 3, 5, 0), quota.Window{Start: day(2026, 12, 31, 8), End: day(2027, 1, 31, 8)},
			quota.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 31, 8)}},
		{"anchored on the 30th, leap February", day(2028, 3, 1, 0), quota.Window{Start: day(2028, 1, 30, 8), End: day(2028, 2, 29, 8)},
			quota.Window{Start: day(2028, 2, 29, 8), End: day(2028, 3, 30, 8)}},
		{"anchored on the 28th keeps the 28th", day(2027, 3, 1, 0), quota.Window{Start: day(2027, 1, 28, 8), End: day(2027, 2, 28, 8)},
			quota.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 28, 8)}},
		{"a prorated first period keeps its end's day", day(2027, 2, 2, 0), quota.Window{Start: day(2027, 1, 20, 8), End: day(2027, 2, 1, 8)},
			quota.Window{Start: day(2027, 2, 1, 8), End: day(2027, 3, 1, 8)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := quota.WindowAt(tc.now, tc.period)
			if !got.Start.Equal(tc.want.Start) || !got.End.Equal(tc.want.End) {
				t.Errorf("WindowAt(%v, %v–%v) = %v–%v, want %v–%v", tc.now, tc.period.Start, tc.period.End, got.Start, got.End, tc.want.Start, tc.want.End)
			}
		})
	}
}

// TestPeriod pins which subscriptions have a period of their own: a live
// one with both ends; anything else counts in calendar months.
func TestPeriod(t *testing.T) {
	start, end := day(2027, 5, 10, 8), day(2027, 6, 10, 8)
	cases := []struct {
		name       string
		live       bool
		start, end *time.Time
		want       quota.Window
	}{
		{"live with a period", true, &start, &end, quota.Window{Start: start, End: end}},
		{"not live", false, &start, &end, quota.Window{}},
		{"live without a start", true, nil, &end, quota.Window{}},
		{"live without an end", true, &start, nil, quota.Window{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := quota.Period(tc.live, tc.start, tc.end); got != tc.want {
				t.Errorf("Period = %v, want %v", got, tc.want)
			}
		})
	}
}
