package auth_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSessionUserAgentCut: a user agent is kept to its first 256 bytes,
// cut between characters, never inside one: half a character is invalid
// UTF-8, which PostgreSQL refuses in a TEXT column, so the log-in of a
// browser whose user agent had a multi-byte character across byte 256
// failed.
func TestSessionUserAgentCut(t *testing.T) {
	tests := []struct {
		name, userAgent, want string
	}{
		{"short", "Mozilla/5.0", "Mozilla/5.0"},
		{"exactly 256 bytes", strings.Repeat("a", 256), strings.Repeat("a", 256)},
		{"ASCII past 256 bytes", strings.Repeat("a", 300), strings.Repeat("a", 256)},
		{"a two-byte character across byte 256", strings.Repeat("a", 255) + "é", strings.Repeat("a", 255)},
		{"a four-byte character across byte 256", strings.Repeat("a", 254) + "😀 and more", strings.Repeat("a", 254)},
		{"a character ending at byte 256", strings.Repeat("a", 254) + "é and more", strings.Repeat("a", 254) + "é"},
		// Junk a client may send: no character starts in the first 257
		// bytes, so nothing is kept, and nothing panics.
		{"only continuation bytes", strings.Repeat("\x80", 300), ""},
	}
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a := mustAda(t, svc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := svc.StartSession(ctx, a.ID, "192.0.2.1", tt.userAgent)
			if err != nil {
				t.Fatal(err)
			}
			v, err := svc.Authenticate(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			sess := v.Session
			if sess.UserAgent != tt.want || !utf8.ValidString(sess.UserAgent) {
				t.Errorf("user agent kept as %q (%d bytes), want %q", sess.UserAgent, len(sess.UserAgent), tt.want)
			}
		})
	}
}
