package keyhold_test

import (
	"encoding/base64"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestNewToken(t *testing.T) {
	a, ha := keyhold.NewToken()
	b, hb := keyhold.NewToken()
	if a == b || ha == hb {
		t.Fatal("two tokens are the same")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v; want 32 bytes of base64url", a, len(raw), err)
	}
	if len(a) > keyhold.MaxTokenLen {
		t.Errorf("token of %d characters is over MaxTokenLen", len(a))
	}
	if ha != keyhold.TokenHash(a) || len(ha) != 64 {
		t.Errorf("hash %q is not TokenHash's hex SHA-256", ha)
	}
	// SHA-256("abc"), so the stored form stays what auth stored before.
	if got := keyhold.TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("TokenHash(abc) = %s", got)
	}
}
