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
	if kid, err := s.RotateIfDue(ctx); err != nil || kid != before.KID {
		t.Fatalf("RotateIfDue before due: %s %v", kid, err)
	}
	c.Add(time.Minute)
	newKID, err := s.Rotate(ctx)
	if err != nil || newKID == before.KID {
		t.Fatalf("rotate: %s %v", newKID, err)
	}
	after, err := s.Issue(ctx, grant())
	if err != nil || after.KID != newKID {
		t.Fatalf("after rotation signed by %s, want %s (%v)", after.KID, newKID, err)
	}
	// The token signed before still verifies against the JWKS.
	if _, err := parse(t, s, before.Token, c.Now()); err != nil {
		t.Errorf("token from before the rotation: %v", err)
	}
	if kids, _ := s.PublishedKIDs(ctx); !slices.Equal(kids, []string{newKID, before.KID}) {
		t.Errorf("published %v", kids)
	}
	// Another instance sees the rotation within its refresh.
	c2 := newClock()
	other := mustService(t, db, c2, secret)
	if k, _ := other.PublishedKIDs(ctx); k[0] != newKID {
		t.Errorf("other instance current %v", k)
	}
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c2.Add(31 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		k, _ := other.PublishedKIDs(ctx)
		if len(k) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance never saw the rotation: %v", k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// After the retirement window the first key is gone: first from what
	// a fresh instance publishes, then from the database (the job).
	c.Add(tokens.RetireWindow + time.Second)
	late := mustService(t, db, c, secret)
	if k, _ := late.PublishedKIDs(ctx); slices.Contains(k, before.KID) || len(k) != 1 { // both earlier keys were retired at once
		t.Errorf("past the window published %v", k)
	}
	if _, err := s.RotateIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.PublishedKIDs(ctx); slices.Contains(k, before.KID) {
		t.Errorf("past the window published %v", k)
	}
	stored, _ := db.SigningKeys(ctx)
	for _, k := range stored {
		if k.KID == before.KID {
			t.Error("the retired key is still stored past the window")
		}
	}
	if _, err := parse(t, s, before.Token, c.Now()); err == nil {
		t.Error("token of a dropped key verified")
	}
	// Due after 30 days.
	c.Add(tokens.RotateEvery)
	cur, _ := s.PublishedKIDs(ctx)
	if kid, err := s.RotateIfDue(ctx); err != nil || kid == cur[0] {
		t.Errorf("RotateIfDue after 30 days kept %s (%v)", kid, err)
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
