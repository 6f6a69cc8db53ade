package keys

import (
	"context"
	"errors"
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
	u.TokenIssued += o.TokenIssued
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

// Granularities of a usage series.
const (
	ByDay  = "day"
	ByHour = "hour"
)

// MaxUsageHours is the longest span an hourly series answers for.
const MaxUsageHours = 31 * 24

// UsageBucket is one bucket of a usage series: a UTC day or hour from
// Start.
type UsageBucket struct {
	Start time.Time
	UsageCounts
}

// UsageRange is the span of a usage series: buckets of Granularity from
// the one holding From to the one holding the instant before To.
type UsageRange struct {
	Granularity string // ByDay or ByHour
	From, To    time.Time
}

// buckets checks r (From before To, at most MaxUsageDays days or
// MaxUsageHours hours apart) and returns the start of its first bucket
// and how many it has. Errors: EINVALID with field "from", "to" or
// "granularity".
func (r UsageRange) buckets() (first time.Time, n int, err error) {
	unit, most, words := day, MaxUsageDays*day, fmt.Sprintf("%d days", MaxUsageDays)
	switch r.Granularity {
	case ByDay:
	case ByHour:
		unit, most, words = time.Hour, MaxUsageHours*time.Hour, fmt.Sprintf("%d hours (31 days)", MaxUsageHours)
	default:
		return time.Time{}, 0, fieldErr("granularity", "The granularity is day or hour.")
	}
	from, to := r.From.UTC(), r.To.UTC()
	switch {
	case !from.Before(to):
		return time.Time{}, 0, fieldErr("from", "from must be before to.")
	case to.Sub(from) > most:
		return time.Time{}, 0, fieldErr("from", "A "+r.Granularity+" series covers at most "+words+": move from or to.")
	}
	first = from.Truncate(unit)
	return first, int((to.Sub(first) + unit - 1) / unit), nil
}

// fieldErr is an EINVALID error of one field.
func fieldErr(field, msg string) error {
	fe := keyhold.FieldErrors{{Field: field, Message: msg}}
	return fe.Err()
}

// series lays hourly rows out as r's buckets, oldest first, zeros
// included, with Daily or Hourly: the one bucketing of usage.
func (r UsageRange) series(rows []HourlyUsage, first time.Time, n int) []UsageBucket {
	out := make([]UsageBucket, 0, n)
	if r.Granularity == ByHour {
		for _, h := range Hourly(rows, first, n) {
			out = append(out, UsageBucket{Start: h.Hour, UsageCounts: h.UsageCounts})
		}
		return out
	}
	for _, d := range Daily(rows, first, n) {
		out = append(out, UsageBucket{Start: d.Day, UsageCounts: d.UsageCounts})
	}
	return out
}

// KeyUsageSeries returns any account's key's usage over r (the caller
// has the right to see it: a root key, an operator). Errors: EINVALID for
// a bad range, ENOTFOUND.
func (s *Service) KeyUsageSeries(ctx context.Context, id string, r UsageRange) ([]UsageBucket, error) {
	first, n, err := r.buckets()
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.store.KeyUsageHourly(ctx, id, first)
	if err != nil {
		return nil, fmt.Errorf("keys: key usage: %w", err)
	}
	return r.series(rows, first, n), nil
}

// AccountUsageSeries returns the usage of all of an account's keys over
// r. Errors: EINVALID for a bad range, ENOTFOUND for an unknown account.
func (s *Service) AccountUsageSeries(ctx context.Context, accountID string, r UsageRange) ([]UsageBucket, error) {
	first, n, err := r.buckets()
	if err != nil {
		return nil, err
	}
	if _, err := s.store.AccountPlan(ctx, accountID); errors.Is(err, ErrNotFound) {
		return nil, errNoAccount
	} else if err != nil {
		return nil, fmt.Errorf("keys: account usage: %w", err)
	}
	rows, err := s.store.AccountUsageHourly(ctx, accountID, first)
	if err != nil {
		return nil, fmt.Errorf("keys: account usage: %w", err)
	}
	return r.series(rows, first, n), nil
}
