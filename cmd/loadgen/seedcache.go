package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The seed cache (-seed-cache DIR, single mode): seeding 100 000 keys
// through the real services takes minutes, and a memory investigation
// runs the benchmark many times over the same keys. The first run with
// DIR seeds as usual and then keeps a copy of the seeded database and the
// keys' plaintext (keys.txt, mode 0600: benchmark keys of a throwaway
// database, the one place loadgen writes them) in DIR; later runs with the
// same -keys copy the database into their own folder and read the keys
// back instead of seeding. Only a cache made for the same number of keys
// is used.

const (
	seedCacheDB   = "keyhold.db"
	seedCacheKeys = "keys.txt"
)

// loadSeedCache copies the cached database to db and returns the cached
// keys; ok is false when dir holds no cache of n keys yet.
func loadSeedCache(dir, db string, n int) (secrets []string, ok bool, err error) {
	f, err := os.Open(filepath.Join(dir, seedCacheKeys))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("seed cache: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			secrets = append(secrets, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("seed cache: read %s: %w", seedCacheKeys, err)
	}
	if len(secrets) != n {
		return nil, false, fmt.Errorf("seed cache: %s holds %d keys, not the %d of -keys; use another folder", filepath.Join(dir, seedCacheKeys), len(secrets), n)
	}
	if err := copyFile(filepath.Join(dir, seedCacheDB), db, 0o600); err != nil {
		return nil, false, fmt.Errorf("seed cache: %w", err)
	}
	return secrets, true, nil
}

// saveSeedCache keeps a copy of the seeded database db (closed, so
// checkpointed into one file) and the keys in dir.
func saveSeedCache(dir, db string, secrets []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seed cache: %w", err)
	}
	if err := copyFile(db, filepath.Join(dir, seedCacheDB), 0o600); err != nil {
		return fmt.Errorf("seed cache: %w", err)
	}
	body := strings.Join(secrets, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, seedCacheKeys), []byte(body), 0o600); err != nil {
		return fmt.Errorf("seed cache: %w", err)
	}
	return nil
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return out.Close()
}
