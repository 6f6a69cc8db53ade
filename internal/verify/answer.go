package verify

import (
	"strconv"
	"time"
)

// AppendJSON appends the JSON answer of res to b, without allocating
// beyond b's growth: the key's fields were rendered when it was cached.
func AppendJSON(b []byte, res *Result) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, res.Code == Valid)
	b = append(b, `,"code":"`...)
	b = append(b, res.Code.String()...)
	b = append(b, '"')
	if res.Code != Valid {
		b = append(b, `,"message":"`...)
		b = append(b, res.Code.Message()...)
		b = append(b, '"')
	}
	if e := res.Entry; e != nil {
		b = append(b, ',')
		b = append(b, e.json...)
		d := &res.Decision
		b = append(b, `,"ratelimit":{"limit":`...)
		b = strconv.AppendInt(b, d.RateLimit, 10)
		b = append(b, `,"remaining":`...)
		b = strconv.AppendInt(b, d.RateRemaining, 10)
		b = append(b, `,"reset":"`...)
		b = d.RateReset.UTC().Truncate(time.Second).AppendFormat(b, time.RFC3339)
		b = append(b, `"},"quota":{"limit":`...)
		b = strconv.AppendInt(b, d.QuotaLimit, 10)
		b = append(b, `,"remaining":`...)
		b = strconv.AppendInt(b, d.QuotaRemaining(), 10)
		b = append(b, `,"reset":"`...)
		b = d.QuotaReset.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, `"}`...)
	}
	return append(b, '}')
}

// RetryAfter returns the Retry-After seconds of a refused answer, or 0.
func (res *Result) RetryAfter() int64 {
	switch res.Code {
	case RateLimited, QuotaExceeded:
		return retryAfterSeconds(res.Decision.RetryAfter)
	case Unavailable:
		return 2
	}
	return 0
}

// ResetSeconds returns the seconds until the rate limit is full again, for
// the RateLimit-Reset header.
func (res *Result) ResetSeconds() int64 {
	d := res.Decision.RateReset.Sub(res.Now)
	if d <= 0 {
		return 0
	}
	return retryAfterSeconds(d)
}
