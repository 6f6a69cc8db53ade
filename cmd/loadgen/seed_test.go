package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
)

// TestSeed seeds a small SQLite database through the real services: the
// accounts are shared out perAccount keys at a time, and every key it
// returns is a well-formed, distinct plaintext key.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	plansPath := filepath.Join(dir, "plans.json")
	if err := writePlans(plansPath, 10); err != nil {
		t.Fatal(err)
	}
	secrets, st, err := seed(context.Background(), "sqlite://"+filepath.Join(dir, "k.db"), plansPath, 5, 2, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if st.Accounts != 3 || st.Keys != 5 || len(secrets) != 5 || st.KeysTime <= 0 || st.PerKey <= 0 {
		t.Fatalf("stats %+v, %d secrets: want 3 accounts and 5 keys", st, len(secrets))
	}
	seen := map[string]bool{}
	for _, s := range secrets {
		if _, err := keys.Parse(s); err != nil || seen[s] {
			t.Errorf("key %s…: parse %v, seen before %v", s[:12], err, seen[s])
		}
		seen[s] = true
	}
}

// TestSeedRefuses checks that a plans file that is not there stops the
// seeding with an error naming it.
func TestSeedRefuses(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-plans.json")
	_, _, err := seed(context.Background(), "sqlite://"+filepath.Join(dir, "k.db"), missing, 1, 1, 1, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no-plans.json") {
		t.Errorf("seed with a missing plans file: %v", err)
	}
}
