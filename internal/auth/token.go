package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	tokenIssuer   = "keyhold"
	tokenAudience = "keyhold-portal"
	tokenLeeway   = 30 * time.Second
)

// signingMethod is the one algorithm sessions are signed with and the only
// one accepted when parsing: no "none", no RSA/HMAC confusion.
var signingMethod = jwt.SigningMethodHS256

// DeriveKey derives a purpose-specific key from the instance secret, so the
// session signer, the flash-cookie store and anything later never share a
// key.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("keyhold/" + purpose))
	return m.Sum(nil)
}

type tokens struct {
	key []byte
	now func() time.Time
}

func (t *tokens) sign(s *Session) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    tokenIssuer,
		Audience:  jwt.ClaimStrings{tokenAudience},
		Subject:   s.UserID,
		ID:        s.ID,
		IssuedAt:  jwt.NewNumericDate(s.CreatedAt),
		ExpiresAt: jwt.NewNumericDate(s.ExpiresAt),
	}
	tok, err := jwt.NewWithClaims(signingMethod, claims).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign session: %w", err)
	}
	return tok, nil
}

var errBadToken = errors.New("auth: bad session token")

// parse checks the signature, the algorithm, expiry, issuer and audience,
// and returns the claims.
func (t *tokens) parse(raw string) (*jwt.RegisteredClaims, error) {
	if len(raw) > 4096 {
		return nil, errBadToken
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if claims.Subject == "" || claims.ID == "" {
		return nil, errBadToken
	}
	return claims, nil
}
