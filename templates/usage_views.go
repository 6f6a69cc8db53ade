package templates

import "time"

// UsageTotals are verifications and token exchanges by outcome.
type UsageTotals struct {
	Valid         int64 // answered VALID
	RateLimited   int64 // answered RATE_LIMITED
	QuotaExceeded int64 // answered QUOTA_EXCEEDED
	ScopeDenied   int64 // answered INSUFFICIENT_SCOPE
	Invalid       int64 // a known key refused: REVOKED, EXPIRED (and, before scope denials were counted apart, INSUFFICIENT_SCOPE)
	TokenIssued   int64 // exchanged for a token (POST /v1/tokens answered 200)
}

// Total is every verification and exchange counted.
func (t UsageTotals) Total() int64 {
	return t.Valid + t.TokenIssued + t.RateLimited + t.QuotaExceeded + t.ScopeDenied + t.Invalid
}

// Refused is every verification or exchange that was turned down.
func (t UsageTotals) Refused() int64 { return t.Total() - t.Valid - t.TokenIssued }

// UsageBucket is one bar of a usage chart: a UTC day or hour.
type UsageBucket struct {
	Start time.Time // start of the UTC day or hour
	UsageTotals
}

// Units of a UsageSeries.
const (
	UsageByDay  = "day"
	UsageByHour = "hour"
)

// UsageSeries is the data of one chart: consecutive days or hours, oldest
// first, quiet ones included with zero counts.
type UsageSeries struct {
	Unit    string // UsageByDay or UsageByHour
	Buckets []UsageBucket
}

// UsagePeriod is the current quota window and what was verified in it.
type UsagePeriod struct {
	Start, End time.Time // the window [Start, End); zero: not known, the label is left out
	UsageTotals
}

// UsageView is usage as the dashboard (the account's keys together) and a
// key's page show it.
type UsageView struct {
	Period UsagePeriod // totals of the current quota window
	Days   UsageSeries // the last 30 days; no buckets: the charts are left out
	Hours  UsageSeries // the last 24 hours (key page only)
}
