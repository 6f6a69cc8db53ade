package tokens

import (
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// sealInfo is the HKDF info string of the key that seals signing keys:
// fixed, so that every instance with the same secret derives the same key,
// and distinct from any other use of the secret.
const sealInfo = "keyhold tokens: signing key encryption v1"

// newSealer returns the AEAD that seals private signing keys, derived from
// the instance secret.
func newSealer(secret []byte) (cipher.AEAD, error) {
	aead, err := keyhold.SecretAEAD(secret, sealInfo)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return aead, nil
}

// seal encrypts priv for storage: a random nonce, then the AES-GCM
// ciphertext of its PKCS #8 form, bound to kid (additional data) so that a
// sealed key cannot be passed off under another key's id.
func seal(aead cipher.AEAD, kid string, priv *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("tokens: encode key: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(der)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("tokens: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, der, []byte(kid)), nil
}

// ErrUnseal is returned when a stored private key does not decrypt: the
// instance secret is not the one it was sealed under, or the row was
// altered.
var ErrUnseal = errors.New("tokens: a signing key does not decrypt with this instance's secret (KEYHOLD_SECRET changed?)")

// unseal reverses seal.
func unseal(aead cipher.AEAD, kid string, sealed []byte) (*ecdsa.PrivateKey, error) {
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrUnseal
	}
	der, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, ErrUnseal
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("tokens: decode key %s: %w", kid, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("tokens: key %s is not ECDSA", kid)
	}
	return priv, nil
}
