package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// MaxUsageDays is the longest span the usage methods answer for.
const MaxUsageDays = 366

const day = 24 * time.Hour

// Add adds o's counts to u.
func (u *UsageCounts) Add(o UsageCounts) {
	u.Valid += o.Valid
	u.RateLimited += o.RateLimited
	u.QuotaExceeded += o.QuotaExceeded
	u.ScopeDenied += o.ScopeDenied
	u.Invalid += o.Invalid
	u.Cost += o.Cost
}

// checkSpan refuses a span of n units outside 1..most.
func checkSpan(n, most int, unit string) error {
	if n < 1 || n > most {
		return keyhold.Errorf(keyhold.EINVALID, "Usage can be shown for 1 to %d %s.", most, unit)
	}
	return nil
}

// DailyUsage returns one of the account's keys' usage for the last days
// UTC days, today included, oldest first, with a zero entry for quiet days.
// Errors: ENOTFOUND when the key is not the account's, EINVALID when days
// is not in 1..MaxUsageDays.
func (s *Service) DailyUsage(ctx context.Context, accountID, id string, days int) ([]DailyUsage, error) {
	if err := checkSpan(days, MaxUsageDays, "days"); err != nil {
		return nil, err
	}
	if _, err := s.Get(ctx, accountID, id); err != nil {
		return nil, err
	}
	first := s.now().UTC().Truncate(day).AddDate(0, 0, -(days - 1))
	hours, err := s.store.KeyUsageHourly(ctx, id, first)
	if err != nil {
		return nil, fmt.Errorf("keys: daily usage: %w", err)
	}
	return Daily(hours, first, days), nil
}

// KeyTotals returns one of the account's keys' usage from since on, for
// example since the start of the quota window. Usage is kept by the hour,
// so the count starts at the beginning of the UTC hour holding since.
// Errors: ENOTFOUND when the key is not the account's.
func (s *Service) KeyTotals(ctx context.Context, accountID, id string, since time.Time) (UsageCounts, error) {
	if _, err := s.Get(ctx, accountID, id); err != nil {
		return UsageCounts{}, err
	}
	rows, err := s.store.KeyUsageHourly(ctx, id, since.UTC().Truncate(time.Hour))
	if err != nil {
		return UsageCounts{}, fmt.Errorf("keys: key totals: %w", err)
	}
	return Total(rows, time.Time{}), nil
}

// Daily sums hours into days UTC days from first (a UTC midnight) on, one
// entry a day, zero for quiet days; hours outside them are left out.
func Daily(hours []HourlyUsage, first time.Time, days int) []DailyUsage {
	out := make([]DailyUsage, days)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
	}
	for _, h := range hours {
		// Before first, the division would round towards day 0.
		if h.Hour.Before(first) {
			continue
		}
		if i := int(h.Hour.UTC().Sub(first) / day); i < days {
			out[i].UsageCounts.Add(h.UsageCounts)
		}
	}
	return out
}

// Hourly lays rows out as n UTC hours from first (the start of an hour)
// on, one entry an hour, zero for quiet hours; rows outside them are left
// out.
func Hourly(rows []HourlyUsage, first time.Time, n int) []HourlyUsage {
	out := make([]HourlyUsage, n)
	for i := range out {
		out[i].Hour = first.Add(time.Duration(i) * time.Hour)
	}
	for _, h := range rows {
		if h.Hour.Before(first) {
			continue
		}
		if i := int(h.Hour.UTC().Sub(first) / time.Hour); i < n {
			out[i].UsageCounts.Add(h.UsageCounts)
		}
	}
	return out
}

// Total sums the hours from since on.
func Total(hours []HourlyUsage, since time.Time) UsageCounts {
	var u UsageCounts
	for _, h := range hours {
		if !h.Hour.Before(since) {
			u.Add(h.UsageCounts)
		}
	}
	return u
}
