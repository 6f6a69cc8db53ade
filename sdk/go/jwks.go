package keyhold

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The JWKS cache of a TokenVerifier: Keyhold's public keys, fetched from
// GET /.well-known/jwks.json, kept for the answer's max-age and then
// refreshed in the background while the old keys go on verifying. A kid
// that is not in the cache makes one fetch, at most once a minute; when
// Keyhold is unreachable the cached keys are used however old they are.
const (
	// minRefresh is the least time between two fetches of the JWKS for an
	// unknown kid or a stale cache: a stream of tokens of unknown keys
	// makes one request a minute, not one each.
	minRefresh = time.Minute
	// emptyRetry is the least time between two fetches while no JWKS has
	// ever been fetched, so that a Keyhold down at start-up is asked
	// again soon, but not by every request.
	emptyRetry = time.Second
	// defaultMaxAge is how long keys are fresh when the answer gives no
	// max-age (Keyhold sends 300).
	defaultMaxAge = 5 * time.Minute
	// maxMaxAge bounds the max-age taken from the answer, so that a
	// rotated key is learnt within a day whatever a proxy says.
	maxMaxAge = 24 * time.Hour
)

// keySet is one fetched JWKS.
type keySet struct {
	keys    map[string]*ecdsa.PublicKey // by kid; only EC P-256 keys for ES256
	fetched time.Time
	maxAge  time.Duration
}

// jwksCache holds the key set and fetches it.
type jwksCache struct {
	c   *Client
	now func() time.Time

	set atomic.Pointer[keySet] // nil until the first fetch succeeds

	mu        sync.Mutex // serializes fetches
	lastFetch time.Time  // when the last fetch began; guarded by mu
	lastErr   error      // why the last fetch failed, or nil; guarded by mu

	refreshing atomic.Bool    // a background refresh is running
	bg         sync.WaitGroup // the background refreshes, for tests
}

// key returns the public key of kid.
func (j *jwksCache) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	set := j.set.Load()
	if set != nil {
		if k, ok := set.keys[kid]; ok {
			if j.now().Sub(set.fetched) >= set.maxAge {
				j.refreshInBackground()
			}
			return k, nil
		}
	}
	gap := minRefresh
	if set == nil {
		gap = emptyRetry
	}
	set, err := j.refresh(ctx, gap)
	if set == nil {
		return nil, &TokenError{Reason: ErrTokenKeysUnavailable, Err: err}
	}
	if k, ok := set.keys[kid]; ok {
		return k, nil
	}
	return nil, &TokenError{Reason: ErrTokenUnknownKey}
}

// refreshInBackground starts one refresh of a stale cache unless one is
// running; the cached keys go on verifying meanwhile.
func (j *jwksCache) refreshInBackground() {
	if !j.refreshing.CompareAndSwap(false, true) {
		return
	}
	j.bg.Add(1)
	go func() {
		defer j.bg.Done()
		defer j.refreshing.Store(false)
		_, _ = j.refresh(context.Background(), minRefresh)
	}()
}

// refresh fetches the JWKS unless a fetch began less than gap ago (gap 0:
// always), and returns the key set then held (nil if none ever was) and
// the error of the last fetch.
func (j *jwksCache) refresh(ctx context.Context, gap time.Duration) (*keySet, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	if gap > 0 && !j.lastFetch.IsZero() && now.Sub(j.lastFetch) < gap {
		return j.set.Load(), j.lastErr
	}
	j.lastFetch = now
	// A fetch serves every later caller: the request that started it
	// going away must not cancel it.
	set, err := j.fetch(context.WithoutCancel(ctx), now)
	j.lastErr = err
	if err == nil {
		j.set.Store(set)
	}
	return j.set.Load(), err
}

// jwks is the body of GET /.well-known/jwks.json.
type jwks struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// fetch gets and parses the JWKS.
func (j *jwksCache) fetch(ctx context.Context, now time.Time) (*keySet, error) {
	c := j.c
	if c.urlErr != nil {
		return nil, &Error{Kind: c.urlErr}
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.jwksURL, nil)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidBaseURL}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, &Error{Kind: ErrServer, StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode}
	case len(raw) > maxAnswer:
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: errors.New("JWKS over 64 KiB")}
	}
	var doc jwks
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Keys == nil {
		if err == nil {
			err = errors.New(`no "keys"`)
		}
		return nil, &Error{Kind: ErrBadAnswer, StatusCode: resp.StatusCode, Err: fmt.Errorf("decoding the JWKS: %w", err)}
	}
	set := &keySet{keys: make(map[string]*ecdsa.PublicKey, len(doc.Keys)), fetched: now, maxAge: maxAge(resp.Header.Get("Cache-Control"))}
	for _, k := range doc.Keys {
		if pub, ok := k.es256(); ok {
			set.keys[k.Kid] = pub
		}
	}
	return set, nil
}

// es256 returns k as an ES256 verification key, or false when it is not
// one (another type, curve or use): such keys are skipped, not trusted.
func (k jwk) es256() (*ecdsa.PublicKey, bool) {
	if k.Kid == "" || k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") || (k.Use != "" && k.Use != "sig") {
		return nil, false
	}
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, false
	}
	// The uncompressed point 0x04‖x‖y; the parser refuses a point off
	// the curve.
	point := make([]byte, 0, 65)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, false
	}
	return pub, true
}

// maxAge reads max-age from a Cache-Control header: at least minRefresh,
// at most maxMaxAge, defaultMaxAge when absent.
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(name, "max-age") {
			continue
		}
		n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
		if err != nil || n < 0 {
			break
		}
		if n > int64(maxMaxAge/time.Second) {
			return maxMaxAge
		}
		return min(max(time.Duration(n)*time.Second, minRefresh), maxMaxAge)
	}
	return defaultMaxAge
}
