package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/config"
)

// TestOpenApp checks the preamble every command shares: what it loads is
// what the command asked for, and each refusal comes before the database
// is created, so a bad setting changes nothing on disk.
func TestOpenApp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badPlans := filepath.Join(dir, "plans.json")
	if err := os.WriteFile(badPlans, []byte(`[{"id": "free"`), 0o600); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no, says the command")
	tests := []struct {
		name    string
		env     map[string]string
		need    appNeeds
		wantErr string // empty: opens
	}{
		{"database only", nil, appNeeds{}, ""},
		{"plans and secret", nil, appNeeds{plans: true, secret: true}, ""},
		{"bad configuration", map[string]string{"KEYHOLD_LOG_LEVEL": "loud"}, appNeeds{}, "KEYHOLD_LOG_LEVEL"},
		{"check refuses", nil, appNeeds{check: func(*config.Config) error { return errNo }, plans: true}, errNo.Error()},
		{"bad plans file", map[string]string{"KEYHOLD_PLANS_FILE": badPlans}, appNeeds{plans: true}, "KEYHOLD_PLANS_FILE"},
		{"plans file not asked for", map[string]string{"KEYHOLD_PLANS_FILE": badPlans}, appNeeds{}, ""},
		{"database directory missing", map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + filepath.Join(dir, "nowhere", "k.db")}, appNeeds{}, "KEYHOLD_DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbPath := filepath.Join(t.TempDir(), "k.db")
			env := testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + dbPath})
			for k, v := range tt.env {
				env[k] = v
			}
			a, err := openApp(context.Background(), getenvOf(env), io.Discard, tt.need)
			if tt.wantErr != "" {
				if err == nil {
					a.Close()
					t.Fatalf("openApp opened; want an error naming %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				if _, serr := os.Stat(dbPath); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("the database %s was created although openApp refused (stat: %v)", dbPath, serr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.db.Ping(context.Background()); err != nil {
				t.Errorf("the database does not answer: %v", err)
			}
			if got := a.catalog != nil; got != tt.need.plans {
				t.Errorf("catalog loaded: %v, asked for: %v", got, tt.need.plans)
			}
			if got := len(a.secret) >= 32; got != tt.need.secret {
				t.Errorf("secret of %d bytes, asked for: %v", len(a.secret), tt.need.secret)
			}
		})
	}
}
