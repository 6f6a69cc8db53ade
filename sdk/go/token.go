package keyhold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// TokenOptions says what token Client.Token asks Keyhold for.
type TokenOptions struct {
	// Scopes the token carries: a subset of the key's (a scope the key
	// lacks is refused with INSUFFICIENT_SCOPE); empty: all of the key's.
	Scopes []string
	// TTL is how long the token lives, 1 to 15 minutes (Keyhold refuses
	// another with BAD_REQUEST); 0: Keyhold's default, 5 minutes. It is
	// sent in whole seconds, rounded up.
	TTL time.Duration
	// Audience is the service the token is for, one of Keyhold's
	// KEYHOLD_TOKEN_AUDIENCES; empty: Keyhold's default (the first, or
	// Keyhold's base URL when it names none).
	Audience string
	// Cost is taken from the key's rate limit and quota, 1–1000; 0
	// means 1. An exchange always costs something (NoCost is for
	// Verify): a token must not go to a key whose limits are spent.
	Cost int
	// IP is the client's address, as VerifyOptions.IP: a key with an IP
	// allow-list gets a token only for a listed one (else FORBIDDEN).
	IP string
	// IdempotencyKey, as VerifyOptions.IdempotencyKey: within 10 minutes
	// the same key and IdempotencyKey get the first token again (Replayed)
	// and are charged once, so Token retries a call that got no answer;
	// another Scopes, TTL, Audience, Cost or IP with it is BAD_REQUEST.
	IdempotencyKey string
}

// Token is a short-lived JWT Keyhold issued for a key. Any service can
// check it offline with a TokenVerifier; revoking the key stops new
// tokens, but one already issued lives until ExpiresAt.
type Token struct {
	// Token is the JWT, to send as Authorization: Bearer <Token>. It is a
	// credential: keep it out of logs.
	Token string
	// TokenType is "Bearer".
	TokenType string
	// ExpiresIn is the token's lifetime as Keyhold gave it.
	ExpiresIn time.Duration
	// ExpiresAt is when it stops verifying (its exp claim).
	ExpiresAt time.Time
	// KeyID is the id of the key it was issued for (its sub claim).
	KeyID string
	// Replayed is true when this is the token first issued for the
	// IdempotencyKey, given again.
	Replayed bool
}

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Key      string   `json:"key"`
	Scopes   []string `json:"scopes,omitempty"`
	TTL      int64    `json:"ttl,omitempty"`
	Audience string   `json:"audience,omitempty"`
	Cost     *int     `json:"cost,omitempty"`
	IP       string   `json:"ip,omitempty"`
}

// tokenAnswer is the body of a 200 from POST /v1/tokens.
type tokenAnswer struct {
	Token     string   `json:"token"`
	TokenType string   `json:"token_type"`
	ExpiresIn int64    `json:"expires_in"`
	ExpiresAt jsonTime `json:"expires_at"`
	KeyID     string   `json:"key_id"`
}

// Token exchanges key for a short-lived signed token (POST /v1/tokens):
// Keyhold runs every check of Verify, takes opts.Cost, and signs a JWT
// that your services check offline (see TokenVerifier).
//
// Exactly one of the three results is non-nil:
//   - *Token: Keyhold issued one;
//   - *Verification: Keyhold refused the key, and says why as Verify
//     would have (Valid false, Code, Message, RetryAfter, StatusCode); a
//     refused key is not an error;
//   - error: an *Error, Keyhold gave no answer (the kinds of Verify).
//
// key is sent in the request body only.
func (c *Client) Token(ctx context.Context, key string, opts TokenOptions) (*Token, *Verification, error) {
	if c.urlErr != nil {
		return nil, nil, &Error{Kind: c.urlErr}
	}
	req := tokenRequest{Key: key, Scopes: opts.Scopes, Audience: opts.Audience, IP: opts.IP}
	if opts.TTL > 0 {
		req.TTL = int64((opts.TTL + time.Second - 1) / time.Second)
	}
	if opts.Cost != 0 {
		req.Cost = &opts.Cost
	}
	body, err := json.Marshal(req)
	if err != nil { // cannot happen for these types; the cause could quote the key
		return nil, nil, &Error{Kind: ErrBadAnswer}
	}
	// One try without IdempotencyKey, as Verify: a retried exchange
	// could take its cost twice.
	var (
		tok *Token
		v   *Verification
	)
	err = c.tries(ctx, opts.IdempotencyKey, func(ctx context.Context) error {
		var err error
		tok, v, err = c.tokenOnce(ctx, body, opts.IdempotencyKey)
		return err
	})
	return tok, v, err
}

// tokenOnce sends one exchange and reads its answer.
func (c *Client) tokenOnce(ctx context.Context, body []byte, idem string) (*Token, *Verification, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokensURL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &Error{Kind: ErrInvalidBaseURL}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if idem != "" {
		hreq.Header.Set("Idempotency-Key", idem)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	return readTokenAnswer(resp, raw)
}

// readTokenAnswer turns an answer of POST /v1/tokens into a Token, a
// refusal, or an *Error when it is neither.
func readTokenAnswer(resp *http.Response, raw []byte) (*Token, *Verification, error) {
	if resp.StatusCode != http.StatusOK {
		v, err := readAnswer(resp, raw)
		switch {
		case err != nil:
			return nil, nil, err
		case v.Valid, v.Code == CodeValid: // a refusal that says VALID is no answer
			return nil, nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode}
		}
		return nil, v, nil
	}
	if len(raw) > maxAnswer {
		return nil, nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: errors.New("answer over 64 KiB")}
	}
	var a tokenAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: fmt.Errorf("decoding the answer: %w", err)}
	}
	if a.Token == "" || a.TokenType != "Bearer" || a.ExpiresIn <= 0 {
		return nil, nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: errors.New("the answer has no bearer token")}
	}
	return &Token{
		Token:     a.Token,
		TokenType: a.TokenType,
		ExpiresIn: time.Duration(a.ExpiresIn) * time.Second,
		ExpiresAt: time.Time(a.ExpiresAt),
		KeyID:     a.KeyID,
		Replayed:  resp.Header.Get("Idempotent-Replayed") == "true",
	}, nil, nil
}

// jsonTime reads a time given as RFC 3339 text or as Unix seconds.
type jsonTime time.Time

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var tt time.Time
		if err := json.Unmarshal(b, &tt); err != nil {
			return err
		}
		*t = jsonTime(tt)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*t = jsonTime(time.Unix(n, 0))
	return nil
}
