package notices_test

import (
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/quota"
)

func TestForecast(t *testing.T) {
	dec := quota.Window{Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	day := func(d int, h int) time.Time {
		return dec.Start.Add(time.Duration(d-1)*24*time.Hour + time.Duration(h)*time.Hour)
	}
	for _, tc := range []struct {
		name        string
		used, limit int64
		now         time.Time
		want        time.Time // zero: no forecast
	}{
		{"start of the window: no pace yet", 50, 1000, dec.Start.Add(10 * time.Minute), time.Time{}},
		{"nothing used", 0, 1000, day(15, 0), time.Time{}},
		{"steady pace runs out inside the window", 500, 1000, day(11, 0), day(21, 0)},                           // 10 days for 500: 10 more
		{"steady pace lasts the window", 100, 1000, day(11, 0), time.Time{}},                                    // 10 days for 100: 90 more
		{"burst in the first hours", 800, 1000, dec.Start.Add(2 * time.Hour), dec.Start.Add(150 * time.Minute)}, // 400/h: 200 left in 30 min
		{"idle since: the pace is the window's average", 400, 1000, day(21, 0), time.Time{}},                    // 20 days for 400: 30 more
		{"exactly at the end is not this period", 500, 1000, day(16, 12), time.Time{}},
		{"already over", 1000, 1000, day(10, 0), day(10, 0)},
		{"past the limit", 1200, 1000, day(10, 0), day(10, 0)},
		{"no limit", 10, 0, day(10, 0), time.Time{}},
		{"huge quota, slow pace: no overflow", 1, 1 << 62, day(20, 0), time.Time{}},
		{"after the window", 900, 1000, dec.End, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := notices.Forecast(tc.used, tc.limit, dec, tc.now)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Errorf("Forecast(%d, %d, %s) = %s, %v; want %s", tc.used, tc.limit, tc.now, got, ok, tc.want)
			}
		})
	}
}
