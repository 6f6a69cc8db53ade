package keyhold

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The management API (Keyhold's /v1 besides verify) needs a root key,
// kh_root_…, which an operator makes at /admin/root-keys with the
// permissions its calls need. Its calls return the typed resource, or an
// *APIError when Keyhold answered with a problem (bad input, missing
// permission, not found), or an *Error when Keyhold gave no answer.

// WithRootKey makes the Client authenticate management calls with
// rootKey. It is sent only in the Authorization header of those calls,
// never with Verify.
func WithRootKey(rootKey string) Option {
	return func(c *Client) { c.rootKey = rootKey }
}

// ErrNoRootKey is the error of a management call on a Client made
// without WithRootKey.
var ErrNoRootKey = errors.New("keyhold: management calls need a root key: New(url, keyhold.WithRootKey(…))")

// APIError is a management call that Keyhold refused: an RFC 9457
// problem. Its text is Keyhold's, which never repeats a key.
type APIError struct {
	StatusCode int          `json:"status"`
	Title      string       `json:"title"`
	Detail     string       `json:"detail"`
	Errors     []FieldError `json:"errors"`
	// RetryAfter is the answer's Retry-After (429, and 409 while a
	// request with the same Idempotency-Key runs), else 0.
	RetryAfter time.Duration `json:"-"`
}

// FieldError is what is wrong with one input: Location is where
// ("body.name", "query.limit"), Message what to fix.
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// Error implements error.
func (e *APIError) Error() string {
	s := "keyhold: HTTP " + strconv.Itoa(e.StatusCode)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	for _, f := range e.Errors {
		s += "; " + f.Location + ": " + f.Message
	}
	return s
}

// IsNotFound reports whether err is Keyhold's 404: no such resource (or
// not one this root key may see).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// List is one page of a list, newest first. Ask for the next with
// StartingAfter set to the last item's ID while HasMore.
type List[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// Page says which page of a list to return: Limit items (1–100; 0: 20)
// after the item StartingAfter (empty: the newest).
type Page struct {
	Limit         int
	StartingAfter string
}

func (p Page) query(q url.Values) url.Values {
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	return q
}

// Account is one of your customers' accounts in Keyhold.
type Account struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	ExternalID *string   `json:"external_id"`
	Plan       string    `json:"plan"`
	Suspended  bool      `json:"suspended"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewAccount is what CreateAccount makes.
type NewAccount struct {
	Name string `json:"name"`
	// ExternalID is your own id for the customer, unique in Keyhold.
	ExternalID string `json:"external_id,omitempty"`
	// Plan is a plan id; empty: the default plan. Another plan is given
	// without Stripe (a comped plan).
	Plan string `json:"plan,omitempty"`
	// OwnerEmail makes that user the account's owner, or invites them to
	// be when they have no user yet.
	OwnerEmail string `json:"owner_email,omitempty"`
}

// AccountUpdate changes the fields that are not nil.
type AccountUpdate struct {
	Name *string `json:"name,omitempty"`
	// ExternalID "" clears it.
	ExternalID *string `json:"external_id,omitempty"`
	Plan       *string `json:"plan,omitempty"`
	// Suspended true makes the account's keys answer DISABLED on the
	// next verify; false lifts it.
	Suspended *bool `json:"suspended,omitempty"`
}

// AccountFilter selects accounts; empty fields select all.
type AccountFilter struct {
	ExternalID, Email, Plan string
	Page
}

// RateLimit is a key's own rate limit, instead of its plan's.
type RateLimit struct {
	Rate  int `json:"rate"`  // calls per second
	Burst int `json:"burst"` // calls at once
}

// Quota is a key's own monthly quota, instead of its plan's.
type Quota struct {
	Limit int64 `json:"limit"`
}

// Key is an API key as the management API shows it: never its secret.
type Key struct {
	ID                 string         `json:"id"`
	AccountID          string         `json:"account_id"`
	Name               string         `json:"name"`
	Display            string         `json:"display"` // kh_live_…abcd
	Status             string         `json:"status"`  // active, expired or revoked
	Scopes             []string       `json:"scopes"`
	Meta               map[string]any `json:"meta"`
	ExpiresAt          *time.Time     `json:"expires_at"`
	RevokedAt          *time.Time     `json:"revoked_at"`
	LastUsedAt         *time.Time     `json:"last_used_at"`
	OldSecretExpiresAt *time.Time     `json:"old_secret_expires_at"`
	RateLimit          *RateLimit     `json:"ratelimit"` // nil: the plan's
	Quota              *Quota         `json:"quota"`     // nil: the plan's
	// IPAllowlist are the CIDRs the key verifies from, as Keyhold stored
	// them (a bare address as a /32 or /128, IPv4-mapped IPv6 as IPv4);
	// empty: any address.
	IPAllowlist []string  `json:"ip_allowlist"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// KeyWithSecret is a key just made or rotated, with its secret: the only
// time Keyhold shows it. Hand it to your customer and do not keep it.
type KeyWithSecret struct {
	Key
	Secret string `json:"secret"`
}

// NewKey is what CreateKey makes.
type NewKey struct {
	Name      string         `json:"name"`
	Scopes    []string       `json:"scopes,omitempty"`
	Meta      map[string]any `json:"meta,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	RateLimit *RateLimit     `json:"ratelimit,omitempty"`
	Quota     *Quota         `json:"quota,omitempty"`
	// IPAllowlist, when set, limits the key to these client addresses
	// (VerifyOptions.IP): CIDRs or bare addresses, IPv4 or IPv6, at most
	// 32. Keyhold refuses an entry with bits set past its prefix length.
	IPAllowlist []string `json:"ip_allowlist,omitempty"`
}

// KeyUpdate changes the fields that are not nil.
type KeyUpdate struct {
	Name      *string         `json:"name,omitempty"`
	Scopes    *[]string       `json:"scopes,omitempty"`
	Meta      *map[string]any `json:"meta,omitempty"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	RateLimit *RateLimit      `json:"ratelimit,omitempty"`
	Quota     *Quota          `json:"quota,omitempty"`
	// IPAllowlist replaces the key's IP allow-list; a pointer to an
	// empty list removes it (any address).
	IPAllowlist *[]string `json:"ip_allowlist,omitempty"`
}

// KeyFilter selects keys; empty fields select all.
type KeyFilter struct {
	AccountID string
	Status    string // active, expired or revoked
	Page
}

// Usage is verifications counted by outcome, bucket by bucket, oldest
// first.
type Usage struct {
	Granularity string        `json:"granularity"`
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	Data        []UsageBucket `json:"data"`
}

// UsageBucket is one day or hour of usage.
type UsageBucket struct {
	Start         time.Time `json:"start"`
	Valid         int64     `json:"valid"`
	RateLimited   int64     `json:"rate_limited"`
	QuotaExceeded int64     `json:"quota_exceeded"`
	ScopeDenied   int64     `json:"scope_denied"`
	Invalid       int64     `json:"invalid"`
	Total         int64     `json:"total"`
}

// UsageRange says which usage to return: Granularity "day" (the
// default) or "hour", from From to To (zero: Keyhold's defaults).
type UsageRange struct {
	Granularity string
	From, To    time.Time
}

func (r UsageRange) query() url.Values {
	q := url.Values{}
	if r.Granularity != "" {
		q.Set("granularity", r.Granularity)
	}
	if !r.From.IsZero() {
		q.Set("from", r.From.UTC().Format(time.RFC3339))
	}
	if !r.To.IsZero() {
		q.Set("to", r.To.UTC().Format(time.RFC3339))
	}
	return q
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Action    string `json:"action"`
	Actor     struct {
		Type string `json:"type"` // user, root_key or system
		ID   string `json:"id"`
	} `json:"actor"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	IP         string    `json:"ip"`
	Detail     string    `json:"detail"`
	CreatedAt  time.Time `json:"created_at"`
}

// AuditFilter selects audit entries: of AccountID, of Action (a prefix
// when it ends in a dot: "key.").
type AuditFilter struct {
	AccountID, Action string
	Page
}

// CreateAccount makes an account.
func (c *Client) CreateAccount(ctx context.Context, a NewAccount) (*Account, error) {
	return call[Account](ctx, c, http.MethodPost, "/v1/accounts", nil, a)
}

// Account returns one account.
func (c *Client) Account(ctx context.Context, id string) (*Account, error) {
	return call[Account](ctx, c, http.MethodGet, "/v1/accounts/"+url.PathEscape(id), nil, nil)
}

// Accounts returns a page of the accounts f selects.
func (c *Client) Accounts(ctx context.Context, f AccountFilter) (*List[Account], error) {
	q := f.query(url.Values{})
	set(q, "external_id", f.ExternalID)
	set(q, "email", f.Email)
	set(q, "plan", f.Plan)
	return call[List[Account]](ctx, c, http.MethodGet, "/v1/accounts", q, nil)
}

// UpdateAccount changes an account.
func (c *Client) UpdateAccount(ctx context.Context, id string, u AccountUpdate) (*Account, error) {
	return call[Account](ctx, c, http.MethodPatch, "/v1/accounts/"+url.PathEscape(id), nil, u)
}

// AccountUsage is the usage of all of an account's keys.
func (c *Client) AccountUsage(ctx context.Context, id string, r UsageRange) (*Usage, error) {
	return call[Usage](ctx, c, http.MethodGet, "/v1/accounts/"+url.PathEscape(id)+"/usage", r.query(), nil)
}

// CreateKey makes a key for an account and returns it with its secret.
func (c *Client) CreateKey(ctx context.Context, accountID string, k NewKey) (*KeyWithSecret, error) {
	return call[KeyWithSecret](ctx, c, http.MethodPost, "/v1/accounts/"+url.PathEscape(accountID)+"/keys", nil, k)
}

// Key returns one key.
func (c *Client) Key(ctx context.Context, id string) (*Key, error) {
	return call[Key](ctx, c, http.MethodGet, "/v1/keys/"+url.PathEscape(id), nil, nil)
}

// Keys returns a page of the keys f selects.
func (c *Client) Keys(ctx context.Context, f KeyFilter) (*List[Key], error) {
	q := f.query(url.Values{})
	set(q, "account_id", f.AccountID)
	set(q, "status", f.Status)
	return call[List[Key]](ctx, c, http.MethodGet, "/v1/keys", q, nil)
}

// UpdateKey changes a key.
func (c *Client) UpdateKey(ctx context.Context, id string, u KeyUpdate) (*Key, error) {
	return call[Key](ctx, c, http.MethodPatch, "/v1/keys/"+url.PathEscape(id), nil, u)
}

// RevokeKey revokes a key: it is refused on the next verify, on every
// instance.
func (c *Client) RevokeKey(ctx context.Context, id string) (*Key, error) {
	return call[Key](ctx, c, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/revoke", nil, struct{}{})
}

// RotateKey gives a key a new secret; the old one keeps working for
// grace (0, 1 hour, 24 hours or 7 days).
func (c *Client) RotateKey(ctx context.Context, id string, grace time.Duration) (*KeyWithSecret, error) {
	body := struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}{int64(grace / time.Second)}
	return call[KeyWithSecret](ctx, c, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/rotate", nil, body)
}

// KeyUsage is one key's usage.
func (c *Client) KeyUsage(ctx context.Context, id string, r UsageRange) (*Usage, error) {
	return call[Usage](ctx, c, http.MethodGet, "/v1/keys/"+url.PathEscape(id)+"/usage", r.query(), nil)
}

// Audit returns a page of the audit entries f selects.
func (c *Client) Audit(ctx context.Context, f AuditFilter) (*List[AuditEntry], error) {
	q := f.query(url.Values{})
	set(q, "account_id", f.AccountID)
	set(q, "action", f.Action)
	return call[List[AuditEntry]](ctx, c, http.MethodGet, "/v1/audit", q, nil)
}

func set(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}

// maxAttempts is how often a management call is tried when Keyhold gives
// no answer or a 502/503/504: a POST carries one Idempotency-Key on every
// try, so it takes effect once; GET and PATCH set the same values again.
const maxAttempts = 3

// call sends a management request and decodes its answer into T.
func call[T any](ctx context.Context, c *Client, method, path string, q url.Values, in any) (*T, error) {
	if c.urlErr != nil {
		return nil, &Error{Kind: c.urlErr}
	}
	if c.rootKey == "" {
		return nil, ErrNoRootKey
	}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("keyhold: encoding the request: %w", err)
		}
		body = b
	}
	u := c.baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	idem := ""
	if method == http.MethodPost {
		idem = newIdempotencyKey()
	}
	for attempt := 1; ; attempt++ {
		out := new(T)
		wait, err := c.send(ctx, method, u, idem, body, out)
		if err == nil {
			return out, nil
		}
		if wait < 0 || attempt == maxAttempts {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// send makes one attempt. wait is how long to wait before another, or
// negative when the answer is final.
func (c *Client) send(ctx context.Context, method, u, idem string, body []byte, out any) (wait time.Duration, err error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return -1, &Error{Kind: ErrInvalidBaseURL}
	}
	req.Header.Set("Authorization", "Bearer "+c.rootKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		e := transportError(ctx, err)
		if errors.Is(e, ErrCanceled) {
			return -1, e
		}
		return backoff(0), e
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManageAnswer+1))
	if err != nil {
		return backoff(0), transportError(ctx, err)
	}
	retry := retryAfter(resp.Header.Get("Retry-After"))
	switch {
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return backoff(retry), &Error{Kind: ErrServer, StatusCode: resp.StatusCode, RetryAfter: retry}
	case resp.StatusCode >= 500:
		return -1, &Error{Kind: ErrServer, StatusCode: resp.StatusCode, RetryAfter: retry}
	case resp.StatusCode >= 400:
		e := &APIError{StatusCode: resp.StatusCode, RetryAfter: retry}
		if !strings.Contains(resp.Header.Get("Content-Type"), "json") || json.Unmarshal(raw, e) != nil {
			return -1, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode}
		}
		e.StatusCode = resp.StatusCode
		// The first request with this Idempotency-Key still runs: its
		// answer is worth the wait.
		if resp.StatusCode == http.StatusConflict && idem != "" && retry > 0 {
			return backoff(retry), e
		}
		return -1, e
	case resp.StatusCode < 200 || resp.StatusCode > 299 || len(raw) > maxManageAnswer:
		return -1, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return -1, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: fmt.Errorf("decoding the answer: %w", err)}
	}
	return 0, nil
}

// maxManageAnswer bounds a management answer (a page of 100 keys with
// their metadata is well under it).
const maxManageAnswer = 4 << 20

// backoff is the wait before another attempt: Retry-After when Keyhold
// said, else half a second.
func backoff(retry time.Duration) time.Duration {
	if retry > 0 {
		return min(retry, 5*time.Second)
	}
	return 500 * time.Millisecond
}

func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}
