package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
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

// TestMarkEventsFannedOut: seeding's events are marked queued when the
// database has no webhook endpoint (nothing would be delivered), and left
// to the server when it has one.
func TestMarkEventsFannedOut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plansPath := filepath.Join(dir, "plans.json")
	if err := writePlans(plansPath, 10); err != nil {
		t.Fatal(err)
	}
	url := "sqlite://" + filepath.Join(dir, "k.db")
	if _, _, err := seed(ctx, url, plansPath, 4, 2, 1, io.Discard); err != nil {
		t.Fatal(err)
	}
	unqueued := func(url string) int {
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE queued = FALSE").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := unqueued(url)
	if before < 4 {
		t.Fatalf("%d unqueued events after seeding 4 keys, want at least 4 (a key.created each)", before)
	}
	n, err := markEventsFannedOut(ctx, url)
	if err != nil || n != int64(before) || unqueued(url) != 0 {
		t.Fatalf("markEventsFannedOut = %d, %v, %d left unqueued; want %d, nil, 0", n, err, unqueued(url), before)
	}

	// With an endpoint, the events are the server's to deliver.
	url = "sqlite://" + filepath.Join(dir, "with-endpoint.db")
	if _, _, err := seed(ctx, url, plansPath, 2, 2, 1, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, "INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at) VALUES ('we_1', 'https://example.com/hook', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	left := unqueued(url)
	if n, err := markEventsFannedOut(ctx, url); err != nil || n != 0 || unqueued(url) != left || left == 0 {
		t.Errorf("with an endpoint: markEventsFannedOut = %d, %v, %d unqueued (of %d); want 0, nil, all left", n, err, unqueued(url), left)
	}
}
