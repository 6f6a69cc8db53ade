package keyhold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Code is the outcome of a verification, as Keyhold spells it.
type Code string

// The codes of POST /v1/verify.
const (
	CodeValid             Code = "VALID"
	CodeBadRequest        Code = "BAD_REQUEST"        // no key, bad cost, scopes or ip, a body over 4 KiB
	CodeMalformed         Code = "MALFORMED"          // not a well-formed Keyhold key
	CodeNotFound          Code = "NOT_FOUND"          // no such key
	CodeRevoked           Code = "REVOKED"            // the key was revoked
	CodeExpired           Code = "EXPIRED"            // the key, or this rotated-away secret, expired
	CodeDisabled          Code = "DISABLED"           // the key's account is suspended
	CodeForbidden         Code = "FORBIDDEN"          // the client address (IP) is missing or not on the key's IP allow-list
	CodeInsufficientScope Code = "INSUFFICIENT_SCOPE" // the key lacks a required scope
	CodeRateLimited       Code = "RATE_LIMITED"       // over the per-second rate limit; see RetryAfter
	CodeQuotaExceeded     Code = "QUOTA_EXCEEDED"     // over the quota of this period; see RetryAfter
	CodeUnavailable       Code = "UNAVAILABLE"        // Keyhold cannot verify now (an *Error, never a Verification)
)

// NoCost, as VerifyOptions.Cost, checks the key without taking anything
// from its rate limit or quota (Keyhold's cost 0). A Cost of 0 means the
// default, one.
const NoCost = -1

// VerifyOptions says what a call to your API needs of the key.
type VerifyOptions struct {
	// Cost is what the call takes from the key's rate limit and quota,
	// 1–1000; 0 means 1, and NoCost takes nothing.
	Cost int
	// Scopes are the scopes the call requires; a key lacking one is
	// refused with INSUFFICIENT_SCOPE.
	Scopes []string
	// IP is the client's address as your API saw it (IPv4 or IPv6, no
	// port). A key with an IP allow-list is refused with FORBIDDEN when
	// it is empty or not listed; other keys ignore it. One that is no IP
	// address is BAD_REQUEST, whatever the key.
	IP string
	// IdempotencyKey, when set (at most 255 characters of visible text;
	// a UUID, or your own request's id), is sent as Idempotency-Key:
	// within 10 minutes Keyhold gives the first answer again for the same
	// key and IdempotencyKey, consuming nothing (Verification.Replayed).
	// With it Verify retries, up to 3 tries, a call that got no answer or
	// a 502/503/504, since the cost is taken once; without it Verify
	// makes one try, as a retried call could take the cost twice. The same
	// IdempotencyKey with another Cost, Scopes or IP is BAD_REQUEST.
	IdempotencyKey string
}

// Limit is a rate limit or quota as Keyhold counted it for this call.
type Limit struct {
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	Reset     time.Time `json:"reset"` // when it is full again (rate) or renews (quota)
	// Scope is the quota's only: "key" (the key's own) or "account" (one
	// pool shared by all of the account's keys).
	Scope string `json:"scope,omitempty"`
}

// Verification is Keyhold's answer about a key: valid, or refused and why.
type Verification struct {
	// Valid is true only for VALID: the call may go ahead.
	Valid bool `json:"valid"`
	// Code says why not, or VALID.
	Code Code `json:"code"`
	// Message is a sentence for a person; empty when valid.
	Message string `json:"message"`
	// KeyID, OwnerID (the account), Name, Plan, Scopes, Meta and
	// ExpiresAt describe the key; empty when no key was found.
	KeyID     string         `json:"key_id"`
	OwnerID   string         `json:"owner_id"`
	Name      string         `json:"name"`
	Plan      string         `json:"plan"`
	Scopes    []string       `json:"scopes"`
	Meta      map[string]any `json:"meta"`
	ExpiresAt *time.Time     `json:"expires_at"`
	// RateLimit and Quota are the key's limits after this call; nil when
	// no key was found.
	RateLimit *Limit `json:"ratelimit"`
	Quota     *Limit `json:"quota"`
	// RetryAfter is when to try again after RATE_LIMITED or
	// QUOTA_EXCEEDED (the Retry-After header), else 0.
	RetryAfter time.Duration `json:"-"`
	// StatusCode is the HTTP status Keyhold answered with.
	StatusCode int `json:"-"`
	// Replayed is true when the answer is the first one Keyhold gave to
	// this IdempotencyKey (Idempotent-Replayed: true): nothing was taken
	// this time.
	Replayed bool `json:"-"`

	body   []byte      // the answer as Keyhold sent it, for the middleware
	header http.Header // its Retry-After and RateLimit-* headers
}

// maxAnswer bounds the answer read: an answer is well under 4 KiB (a key's
// metadata is small), and a base URL pointing at something else must not
// make Verify read a download.
const maxAnswer = 64 << 10

// verifyRequest is the body of POST /v1/verify.
type verifyRequest struct {
	Key    string   `json:"key"`
	Cost   *int     `json:"cost,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
	IP     string   `json:"ip,omitempty"`
}

// Verify asks Keyhold whether key may make a call needing opts. A refused
// key is a *Verification with Valid false, not an error; an error is
// always an *Error and means Keyhold gave no answer about the key.
// key is sent in the request body only.
func (c *Client) Verify(ctx context.Context, key string, opts VerifyOptions) (*Verification, error) {
	if c.urlErr != nil {
		return nil, &Error{Kind: c.urlErr}
	}
	req := verifyRequest{Key: key, Scopes: opts.Scopes, IP: opts.IP}
	switch {
	case opts.Cost == NoCost:
		zero := 0
		req.Cost = &zero
	case opts.Cost != 0:
		req.Cost = &opts.Cost
	}
	body, err := json.Marshal(req)
	if err != nil { // cannot happen for these types; the cause could quote the key
		return nil, &Error{Kind: ErrBadAnswer}
	}
	var v *Verification
	err = c.tries(ctx, opts.IdempotencyKey, func(ctx context.Context) error {
		var err error
		v, err = c.verifyOnce(ctx, body, opts.IdempotencyKey)
		return err
	})
	return v, err
}

// tries runs try once, or, with an Idempotency-Key, up to maxAttempts
// times while Keyhold gives no answer (timeout, no connection) or a
// 502/503/504: the key makes the retries take the cost once. Each try has
// the Client's timeout.
func (c *Client) tries(ctx context.Context, idem string, try func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := c.try(ctx, try)
		var e *Error
		if err == nil || idem == "" || attempt == maxAttempts || ctx.Err() != nil || !errors.As(err, &e) || !e.retryable() {
			return err
		}
		t := time.NewTimer(backoff(e.RetryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// try is one try within the Client's timeout.
func (c *Client) try(ctx context.Context, try func(context.Context) error) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return try(ctx)
}

// retryable reports whether another try may get an answer.
func (e *Error) retryable() bool {
	switch {
	case errors.Is(e, ErrTimeout), errors.Is(e, ErrUnreachable):
		return true
	case errors.Is(e, ErrServer):
		return e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable || e.StatusCode == http.StatusGatewayTimeout
	}
	return false
}

// verifyOnce sends one verify request and reads its answer.
func (c *Client) verifyOnce(ctx context.Context, body []byte, idem string) (*Verification, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.verifyURL, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: ErrInvalidBaseURL}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if idem != "" {
		hreq.Header.Set("Idempotency-Key", idem)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	return readAnswer(resp, raw)
}

// transportError classifies a failed request: out of time, canceled, or
// no connection.
func transportError(ctx context.Context, err error) *Error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &Error{Kind: ErrTimeout, Err: err}
	case errors.Is(ctx.Err(), context.Canceled):
		return &Error{Kind: ErrCanceled, Err: err}
	}
	return &Error{Kind: ErrUnreachable, Err: err}
}

// isTimeout reports a net timeout (an http.Client.Timeout among them).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readAnswer turns an HTTP answer into a Verification, or an *Error when it
// is not one.
func readAnswer(resp *http.Response, raw []byte) (*Verification, error) {
	retry := retryAfter(resp.Header.Get("Retry-After"))
	if resp.StatusCode >= 500 {
		e := &Error{Kind: ErrServer, StatusCode: resp.StatusCode, RetryAfter: retry}
		var v struct {
			Code Code `json:"code"`
		}
		if json.Unmarshal(raw, &v) == nil {
			e.Code = v.Code
		}
		return nil, e
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
	default:
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode}
	}
	if len(raw) > maxAnswer {
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: errors.New("answer over 64 KiB")}
	}
	var v Verification
	if err := json.Unmarshal(raw, &v); err != nil {
		// The cause of a JSON error names a position, never the content.
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: fmt.Errorf("decoding the answer: %w", err)}
	}
	if v.Code == "" {
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: errors.New("the answer has no code")}
	}
	// Valid only when status, code and flag agree: a proxy's 200 must not
	// let a key through.
	v.Valid = v.Valid && v.Code == CodeValid && resp.StatusCode == http.StatusOK
	v.StatusCode = resp.StatusCode
	v.RetryAfter = retry
	v.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	v.body = raw
	v.header = http.Header{}
	for _, h := range passedHeaders {
		if s := resp.Header.Get(h); s != "" {
			v.header.Set(h, s)
		}
	}
	return &v, nil
}

// passedHeaders are the headers of a verify answer that the middleware
// passes on to your client.
var passedHeaders = []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}

// retryAfter parses a Retry-After of delay seconds (the form Keyhold
// sends), or returns 0.
func retryAfter(s string) time.Duration {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
