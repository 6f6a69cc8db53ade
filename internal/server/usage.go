package server

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/quota"
	"github.com/keyhold/keyhold/templates"
)

// Spans of the usage views.
const (
	chartDays = overview.ChartDays // the 30-day charts
	csvDays   = 90                 // the CSV export
)

func usageTotals(u keys.UsageCounts) templates.UsageTotals {
	return templates.UsageTotals{Valid: u.Valid, RateLimited: u.RateLimited, QuotaExceeded: u.QuotaExceeded, ScopeDenied: u.ScopeDenied, Invalid: u.Invalid, TokenIssued: u.TokenIssued}
}

func usagePeriod(w quota.Window, u keys.UsageCounts) templates.UsagePeriod {
	return templates.UsagePeriod{Start: w.Start, End: w.End, UsageTotals: usageTotals(u)}
}

func dailySeries(days []keys.DailyUsage) templates.UsageSeries {
	s := templates.UsageSeries{Unit: templates.UsageByDay, Buckets: make([]templates.UsageBucket, len(days))}
	for i, d := range days {
		s.Buckets[i] = templates.UsageBucket{Start: d.Day, UsageTotals: usageTotals(d.UsageCounts)}
	}
	return s
}

func hourlySeries(hours []keys.HourlyUsage) templates.UsageSeries {
	s := templates.UsageSeries{Unit: templates.UsageByHour, Buckets: make([]templates.UsageBucket, len(hours))}
	for i, h := range hours {
		s.Buckets[i] = templates.UsageBucket{Start: h.Hour, UsageTotals: usageTotals(h.UsageCounts)}
	}
	return s
}

// usageCSVHeader is the first line of the CSV export.
var usageCSVHeader = []string{"date", "valid", "rate_limited", "quota_exceeded", "scope_denied", "invalid", "token_issued", "cost"}

// usageCSV writes days as CSV, oldest first, dates as YYYY-MM-DD (UTC).
func usageCSV(days []keys.DailyUsage) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(usageCSVHeader) // a bytes.Buffer does not fail
	for _, d := range days {
		_ = w.Write([]string{d.Day.UTC().Format(time.DateOnly),
			strconv.FormatInt(d.Valid, 10), strconv.FormatInt(d.RateLimited, 10),
			strconv.FormatInt(d.QuotaExceeded, 10), strconv.FormatInt(d.ScopeDenied, 10), strconv.FormatInt(d.Invalid, 10),
			strconv.FormatInt(d.TokenIssued, 10), strconv.FormatInt(d.Cost, 10)})
	}
	w.Flush()
	return buf.Bytes()
}

// fileSlug makes a key name safe for a file name: lower-case ASCII letters
// and digits, runs of anything else as one "-", at most 40 characters;
// "key" when nothing is left.
func fileSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			if b.Len() >= 40 {
				break
			}
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "key"
	}
	return b.String()
}

// accountUsageView is the dashboard's usage of all the account's keys:
// totals this quota window and the last 30 days.
func accountUsageView(u *overview.Usage) templates.UsageView {
	if u == nil {
		return templates.UsageView{}
	}
	return templates.UsageView{Period: usagePeriod(u.Window, u.Totals), Days: dailySeries(u.Days)}
}

// keyUsageView is a key's usage for its page: totals this quota window,
// the last 30 days and the last 24 hours.
func keyUsageView(u overview.Usage) templates.UsageView {
	return templates.UsageView{Period: usagePeriod(u.Window, u.Totals), Days: dailySeries(u.Days), Hours: hourlySeries(u.Hours)}
}
