package keyhold

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// SecretAEAD returns AES-256-GCM under a key derived from the instance
// secret with HKDF-SHA256 and info, which names the use (one info per
// kind of thing sealed, never shared): what Keyhold keeps in the database
// in a form it must read back (token signing keys, webhook secrets, kept
// API answers) is sealed with it, so a copy of the database alone opens
// none of it. The same secret and info give the same key on every
// instance.
func SecretAEAD(secret []byte, info string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key for %q: %w", info, err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
