package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSeedCache keeps a seeded database and its keys, and gives them back
// to a run with the same number of keys: the database copied into the
// run's folder, the keys' file readable by its owner only.
func TestSeedCache(t *testing.T) {
	dir, run := t.TempDir(), t.TempDir()
	cache := filepath.Join(dir, "cache")
	db := filepath.Join(run, "seeded.db")
	if err := os.WriteFile(db, []byte("database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := loadSeedCache(cache, filepath.Join(run, "a.db"), 2); ok || err != nil {
		t.Fatalf("empty cache: ok %v, err %v; want nothing, no error", ok, err)
	}
	keys := []string{"kh_test_one", "kh_test_two"}
	if err := saveSeedCache(cache, db, keys); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cache, seedCacheKeys)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v, %v; want mode 0600", fi, err)
	}
	to := filepath.Join(run, "b.db")
	got, ok, err := loadSeedCache(cache, to, 2)
	if err != nil || !ok || !slices.Equal(got, keys) {
		t.Fatalf("load: %v, %v, %v; want %v", got, ok, err, keys)
	}
	if b, err := os.ReadFile(to); err != nil || string(b) != "database" {
		t.Errorf("copied database: %q, %v", b, err)
	}
	// Another -keys: refused, naming the file and both counts.
	if _, _, err := loadSeedCache(cache, to, 3); err == nil || !strings.Contains(err.Error(), "holds 2 keys, not the 3") {
		t.Errorf("3 keys from a cache of 2: %v", err)
	}
	// A cache whose database went missing: an error, not a silent reseed.
	os.Remove(filepath.Join(cache, seedCacheDB))
	if _, _, err := loadSeedCache(cache, to, 2); err == nil || !strings.Contains(err.Error(), seedCacheDB) {
		t.Errorf("cache without its database: %v", err)
	}
}
