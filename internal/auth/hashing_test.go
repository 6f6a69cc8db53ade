package auth_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestProductionHashing: without CheapHashing, as cmd/keyhold builds the
// service, a password is hashed with OWASP's argon2id parameters and logs
// in; a wrong one does not. A hash stored under either parameters verifies
// on a service of the other kind, by the parameters the hash names.
func TestProductionHashing(t *testing.T) {
	ctx := context.Background()
	prod, db := MustService(t, nil, productionHashing)
	cheap := MustServiceOn(t, db, nil)
	for _, tt := range []struct {
		name          string
		signup, login *auth.Service
		email, prefix string
	}{
		{"OWASP hash, OWASP service", prod, prod, "owasp@example.com", "$argon2id$v=19$m=19456,t=2,p=1$"},
		{"OWASP hash, cheap service", prod, cheap, "owasp2@example.com", "$argon2id$v=19$m=19456,t=2,p=1$"},
		{"cheap hash, OWASP service", cheap, prod, "cheap@example.com", "$argon2id$v=19$m=8,t=1,p=1$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const password = "correct horse battery"
			u, err := tt.signup.Signup(ctx, tt.email, password, false)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(u.PasswordHash, tt.prefix) {
				t.Fatalf("hash %q, want one that starts %q", u.PasswordHash, tt.prefix)
			}
			if _, err := tt.login.Login(ctx, tt.email, password, "192.0.2.1"); err != nil {
				t.Errorf("log-in with the right password: %v", err)
			}
			if _, err := tt.login.Login(ctx, tt.email, "wrong horse battery", "192.0.2.1"); code(err) != keyhold.EUNAUTHORIZED {
				t.Errorf("log-in with a wrong password: %v, want %s", err, keyhold.EUNAUTHORIZED)
			}
		})
	}
}

// TestCheapHashingOnlyInTests: CheapHashing is set by tests alone. No
// file of the program outside internal/auth names it, so neither a setting
// nor an environment variable can turn it on.
func TestCheapHashingOnlyInTests(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || name == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		checked++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.Contains(string(b), "CheapHashing") && filepath.Dir(rel) != filepath.Join("internal", "auth") {
			t.Errorf("%s names auth.Config.CheapHashing: only tests may set it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files checked under %s: is the walk right?", checked, root)
	}
}
