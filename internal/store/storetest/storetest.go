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
	"path/filepath"
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
func Open(tb testing.TB, url string) *store.DB {
	tb.Helper()
	ctx := context.Background()
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
