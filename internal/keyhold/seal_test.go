package keyhold_test

import (
	"bytes"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestSecretAEAD: one secret and info seal and open on any instance; another
// info (another use) or another secret opens nothing.
func TestSecretAEAD(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := keyhold.SecretAEAD(secret, "use one")
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, a.NonceSize())
	sealed := a.Seal(nil, nonce, []byte("plain"), nil)
	same, _ := keyhold.SecretAEAD(secret, "use one")
	if got, err := same.Open(nil, nonce, sealed, nil); err != nil || !bytes.Equal(got, []byte("plain")) {
		t.Errorf("the same secret and info: %q, %v", got, err)
	}
	other, _ := keyhold.SecretAEAD(secret, "use two")
	if _, err := other.Open(nil, nonce, sealed, nil); err == nil {
		t.Error("another info opened it")
	}
	foreign, _ := keyhold.SecretAEAD([]byte("another secret, also 32 bytes ok"), "use one")
	if _, err := foreign.Open(nil, nonce, sealed, nil); err == nil {
		t.Error("another secret opened it")
	}
}
