package tokens_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/tokens"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var secret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }

func mustService(tb testing.TB, db *store.DB, c *clock, sec []byte) *tokens.Service {
	tb.Helper()
	cfg := tokens.Config{Store: db, Secret: sec, Issuer: "https://keys.example/", Audiences: []string{"https://api.example", "billing"}}
	if c != nil {
		cfg.Now = c.Now
	}
	s, err := tokens.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func grant() tokens.Grant {
	return tokens.Grant{KeyID: "key1", AccountID: "acct1", Plan: "pro", Scopes: []string{"read", "write"},
		Meta: json.RawMessage(`{"a":1}`), Audience: "https://api.example", TTL: 300 * time.Second}
}

// parse checks a token with jwt against the service's JWKS (decoded by
// go-jose), strictly ES256.
func parse(t *testing.T, s *tokens.Service, tok string, now time.Time) (*tokens.Claims, error) {
	t.Helper()
	raw, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	var c tokens.Claims
	_, err = jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		ks := set.Key(kid)
		if len(ks) == 0 {
			return nil, errors.New("kid not published")
		}
		return ks[0].Key, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("https://keys.example"), jwt.WithAudience("https://api.example"),
		jwt.WithTimeFunc(func() time.Time { return now }))
	return &c, err
}

func TestTokenClaims(t *testing.T) {
	c := newClock()
	s := mustService(t, storetest.New(t, storetest.SQLite), c, secret)
	tok, err := s.Issue(context.Background(), grant())
	if err != nil {
		t.Fatal(err)
	}
	got, err := parse(t, s, tok.Token, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != "https://keys.example" || got.Subject != "key1" || got.Account != "acct1" || got.Plan != "pro" ||
		got.Scope != "read write" || string(got.Meta) != `{"a":1}` || got.Audience != "https://api.example" ||
		got.IssuedAt != c.Now().Unix() || got.NotBefore != got.IssuedAt || got.Expires != got.IssuedAt+300 || got.ID == "" {
		t.Errorf("claims %+v", got)
	}
	if !tok.ExpiresAt.Equal(c.Now().Add(300 * time.Second)) {
		t.Errorf("expires at %v", tok.ExpiresAt)
	}
	// The header, as the contract says.
	h, _ := base64.RawURLEncoding.DecodeString(tok.Token[:indexDot(tok.Token)])
	var hdr map[string]string
	_ = json.Unmarshal(h, &hdr)
	if hdr["alg"] != "ES256" || hdr["typ"] != "JWT" || hdr["kid"] != tok.KID {
		t.Errorf("header %s", h)
	}
	// Past exp it is refused.
	if _, err := parse(t, s, tok.Token, c.Now().Add(301*time.Second)); err == nil {
		t.Error("expired token accepted")
	}
	for _, g := range []tokens.Grant{{TTL: 59 * time.Second, Audience: "billing"}, {TTL: 901 * time.Second, Audience: "billing"}, {TTL: time.Minute, Audience: "other"}} {
		if _, err := s.Issue(context.Background(), g); err == nil {
			t.Errorf("issued %+v", g)
		}
	}
	if a, ok := s.Audience(""); !ok || a != "https://api.example" {
		t.Errorf("default audience %q", a)
	}
}

func indexDot(s string) int {
	for i := range s {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func TestTokenTwoInstancesMakeOneKey(t *testing.T) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			url := storetest.URL(t, kind)
			dbs := []*store.DB{storetest.Open(t, url), storetest.Open(t, url)}
			var wg sync.WaitGroup
			kids := make([][]string, 8)
			start := make(chan struct{})
			for i := range kids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := mustService(t, dbs[i%2], nil, secret)
					<-start
					k, err := s.PublishedKIDs(context.Background())
					if err != nil {
						t.Error(err)
					}
					kids[i] = k
				}()
			}
			close(start)
			wg.Wait()
			stored, err := dbs[0].SigningKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 {
				t.Fatalf("%d keys stored", len(stored))
			}
			for _, k := range kids {
				if len(k) != 1 || k[0] != stored[0].KID {
					t.Errorf("an instance publishes %v, stored %s", k, stored[0].KID)
				}
			}
		})
	}
}

// TestTokenRotation: a rotation publishes the next key at once and signs
// with it PublishAhead later, on this instance and on another; tokens
// signed before keep verifying; the replaced key leaves the JWKS, then the
// database, RetireWindow after it stopped signing; the job rotates after
// 30 days.
func TestTokenRotation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := storetest.New(t, storetest.SQLite)
	s := mustService(t, db, c, secret)
	before, err := s.Issue(ctx, grant())
	if err != nil {
		t.Fatal(err)
	}
	// Not due: the periodic job changes nothing.
	if r, err := s.RotateIfDue(ctx); err != nil || r.KID != before.KID || !r.ActiveAt.Equal(c.Now()) {
		t.Fatalf("RotateIfDue before due: %+v %v", r, err)
	}
	c.Add(time.Minute)
	next, err := s.Rotate(ctx)
	if err != nil || next.KID == before.KID {
		t.Fatalf("rotate: %+v %v", next, err)
	}
	ahead := tokens.JWKSMaxAge + 2*30*time.Second
	if want := c.Now().Add(ahead); !next.ActiveAt.Equal(want) {
		t.Fatalf("the next key signs from %s, want %s (published %s ahead)", next.ActiveAt, want, ahead)
	}
	// Published at once, not signing yet: here and on another instance.
	other := mustService(t, db, c, secret)
	for name, svc := range map[string]*tokens.Service{"this instance": s, "another": other} {
		if kids, _ := svc.PublishedKIDs(ctx); !slices.Equal(kids, []string{before.KID, next.KID}) {
			t.Errorf("%s publishes %v right after the rotation, want the signing %s then the next %s", name, kids, before.KID, next.KID)
		}
		if tok, err := svc.Issue(ctx, grant()); err != nil || tok.KID != before.KID {
			t.Errorf("%s signs with %s before the next key's time (%v), want %s", name, tok.KID, err, before.KID)
		}
	}
	c.Set(next.ActiveAt.Add(-time.Second))
	long := grant()
	long.TTL = tokens.MaxTTL
	last, err := s.Issue(ctx, long)
	if err != nil || last.KID != before.KID {
		t.Errorf("a second before its time the next key signs (%v)", err)
	}
	c.Set(next.ActiveAt)
	// Its time: both instances sign with it on their next token, without
	// waiting for a refresh.
	for name, svc := range map[string]*tokens.Service{"this instance": s, "another": other} {
		if tok, err := svc.Issue(ctx, grant()); err != nil || tok.KID != next.KID {
			t.Errorf("%s signs with %s at the next key's time (%v), want %s", name, tok.KID, err, next.KID)
		}
		if kids, _ := svc.PublishedKIDs(ctx); !slices.Equal(kids, []string{next.KID, before.KID}) {
			t.Errorf("%s publishes %v, want %s then the retired %s", name, kids, next.KID, before.KID)
		}
	}
	// The longest token the replaced key signed verifies until it
	// expires.
	c.Set(next.ActiveAt.Add(tokens.MaxTTL - 2*time.Second))
	if _, err := parse(t, s, last.Token, c.Now()); err != nil {
		t.Errorf("the replaced key's last token, a second before it expires: %v", err)
	}
	// A second rotation at once: three keys published.
	third, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kids, _ := s.PublishedKIDs(ctx); !slices.Equal(kids, []string{next.KID, third.KID, before.KID}) {
		t.Errorf("after a second rotation published %v", kids)
	}
	// The first key stopped signing at next.ActiveAt: RetireWindow after
	// that it is gone, first from what an instance publishes, then from
	// the database (the job).
	c.Set(next.ActiveAt.Add(tokens.RetireWindow - time.Second))
	if kids, _ := mustService(t, db, c, secret).PublishedKIDs(ctx); !slices.Contains(kids, before.KID) {
		t.Errorf("inside its retirement window the first key is not published: %v", kids)
	}
	c.Add(time.Second)
	if kids, _ := mustService(t, db, c, secret).PublishedKIDs(ctx); slices.Contains(kids, before.KID) || !slices.Equal(kids, []string{third.KID, next.KID}) {
		t.Errorf("past the window published %v, want %s then %s", kids, third.KID, next.KID)
	}
	c.Add(time.Second)
	if _, err := s.RotateIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := db.SigningKeys(ctx)
	for _, k := range stored {
		if k.KID == before.KID {
			t.Error("the retired key is still stored past the window")
		}
	}
	if _, err := parse(t, s, last.Token, last.ExpiresAt.Add(-time.Second)); err == nil {
		t.Error("token of a dropped key verified")
	}
	// Due after 30 days.
	c.Add(tokens.RotateEvery)
	if r, err := s.RotateIfDue(ctx); err != nil || r.KID == third.KID || !r.ActiveAt.Equal(c.Now().Add(ahead)) {
		t.Errorf("RotateIfDue after 30 days: %+v (%v), want a new key signing %s ahead", r, err, ahead)
	}
}

// TestTokenNoUnknownKID walks through a rotation in 5-second steps with a
// verifier that caches the JWKS of the other instance (the one that did
// not rotate) for its max-age, fetched last a second before the rotation:
// every token either instance signs has a kid the verifier already holds,
// so no verifier following the cache rules ever refuses a token, or asks
// again, because of a rotation.
func TestTokenNoUnknownKID(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := storetest.New(t, storetest.SQLite)
	a, b := mustService(t, db, c, secret), mustService(t, db, c, secret)
	if _, err := a.Issue(ctx, grant()); err != nil {
		t.Fatal(err)
	}
	fetch := func() []string {
		kids, err := b.PublishedKIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return kids
	}
	cached, fetched := fetch(), c.Now()
	c.Add(time.Second)
	rotated := c.Now()
	r, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signedByNext := false
	for step := 0; step*5 < int((tokens.JWKSMaxAge + 10*time.Minute).Seconds()); step++ {
		if c.Now().Sub(fetched) >= tokens.JWKSMaxAge {
			cached, fetched = fetch(), c.Now()
		}
		for name, svc := range map[string]*tokens.Service{"rotating": a, "other": b} {
			tok, err := svc.Issue(ctx, grant())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(cached, tok.KID) {
				t.Fatalf("%s after the rotation the %s instance signed with %s, which a verifier caching %v (fetched %s ago) does not know",
					c.Now().Sub(rotated), name, tok.KID, cached, c.Now().Sub(fetched))
			}
			signedByNext = signedByNext || tok.KID == r.KID
		}
		c.Add(5 * time.Second)
	}
	if !signedByNext {
		t.Error("the rotated key never signed")
	}
}

func TestTokenKeysSealed(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t, storetest.SQLite)
	s := mustService(t, db, nil, secret)
	if _, err := s.Issue(ctx, grant()); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.SQL().QueryRowContext(ctx, "SELECT private_key FROM signing_keys").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil {
		t.Fatal(err)
	}
	// PKCS #8 DER starts with a SEQUENCE (0x30): sealed, it does not parse.
	if len(raw) < 12 || raw[0] == 0x30 && raw[1] == 0x81 {
		t.Errorf("stored private key looks like plain DER")
	}
	other := mustService(t, db, nil, []byte("another secret, also 32 bytes ok"))
	if _, err := other.Issue(ctx, grant()); !errors.Is(err, tokens.ErrUnseal) {
		t.Errorf("another secret: %v", err)
	}
}

func BenchmarkIssue(b *testing.B) {
	s := mustService(b, storetest.New(b, storetest.SQLite), nil, secret)
	ctx := context.Background()
	g := grant()
	if _, err := s.Issue(ctx, g); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Issue(ctx, g); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTokenIdleInstanceRereads: an instance that issued nothing while
// another rotated (twice, past the retirement window) reads the keys
// again before it signs, so it never signs with a key no longer
// published.
func TestTokenIdleInstanceRereads(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := storetest.New(t, storetest.SQLite)
	a, b := mustService(t, db, c, secret), mustService(t, db, c, secret)
	if _, err := b.Issue(ctx, grant()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c.Add(time.Minute)
		if _, err := a.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(time.Hour)                              // B idle: its keys in memory are an hour old
	if _, err := a.RotateIfDue(ctx); err != nil { // removes the retired keys
		t.Fatal(err)
	}
	tok, err := b.Issue(ctx, grant())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(t, a, tok.Token, c.Now()); err != nil {
		t.Fatalf("B's token after an idle hour does not verify against A's JWKS: %v", err)
	}
}

// downStore is a store whose database is down: every read fails, counted.
type downStore struct {
	tokens.Store
	reads atomic.Int32
}

func (d *downStore) SigningKeys(context.Context) ([]tokens.SigningKey, error) {
	d.reads.Add(1)
	return nil, errors.New("connection refused")
}

// TestTokenFailedLoadRemembered: while the database is down and no key is
// in memory, 50 exchanges at once make one read, not 50 queued ones; the
// database is asked again after FailedLoadRetry, and a caller that gave up
// does not make the others fail.
func TestTokenFailedLoadRemembered(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	down := &downStore{Store: storetest.New(t, storetest.SQLite)}
	s, err := tokens.New(tokens.Config{Store: down, Secret: secret, Issuer: "https://keys.example", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ready(gone); err == nil {
		t.Fatal("Ready with the database down succeeded")
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := s.Ready(ctx); err == nil {
				t.Error("Ready with the database down succeeded")
			}
		})
	}
	wg.Wait()
	if n := down.reads.Load(); n != 2 { // the cancelled caller's, then one for the 50
		t.Errorf("%d reads of the keys, want 2", n)
	}
	c.Add(tokens.FailedLoadRetry)
	_ = s.Ready(ctx)
	if n := down.reads.Load(); n != 3 {
		t.Errorf("after FailedLoadRetry %d reads, want 3", n)
	}
}
