package verify

import (
	"strconv"
	"time"
)

// AppendJSON appends the JSON answer of res to b, without allocating
// beyond b's growth: the key's fields were rendered when it was cached,
// in parts that keys share where they can (entryJSON).
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
		b = e.appendJSON(b)
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
		if e.pool != nil {
			b = append(b, `","scope":"account"}`...)
		} else {
			b = append(b, `","scope":"key"}`...)
		}
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

// appendJSON appends the key's fields of the answer, without the braces:
// key_id, owner_id, name, plan, scopes, meta, expires_at, in that order.
func (e *Entry) appendJSON(b []byte) []byte {
	sh := e.shape
	if !sh.withID {
		b = append(b, `"key_id":"`...)
		b = append(b, e.KeyID...)
		b = append(b, `",`...)
	}
	b = append(b, sh.owner()...)
	b = append(b, `"name":`...)
	b = append(b, e.name...)
	b = append(b, ',')
	b = append(b, sh.planScopes()...)
	b = append(b, `"meta":`...)
	if m := e.meta.Value(); m.answer != "" {
		b = append(b, m.answer...)
	} else {
		b = append(b, m.raw...)
	}
	b = append(b, `,"expires_at":`...)
	if e.expiresAt == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = time.Unix(0, e.expiresAt).UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}
