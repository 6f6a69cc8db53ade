package tokens

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Token lifetimes and key rotation.
const (
	MinTTL     = 60 * time.Second
	MaxTTL     = 900 * time.Second
	DefaultTTL = 300 * time.Second
	// RotateEvery is the age at which RotateIfDue makes a new key.
	RotateEvery = 30 * 24 * time.Hour
	// RetireWindow is how long a retired key stays published: twice the
	// longest lifetime, so every token it signed expires while it is.
	RetireWindow = 2 * MaxTTL
	// JWKSMaxAge is how long a verifier may cache the JWKS
	// (Cache-Control max-age of /.well-known/jwks.json).
	JWKSMaxAge = 5 * time.Minute
)

// SigningKey is a signing key as stored.
type SigningKey struct {
	KID string
	// Generation numbers keys in the order they were made; the highest is
	// the current one. It is unique: of two instances making the same
	// generation at once, one stores it.
	Generation int64
	PublicKey  []byte // PKIX DER
	Sealed     []byte // the private key, sealed (see seal)
	CreatedAt  time.Time
	// ActiveAt is when the key starts signing. A rotation publishes the
	// next key PublishAhead before it signs, so that every cached JWKS
	// holds it by then; the first key signs at once.
	ActiveAt  time.Time
	RetiredAt *time.Time // when a newer key became current
}

// Store is what the service needs from the database.
type Store interface {
	// SigningKeys returns every stored signing key.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// InsertSigningKey stores k unless a key of its generation exists, and
	// then retires every older key not yet retired, at k.ActiveAt, in the
	// same transaction. It reports whether k was stored.
	InsertSigningKey(ctx context.Context, k SigningKey) (bool, error)
	// DeleteSigningKeys deletes the keys retired before t.
	DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) (int64, error)
}

// Config configures a Service.
type Config struct {
	Store Store
	// Secret is the instance secret (at least 32 bytes) the private keys
	// are sealed under.
	Secret []byte
	// Issuer is the iss of every token: KEYHOLD_BASE_URL without its
	// trailing slash.
	Issuer string
	// Audiences are the aud a token may be issued for
	// (KEYHOLD_TOKEN_AUDIENCES); the first is the default. Empty: only
	// the issuer.
	Audiences []string
	// Refresh is how often the keys are re-read from the database, so a
	// rotation on another instance is seen; default 30s.
	Refresh time.Duration
	// PublishAhead is how long a rotation publishes the next key before
	// it signs; default JWKSMaxAge + 2×Refresh: by then every instance
	// serves it and every JWKS cached by the rules has been fetched again.
	PublishAhead time.Duration
	// Now is the clock; nil: time.Now. For tests.
	Now    func() time.Time
	Logger *slog.Logger // nil: discard
}

// Service issues tokens and publishes the JWKS. It is safe for concurrent
// use.
type Service struct {
	cfg        Config
	aead       cipher.AEAD
	set        atomic.Pointer[keySet]
	loadMu     sync.Mutex // one load at a time
	refreshing atomic.Bool
	// failed is the last failed first load, so that while the database
	// is down exchanges are refused at once for FailedLoadRetry instead
	// of each queueing on loadMu for its own read.
	failed atomic.Pointer[failedLoad]
}

// FailedLoadRetry is how long a failed first load of the keys is answered
// from memory before the database is asked again.
const FailedLoadRetry = time.Second

type failedLoad struct {
	at  time.Time
	err error
}

// keySet is what the service answers from between loads.
type keySet struct {
	kid      string            // the current key's id
	priv     *ecdsa.PrivateKey // the current key
	created  time.Time         // the current key's creation
	jwks     []byte            // the published keys, as JSON
	kids     []string          // the published key ids, current first
	loadedAt time.Time
	next     time.Time // when a published key starts signing; zero: none waits
}

// New returns a Service. It reads nothing yet: the keys are loaded, and
// the first made, on first need.
func New(c Config) (*Service, error) {
	if c.Store == nil || len(c.Secret) < 32 || c.Issuer == "" {
		return nil, errors.New("tokens: Store, a 32-byte Secret and Issuer are required")
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if len(c.Audiences) == 0 {
		c.Audiences = []string{c.Issuer}
	}
	if c.Refresh == 0 {
		c.Refresh = 30 * time.Second
	}
	if c.PublishAhead == 0 {
		c.PublishAhead = JWKSMaxAge + 2*c.Refresh
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	aead, err := newSealer(c.Secret)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: c, aead: aead}, nil
}

// Issuer returns the iss of the tokens.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Ready loads the signing keys if they are not in memory, so that an
// exchange that could not be signed is refused before its cost is taken.
func (s *Service) Ready(ctx context.Context) error {
	_, err := s.keys(ctx)
	return err
}

// Audience returns the audience a request for aud gets: the default for
// "", aud itself when it is one of the configured, else false.
func (s *Service) Audience(aud string) (string, bool) {
	if aud == "" {
		return s.cfg.Audiences[0], true
	}
	for _, a := range s.cfg.Audiences {
		if a == aud {
			return a, true
		}
	}
	return "", false
}

// Audiences returns the audiences tokens may be issued for, the default
// first.
func (s *Service) Audiences() []string { return append([]string(nil), s.cfg.Audiences...) }

// JWKS returns the published keys as a JSON Web Key Set.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	ks, err := s.keys(ctx)
	if err != nil {
		return nil, err
	}
	return ks.jwks, nil
}

// PublishedKIDs returns the ids of the published keys, the current first.
func (s *Service) PublishedKIDs(ctx context.Context) ([]string, error) {
	ks, err := s.keys(ctx)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), ks.kids...), nil
}

// keys returns the key set, loading it when there is none, re-reading it
// in the background when it is older than Refresh, and before answering
// when it is older than twice that.
func (s *Service) keys(ctx context.Context) (*keySet, error) {
	now := s.cfg.Now()
	ks := s.set.Load()
	if ks == nil {
		return s.load(ctx, nil)
	}
	if now.Sub(ks.loadedAt) >= 2*s.cfg.Refresh || !ks.next.IsZero() && !now.Before(ks.next) {
		// Idle since before the last background refresh: a rotation
		// elsewhere may have retired (even removed) the key in memory,
		// so read again before signing with it; or the next key's time
		// to sign has come. Only a failed read falls back to the keys in
		// memory.
		fresh, err := s.load(ctx, ks)
		if err == nil {
			return fresh, nil
		}
		s.cfg.Logger.Warn("tokens: re-reading signing keys failed; using the ones in memory", "err", err)
		return ks, nil
	}
	if now.Sub(ks.loadedAt) >= s.cfg.Refresh && s.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.refreshing.Store(false)
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := s.load(rctx, ks); err != nil {
				s.cfg.Logger.Warn("tokens: re-reading signing keys failed; using the ones in memory", "err", err)
			}
		}()
	}
	return ks, nil
}

// load reads the keys, making the first when there is none, and keeps
// them. seen is the set the caller saw (nil: none); when another load has
// replaced it meanwhile, that one is returned. A failed first load is
// answered again for FailedLoadRetry without asking the database.
func (s *Service) load(ctx context.Context, seen *keySet) (*keySet, error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if cur := s.set.Load(); cur != seen {
		return cur, nil
	}
	if seen == nil {
		if f := s.failed.Load(); f != nil && s.cfg.Now().Sub(f.at) < FailedLoadRetry {
			return nil, f.err
		}
	}
	ks, err := s.read(ctx)
	if err != nil {
		if seen == nil && ctx.Err() == nil { // a caller that left is no news about the database
			s.failed.Store(&failedLoad{at: s.cfg.Now(), err: err})
		}
		return nil, err
	}
	s.set.Store(ks)
	return ks, nil
}

// read reads the keys, making the first when there is none.
func (s *Service) read(ctx context.Context) (*keySet, error) {
	stored, err := s.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("tokens: signing keys: %w", err)
	}
	if len(stored) == 0 {
		// First need: make generation 1. Another instance doing the same
		// at once stores it first, and both read back the one stored.
		if _, err := s.insert(ctx, 1, s.cfg.Now()); err != nil {
			return nil, err
		}
		if stored, err = s.cfg.Store.SigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("tokens: signing keys: %w", err)
		}
		if len(stored) == 0 {
			return nil, errors.New("tokens: no signing key after making one")
		}
	}
	return s.build(stored)
}

// build makes the key set of the stored keys: the newest generation
// already active signs (none yet, as a clock behind the one that made the
// first key may see: the first to become active); it, the keys waiting to
// sign and the keys retired less than RetireWindow ago are published.
func (s *Service) build(stored []SigningKey) (*keySet, error) {
	now := s.cfg.Now()
	var cur *SigningKey
	for i := range stored {
		k := &stored[i]
		if !k.ActiveAt.After(now) && (cur == nil || k.Generation > cur.Generation) {
			cur = k
		}
	}
	if cur == nil {
		cur = &stored[0]
		for i := range stored {
			if stored[i].ActiveAt.Before(cur.ActiveAt) {
				cur = &stored[i]
			}
		}
	}
	priv, err := unseal(s.aead, cur.KID, cur.Sealed)
	if err != nil {
		return nil, err
	}
	ks := &keySet{kid: cur.KID, priv: priv, created: cur.CreatedAt, loadedAt: now, kids: []string{cur.KID}}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: cur.KID, Use: "sig", Algorithm: "ES256"}}}
	for i := range stored {
		k := &stored[i]
		if k == cur || (k.RetiredAt != nil && !now.Before(k.RetiredAt.Add(RetireWindow))) {
			continue
		}
		if k.Generation > cur.Generation && (ks.next.IsZero() || k.ActiveAt.Before(ks.next)) {
			ks.next = k.ActiveAt
		}
		pub, err := parsePublic(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("tokens: key %s: %w", k.KID, err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: k.KID, Use: "sig", Algorithm: "ES256"})
		ks.kids = append(ks.kids, k.KID)
	}
	if ks.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("tokens: encode JWKS: %w", err)
	}
	return ks, nil
}

func parsePublic(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return pub, nil
}

// insert makes a key of generation gen that signs from active and stores
// it, unless another instance stored that generation first. It reports
// whether it stored it.
func (s *Service) insert(ctx context.Context, gen int64, active time.Time) (bool, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("tokens: generate key: %w", err)
	}
	// The kid is the key's RFC 7638 thumbprint: the same key has the same
	// id everywhere, and two keys never share one.
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return false, fmt.Errorf("tokens: thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return false, fmt.Errorf("tokens: encode public key: %w", err)
	}
	sealed, err := seal(s.aead, kid, priv)
	if err != nil {
		return false, err
	}
	ok, err := s.cfg.Store.InsertSigningKey(ctx, SigningKey{KID: kid, Generation: gen, PublicKey: pub, Sealed: sealed,
		CreatedAt: s.cfg.Now().UTC(), ActiveAt: active.UTC()})
	if err != nil {
		return false, fmt.Errorf("tokens: store signing key: %w", err)
	}
	return ok, nil
}

// Rotation is what a rotation made: the next key, published at once,
// signing from ActiveAt.
type Rotation struct {
	KID      string
	ActiveAt time.Time
}

// Rotate publishes a new key now, which signs from PublishAhead later; the
// key signing until then is retired at that time and stays published for
// RetireWindow more. Keys past that window are deleted. Of two rotations
// at once (two instances) one makes the key.
func (s *Service) Rotate(ctx context.Context) (Rotation, error) {
	return s.rotate(ctx, true)
}

// RotateIfDue rotates when the newest key is RotateEvery old, and deletes
// the keys past their retirement window either way. It returns the newest
// key. The periodic job calls it.
func (s *Service) RotateIfDue(ctx context.Context) (Rotation, error) {
	return s.rotate(ctx, false)
}

func (s *Service) rotate(ctx context.Context, force bool) (Rotation, error) {
	now := s.cfg.Now()
	if _, err := s.cfg.Store.DeleteSigningKeys(ctx, now.Add(-RetireWindow).UTC()); err != nil {
		return Rotation{}, fmt.Errorf("tokens: delete retired keys: %w", err)
	}
	stored, err := s.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return Rotation{}, fmt.Errorf("tokens: signing keys: %w", err)
	}
	var gen int64
	var created time.Time
	for _, k := range stored {
		if k.Generation > gen {
			gen, created = k.Generation, k.CreatedAt
		}
	}
	if force || gen == 0 || now.Sub(created) >= RotateEvery {
		active := now.Add(s.cfg.PublishAhead)
		if gen == 0 {
			active = now // nothing to sign with meanwhile
		}
		if _, err := s.insert(ctx, gen+1, active); err != nil {
			return Rotation{}, err
		}
	}
	if _, err := s.load(ctx, s.set.Load()); err != nil {
		return Rotation{}, err
	}
	if stored, err = s.cfg.Store.SigningKeys(ctx); err != nil {
		return Rotation{}, fmt.Errorf("tokens: signing keys: %w", err)
	}
	var newest Rotation
	gen = 0
	for _, k := range stored {
		if k.Generation > gen {
			gen, newest = k.Generation, Rotation{KID: k.KID, ActiveAt: k.ActiveAt}
		}
	}
	return newest, nil
}
