package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// Usage is a series of verification counts by outcome.
type Usage struct {
	Object      string        `json:"object" enum:"usage"`
	Granularity string        `json:"granularity" enum:"day,hour"`
	From        time.Time     `json:"from" doc:"The start of the first bucket."`
	To          time.Time     `json:"to" doc:"The end of the series, as asked (exclusive)."`
	Data        []UsageBucket `json:"data" nullable:"false" doc:"One bucket per UTC day or hour, oldest first, quiet ones included with zeros."`
}

// UsageBucket is one day's or hour's counts.
type UsageBucket struct {
	Start         time.Time `json:"start" doc:"The bucket's start, a UTC midnight or hour."`
	Valid         int64     `json:"valid" example:"120"`
	RateLimited   int64     `json:"rate_limited" example:"3"`
	QuotaExceeded int64     `json:"quota_exceeded" example:"0"`
	ScopeDenied   int64     `json:"scope_denied" doc:"Verifications refused for a missing scope." example:"1"`
	Invalid       int64     `json:"invalid" doc:"Verifications of a revoked or expired key." example:"2"`
	TokenIssued   int64     `json:"token_issued" doc:"Exchanges of the key for a token (POST /v1/tokens); they take cost like valid verifications." example:"4"`
	Total         int64     `json:"total" doc:"Every verification and exchange counted, whatever its outcome." example:"130"`
}

type usageOutput struct{ Body Usage }

// UsageParams are a usage series' query.
type UsageParams struct {
	Granularity string    `query:"granularity" enum:"day,hour" default:"day" doc:"Buckets of a UTC day or hour."`
	From        time.Time `query:"from" doc:"The series starts in the bucket holding this time. Default: 30 days (day) or 24 hours (hour) before to. At most 366 days or 744 hours before to." example:"2026-11-01T00:00:00Z"`
	To          time.Time `query:"to" doc:"The series ends before this time. Default: now." example:"2026-12-01T00:00:00Z"`
}

// span is the range p asks for, with its defaults.
func (p UsageParams) span(now time.Time) keys.UsageRange {
	r := keys.UsageRange{Granularity: p.Granularity, From: p.From, To: p.To}
	if r.Granularity == "" {
		r.Granularity = keys.ByDay
	}
	if r.To.IsZero() {
		r.To = now
	}
	if r.From.IsZero() {
		if r.Granularity == keys.ByHour {
			r.From = r.To.Add(-24 * time.Hour)
		} else {
			r.From = r.To.AddDate(0, 0, -30)
		}
	}
	return r
}

func (a *API) usage(ctx context.Context, r keys.UsageRange, bs []keys.UsageBucket, err error) (*usageOutput, error) {
	if err != nil {
		var ke *keyhold.Error
		if errors.As(err, &ke) && ke.Code == keyhold.EINVALID && len(ke.Fields) > 0 {
			// The range is the query's, not a body's.
			details := make([]error, len(ke.Fields))
			for i, f := range ke.Fields {
				details[i] = &huma.ErrorDetail{Location: "query." + f.Field, Message: f.Message}
			}
			return nil, huma.NewError(http.StatusUnprocessableEntity, keyhold.ErrorMessage(err), details...)
		}
		return nil, err
	}
	out := Usage{Object: "usage", Granularity: r.Granularity, From: r.From.UTC(), To: r.To.UTC(), Data: make([]UsageBucket, len(bs))}
	if len(bs) > 0 {
		out.From = bs[0].Start
	}
	for i, b := range bs {
		out.Data[i] = UsageBucket{Start: b.Start.UTC(), Valid: b.Valid, RateLimited: b.RateLimited, QuotaExceeded: b.QuotaExceeded,
			ScopeDenied: b.ScopeDenied, Invalid: b.Invalid, TokenIssued: b.TokenIssued, Total: b.Total()}
	}
	return &usageOutput{Body: out}, nil
}

type keyUsageInput struct {
	ID string `path:"id" maxLength:"64" doc:"The key's id."`
	UsageParams
}

type accountUsageInput struct {
	ID string `path:"id" maxLength:"64" doc:"The account's id."`
	UsageParams
}

func (a *API) registerUsage() {
	const desc = "Verifications by outcome, per UTC day or hour. Counts reach the series within seconds of the verifications."
	kop := operation(http.MethodGet, "/v1/keys/{id}/usage", "get-key-usage", "Get a key's usage", rootkey.UsageRead, desc)
	kop.Errors = append(kop.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, "Usage", kop, func(ctx context.Context, in *keyUsageInput) (*usageOutput, error) {
		r := in.span(a.now())
		bs, err := a.keys.KeyUsageSeries(ctx, in.ID, r)
		return a.usage(ctx, r, bs, err)
	})
	aop := operation(http.MethodGet, "/v1/accounts/{id}/usage", "get-account-usage", "Get an account's usage", rootkey.UsageRead,
		desc+" All of the account's keys together, revoked ones included.")
	aop.Errors = append(aop.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, "Usage", aop, func(ctx context.Context, in *accountUsageInput) (*usageOutput, error) {
		r := in.span(a.now())
		bs, err := a.keys.AccountUsageSeries(ctx, in.ID, r)
		return a.usage(ctx, r, bs, err)
	})
}
