package verify_test

import (
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/verify"
)

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// TestWindowAt pins the quota window rule: the billing period while now
// is in it, rolled forward month by month on Stripe's anchor day while
// the renewal has not been reported, else the calendar month in UTC.
func TestWindowAt(t *testing.T) {
	mid := verify.Window{Start: day(2027, 5, 10, 8), End: day(2027, 6, 10, 8)}
	cases := []struct {
		name   string
		now    time.Time
		period verify.Window
		want   verify.Window
	}{
		{"no period: the calendar month", day(2027, 2, 14, 12), verify.Window{}, verify.Window{Start: day(2027, 2, 1, 0), End: day(2027, 3, 1, 0)}},
		{"an empty period: the calendar month", day(2027, 2, 14, 12), verify.Window{Start: day(2027, 2, 1, 0), End: day(2027, 2, 1, 0)},
			verify.Window{Start: day(2027, 2, 1, 0), End: day(2027, 3, 1, 0)}},
		{"before the period: the calendar month", day(2027, 5, 9, 0), mid, verify.Window{Start: day(2027, 5, 1, 0), End: day(2027, 6, 1, 0)}},
		{"at its start", mid.Start, mid, mid},
		{"just before its end", mid.End.Add(-time.Nanosecond), mid, mid},
		{"at its end: rolled once", mid.End, mid, verify.Window{Start: day(2027, 6, 10, 8), End: day(2027, 7, 10, 8)}},
		{"two months late: rolled twice", day(2027, 7, 20, 0), mid, verify.Window{Start: day(2027, 7, 10, 8), End: day(2027, 8, 10, 8)}},
		{"anchored on the 31st, into February", day(2027, 2, 1, 0), verify.Window{Start: day(2026, 12, 31, 8), End: day(2027, 1, 31, 8)},
			verify.Window{Start: day(2027, 1, 31, 8), End: day(2027, 2, 28, 8)}},
		{"anchored on the 31st, out of February", day(2027, 3, 1, 0), verify.Window{Start: day(2027, 1, 31, 8), End: day(2027, 2, 28, 8)},
			verify.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 31, 8)}},
		{"anchored on the 31st, rolled past February", day(2027, 3, 5, 0), verify.Window{Start: day(2026, 12, 31, 8), End: day(2027, 1, 31, 8)},
			verify.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 31, 8)}},
		{"anchored on the 30th, leap February", day(2028, 3, 1, 0), verify.Window{Start: day(2028, 1, 30, 8), End: day(2028, 2, 29, 8)},
			verify.Window{Start: day(2028, 2, 29, 8), End: day(2028, 3, 30, 8)}},
		{"anchored on the 28th keeps the 28th", day(2027, 3, 1, 0), verify.Window{Start: day(2027, 1, 28, 8), End: day(2027, 2, 28, 8)},
			verify.Window{Start: day(2027, 2, 28, 8), End: day(2027, 3, 28, 8)}},
		{"a prorated first period keeps its end's day", day(2027, 2, 2, 0), verify.Window{Start: day(2027, 1, 20, 8), End: day(2027, 2, 1, 8)},
			verify.Window{Start: day(2027, 2, 1, 8), End: day(2027, 3, 1, 8)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := verify.WindowAt(tc.now, tc.period)
			if !got.Start.Equal(tc.want.Start) || !got.End.Equal(tc.want.End) {
				t.Errorf("WindowAt(%v, %v–%v) = %v–%v, want %v–%v", tc.now, tc.period.Start, tc.period.End, got.Start, got.End, tc.want.Start, tc.want.End)
			}
		})
	}
}
