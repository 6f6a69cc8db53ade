package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Grant is what a token is issued for: a key that was just verified.
type Grant struct {
	KeyID, AccountID, Plan string
	Scopes                 []string        // the token's scopes: a subset of the key's
	Meta                   json.RawMessage // the key's metadata, a JSON object; nil: {}
	Audience               string          // one of Config.Audiences (see Audience)
	TTL                    time.Duration   // MinTTL..MaxTTL
}

// Token is an issued token.
type Token struct {
	Token     string // the compact JWT
	KID       string // the key that signed it
	ExpiresAt time.Time
}

// Claims are the claims of a Keyhold token, as the contract names them.
// It implements jwt.Claims.
type Claims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"` // the key's id
	Audience  string          `json:"aud"`
	IssuedAt  int64           `json:"iat"`
	NotBefore int64           `json:"nbf"`
	Expires   int64           `json:"exp"`
	ID        string          `json:"jti"`
	Account   string          `json:"acct"`
	Plan      string          `json:"plan"`
	Scope     string          `json:"scope"` // space-separated
	Meta      json.RawMessage `json:"meta"`
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.Expires), nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numeric(c.IssuedAt), nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return numeric(c.NotBefore), nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{c.Audience}, nil }

func numeric(sec int64) *jwt.NumericDate { return jwt.NewNumericDate(time.Unix(sec, 0)) }

// Issue signs a token for g with the current key (made on first need). It
// checks the lifetime and the audience; the caller has verified the key
// and its scopes. Errors: a keyhold.EINVALID for a lifetime or audience out
// of bounds, else the signing keys could not be read.
func (s *Service) Issue(ctx context.Context, g Grant) (Token, error) {
	if g.TTL < MinTTL || g.TTL > MaxTTL {
		return Token{}, keyhold.Errorf(keyhold.EINVALID, "ttl must be from %d to %d seconds.", int(MinTTL/time.Second), int(MaxTTL/time.Second))
	}
	if _, ok := s.Audience(g.Audience); !ok || g.Audience == "" {
		return Token{}, keyhold.Errorf(keyhold.EINVALID, "audience must be one of %s.", strings.Join(s.cfg.Audiences, ", "))
	}
	ks, err := s.keys(ctx)
	if err != nil {
		return Token{}, err
	}
	now := s.cfg.Now().Truncate(time.Second)
	exp := now.Add(g.TTL)
	meta := g.Meta
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	c := &Claims{
		Issuer: s.cfg.Issuer, Subject: g.KeyID, Audience: g.Audience,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: exp.Unix(),
		ID: keyhold.NewID(), Account: g.AccountID, Plan: g.Plan,
		Scope: strings.Join(g.Scopes, " "), Meta: meta,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = ks.kid
	signed, err := t.SignedString(ks.priv)
	if err != nil {
		return Token{}, fmt.Errorf("tokens: sign: %w", err)
	}
	return Token{Token: signed, KID: ks.kid, ExpiresAt: exp}, nil
}
