package auth_test

import (
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestCheckPassword(t *testing.T) {
	const email = "ada.lovelace@example.com"
	tests := []struct {
		name, password, want string // want: part of the message; "" accepted
	}{
		{"passphrase", "correct horse battery", ""},
		{"long random", "vT9#qL2!mZ8@wX4", ""},
		{"ten characters exactly", "tr0ub4dor&", ""},
		{"email inside a longer phrase", "ada.lovelace@example.com rides a bicycle", ""},
		{"service name inside a phrase", "my keyhold portal is great", ""},
		{"short", "123456789", "at least 10 characters"},
		{"short in bytes too", "ééééééééé", "at least 10 characters"},
		{"ten characters of two bytes", "éàüöçñøåæœ", ""},
		{"too long", strings.Repeat("ab", 513), "at most 1024 characters"},
		{"one character repeated", "aaaaaaaaaa", "repeats"},
		{"two characters repeated", "abababababab", "repeats"},
		{"common", "password123", "common passwords"},
		{"common in another case", "PassWord123", "common passwords"},
		{"common digits", "1234567890", "common passwords"},
		{"common keyboard walk", "qwertyuiop", "common passwords"},
		{"the email", "ada.lovelace@example.com", "email address"},
		{"the email in capitals", "Ada.Lovelace@Example.com", "email address"},
		{"the email and digits", "ada.lovelace@example.com2024", "email address"},
		{"the local part", "ada.lovelace", "email address"},
		{"the local part and digits", "ada.lovelace1990!", "email address"},
		{"a piece of the local part and digits", "lovelace2024!", "email address"},
		{"pieces of the local part", "AdaLovelace1815", "email address"},
		{"the service name and digits", "keyhold2024", "Keyhold"},
		{"the service name twice", "Keyhold-Keyhold", "Keyhold"},
		{"email and service", "ada-keyhold-123", "email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CheckPassword(tt.password, email)
			if tt.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), tt.want) {
				t.Errorf("got %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
}

// TestCommonPasswordList checks the embedded list is there and large.
func TestCommonPasswordList(t *testing.T) {
	var n int
	for _, p := range []string{"qwertyuiop", "1234567890", "password123", "iloveyou123", "aaaaaaaaaa"} {
		if err := auth.CheckPassword(p, ""); err != nil {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d of 5 well-known passwords refused", n)
	}
	if got := auth.CommonPasswordCount(); got < 10_000 {
		t.Errorf("the list has %d passwords, want at least 10 000", got)
	}
}
