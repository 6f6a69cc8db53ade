// Package storetest gives tests a fresh, migrated Keyhold database: the
// helper that the tests of auth, keys, verify, billing, store and server
// each wrote for themselves.
//
// It is a package of its own, not part of testenv, because the store
// imports the business packages: a testenv that imported the store could
// not be used by their in-package tests (package verify, package keys).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// Kinds of database New can make.
const (
	SQLite   = "sqlite"   // a file in the test's temporary directory
	Postgres = "postgres" // a database of testenv.Postgres: the test binary needs testenv.Main
)

// New returns a fresh, migrated database of kind (SQLite or Postgres),
// closed when the test ends.
func New(tb testing.TB, kind string) *store.DB {
	tb.Helper()
	return Open(tb, URL(tb, kind))
}

// URL returns the address of a fresh, empty database of kind, for a test
// that opens it itself (as a restarted process would).
func URL(tb testing.TB, kind string) string {
	tb.Helper()
	switch kind {
	case SQLite:
		return "sqlite://" + filepath.Join(tb.TempDir(), "keyhold.db")
	case Postgres:
		return testenv.Postgres(tb)
	}
	tb.Fatalf("storetest: unknown kind of database %q (want %q or %q)", kind, SQLite, Postgres)
	return ""
}

// Open opens the database at url and migrates it, failing the test when
// either fails, and closes it when the test ends.
//
// A SQLite file that does not exist yet starts as a copy of a database
// that this process migrated once (sqliteTemplate): migrating from nothing
// costs about two seconds under the race detector, hundreds of times over
// in the suite, while the copy costs milliseconds. Migrate still runs on
// the copy, and finds nothing to apply; the migrations themselves are
// tested from an empty file by the store's own tests (store.Open there).
func Open(tb testing.TB, url string) *store.DB {
	tb.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
		if err := copyTemplate(path); err != nil {
			tb.Fatalf("storetest: %v", err)
		}
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		tb.Fatalf("open %s: %v", url, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		tb.Fatalf("migrate %s: %v", url, err)
	}
	return db
}

// WriteMigrated writes a freshly migrated SQLite database at path, for a
// test that starts a program on it (cmd/keyhold's serve) rather than
// opening it itself: the program's own Migrate then finds nothing to apply.
// It does nothing when path exists already.
func WriteMigrated(tb testing.TB, path string) {
	tb.Helper()
	if err := copyTemplate(path); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
}

// template is the file of a freshly migrated SQLite database, made once
// per process.
var template struct {
	once sync.Once
	data []byte
	err  error
}

// copyTemplate writes the migrated template to path unless something is
// there already (a test's own older database, or one a process it
// restarts made) or path's directory is missing (store.Open reports that).
func copyTemplate(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil
	}
	template.once.Do(func() { template.data, template.err = sqliteTemplate() })
	if template.err != nil {
		return template.err
	}
	// O_EXCL: never write over a file that appeared since the Stat.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("copying the migrated template to %s: %w", path, err)
	}
	if _, err := f.Write(template.data); err != nil {
		f.Close()
		return fmt.Errorf("copying the migrated template to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("copying the migrated template to %s: %w", path, err)
	}
	return nil
}

// sqliteTemplate migrates an empty SQLite database in a directory of its
// own and returns the file's bytes, with the write-ahead log checkpointed
// into it and removed, so that the one file is the whole database.
func sqliteTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "keyhold-storetest-")
	if err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	err = db.Migrate(ctx, nil)
	if err == nil {
		_, err = db.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	// Closing the last connection checkpoints and deletes the log; one
	// that is left with content would hold part of the schema.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("template database: %s-wal still holds %d bytes after closing", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	return data, nil
}

// Rebind rewrites the ? placeholders of a test's raw query for db: as they
// are on SQLite, $1, $2, … on PostgreSQL.
func Rebind(db *store.DB, query string) string {
	if !db.Postgres() {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
