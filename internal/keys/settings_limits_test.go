package keys_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// TestSettingsLimitsAreInclusive pins every documented limit on key settings
// from both sides: the limit itself is allowed, one past it is refused.
// TestCreateRejects only has the "past it" side, so a limit that moved by
// one (a > turned into >=) would refuse legal keys without failing a test.
func TestSettingsLimitsAreInclusive(t *testing.T) {
	f := MustService(t)
	scopes := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("s%d", i)
		}
		return s
	}
	at := func(d time.Duration) *time.Time { t := f.now.Add(d); return &t }

	tests := []struct {
		name string
		st   keys.Settings
		ok   bool
	}{
		{"name of MaxNameLen characters", keys.Settings{Name: strings.Repeat("n", keys.MaxNameLen)}, true},
		// The limit counts characters, not bytes: 64 two-byte letters fit.
		{"name of MaxNameLen two-byte characters", keys.Settings{Name: strings.Repeat("é", keys.MaxNameLen)}, true},
		{"name one character too long", keys.Settings{Name: strings.Repeat("é", keys.MaxNameLen+1)}, false},
		{"scope of MaxScopeLen bytes", keys.Settings{Name: "k", Scopes: []string{strings.Repeat("s", keys.MaxScopeLen)}}, true},
		{"scope one byte too long", keys.Settings{Name: "k", Scopes: []string{strings.Repeat("s", keys.MaxScopeLen+1)}}, false},
		{"MaxScopes scopes", keys.Settings{Name: "k", Scopes: scopes(keys.MaxScopes)}, true},
		{"one scope too many", keys.Settings{Name: "k", Scopes: scopes(keys.MaxScopes + 1)}, false},
		// Duplicates and blanks are dropped before counting.
		{"MaxScopes scopes plus duplicates", keys.Settings{Name: "k", Scopes: append(scopes(keys.MaxScopes), "s0", " ", "s1")}, true},
		{"expiry a second from now", keys.Settings{Name: "k", ExpiresAt: at(time.Second)}, true},
		{"expiry now", keys.Settings{Name: "k", ExpiresAt: at(0)}, false},
		{"expiry exactly MaxExpiry away", keys.Settings{Name: "k", ExpiresAt: at(keys.MaxExpiry)}, true},
		{"expiry a second past MaxExpiry", keys.Settings{Name: "k", ExpiresAt: at(keys.MaxExpiry + time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh account per case, so the plan's key limit never
			// refuses an otherwise valid key.
			acct := f.MustAccount(t, keyhold.NewID()+"@example.com")
			k, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, tt.st)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			if tt.ok && len(tt.st.Scopes) >= keys.MaxScopes && len(k.Scopes) != keys.MaxScopes {
				t.Errorf("kept %d scopes, want %d", len(k.Scopes), keys.MaxScopes)
			}
		})
	}
}

// TestBadScopeMessageQuotesAtMost40Bytes: the error names the offending
// scope so the owner can find it, but cut to 40 bytes so a pasted blob does
// not fill the page.
func TestBadScopeMessageQuotesAtMost40Bytes(t *testing.T) {
	f := MustService(t)
	acct := f.MustAccount(t, "ada@example.com")
	forty := strings.Repeat("a", 39) + "?"
	tests := []struct {
		scope, want string
	}{
		{forty, fmt.Sprintf("%q", forty)},
		{forty + "b", fmt.Sprintf("%q", forty+"…")},
	}
	for _, tt := range tests {
		_, _, err := f.svc.Create(context.Background(), audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}, acct, keys.Settings{Name: "k", Scopes: []string{tt.scope}})
		if msg := keyhold.ErrorMessage(err); !strings.Contains(msg, tt.want) {
			t.Errorf("scope of %d bytes: message %q does not contain %s", len(tt.scope), msg, tt.want)
		}
	}
}
