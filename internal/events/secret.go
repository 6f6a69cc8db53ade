package events

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// sealInfo is the HKDF info string of the key that seals endpoint secrets:
// fixed, so every instance with the same KEYHOLD_SECRET derives the same
// key, and distinct from every other use of that secret (the token signing
// keys use the same construction with their own info).
const sealInfo = "keyhold events: webhook endpoint secret encryption v1"

// sealer seals endpoint signing secrets for storage: they must be kept in
// a form that can sign, but a copy of the database alone must not be
// enough to forge a webhook.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("events: the instance secret must be at least 32 bytes")
	}
	aead, err := keyhold.SecretAEAD(secret, sealInfo)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return &sealer{aead}, nil
}

// seal returns base64(nonce || AES-GCM(secret)), bound to the endpoint's
// id (additional data) so a sealed secret cannot be moved to another
// endpoint.
func (s *sealer) seal(endpointID, secret string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(secret), []byte(endpointID)))
}

// ErrUnseal is returned when an endpoint's stored secret does not decrypt:
// KEYHOLD_SECRET is not the one it was sealed under, or the row was
// altered. Rolling the secret mends it.
var ErrUnseal = errors.New("events: an endpoint's signing secret does not decrypt with this instance's secret (KEYHOLD_SECRET changed?); roll it")

// open reverses seal.
func (s *sealer) open(endpointID, sealed string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n {
		return "", ErrUnseal
	}
	out, err := s.aead.Open(nil, b[:n], b[n:], []byte(endpointID))
	if err != nil {
		return "", ErrUnseal
	}
	return string(out), nil
}
