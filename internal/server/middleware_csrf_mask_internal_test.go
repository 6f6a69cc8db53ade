package server

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestCSRFTokenIsMaskedPerResponse: every page gets the token another way
// (so compressed pages do not repeat a fixed secret, see BREACH), and each
// of those unmasks to the cookie's token; anything else is refused.
func TestCSRFTokenIsMaskedPerResponse(t *testing.T) {
	token := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	other := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("x", 32)))
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	c.Set(csrfKey, token)

	a, b := csrfToken(c), csrfToken(c)
	if a == b {
		t.Fatal("two pages got the same masked token")
	}
	if strings.Contains(a, token) || strings.Contains(b, token) {
		t.Fatal("the masked token contains the token")
	}
	for _, m := range []string{a, b} {
		if !csrfMatches(m, token) {
			t.Errorf("masked %q does not match its token", m)
		}
	}

	flip := []byte(a)
	flip[len(flip)-1] ^= 1 // still base64url: one bit of the last character
	tests := map[string]struct{ sent, token string }{
		"the bare token":          {token, token},
		"another token's mask":    {a, other},
		"empty":                   {"", token},
		"no cookie token":         {a, ""},
		"cut short":               {a[:len(a)-2], token},
		"not base64":              {strings.Repeat("*", len(a)), token},
		"one character changed":   {string(flip), token},
		"the mask of a mask":      {base64.RawURLEncoding.EncodeToString(append([]byte(a), []byte(a)...)), token},
		"twice the token, no pad": {base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("k", 64))), token},
	}
	for name, tt := range tests {
		if csrfMatches(tt.sent, tt.token) {
			t.Errorf("%s: matches", name)
		}
	}

	empty := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if got := csrfToken(empty); got != "" {
		t.Errorf("outside the middleware: %q, want none", got)
	}
}
