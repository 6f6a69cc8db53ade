package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// The token size cap (4096 bytes) exists so that a huge cookie cannot buy
// parsing work; it must not refuse a genuine token that is exactly at the
// cap. This pins both sides of the boundary, so "> 4096" cannot drift to
// ">= 4096" (refusing good sessions) or to a larger bound unnoticed.
func TestSessionTokenSizeCap(t *testing.T) {
	clk := &clock{t: time.Now().UTC()}
	svc, _ := MustService(t, clk)
	ctx := context.Background()
	a, err := svc.Signup(ctx, "ada@example.com", "correct horse battery", false)
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := svc.StartSession(ctx, a.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(good, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	claims := parsed.Claims.(jwt.MapClaims)
	sessionKey := auth.DeriveKey(secret, "session-jwt")

	// padded signs the real session's claims plus an ignored "pad" claim,
	// growing the pad until the token is exactly n bytes long. Base64 means
	// not every length is reachable; 4096 and 4097 both are.
	padded := func(n int) string {
		t.Helper()
		for pad := 0; pad < n; pad++ {
			c := jwt.MapClaims{}
			for k, v := range claims {
				c[k] = v
			}
			c["pad"] = strings.Repeat("p", pad)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(sessionKey)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) == n {
				return tok
			}
			if len(tok) > n {
				break
			}
		}
		t.Fatalf("no token of exactly %d bytes", n)
		return ""
	}

	if _, err := svc.Authenticate(ctx, padded(4096)); err != nil {
		t.Errorf("a valid token of 4096 bytes was refused: %v", err)
	}
	if _, err := svc.Authenticate(ctx, padded(4097)); keyhold.ErrorCode(err) != keyhold.EUNAUTHORIZED {
		t.Errorf("a valid token of 4097 bytes: err = %v, want EUNAUTHORIZED", err)
	}
}
