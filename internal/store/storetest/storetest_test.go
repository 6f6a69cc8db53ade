package storetest_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// schema lists the database's tables, indexes and triggers with their SQL.
func schema(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), "SELECT type || ' ' || name, COALESCE(sql, '') FROM sqlite_master")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			t.Fatal(err)
		}
		got[name] = sql
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// A fresh SQLite database starts as a copy of a template: it must have the
// schema that migrating an empty file gives, and each copy is its own.
func TestSQLiteCopyIsMigratedAndIndependent(t *testing.T) {
	ctx := context.Background()
	scratch, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "scratch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { scratch.Close() })
	if err := scratch.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	want := schema(t, scratch)
	if len(want) < 10 {
		t.Fatalf("migrating from empty made %d schema objects, want the whole schema", len(want))
	}

	a := storetest.New(t, storetest.SQLite)
	b := storetest.New(t, storetest.SQLite)
	if got := schema(t, a); !reflect.DeepEqual(got, want) {
		t.Errorf("a copied database's schema differs from a migrated one:\ngot  %v\nwant %v", got, want)
	}
	if a.URL() == b.URL() {
		t.Fatalf("two fresh databases share %s", a.URL())
	}
	sa, err := a.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(sa, sb) {
		t.Error("two fresh databases have the same instance secret: the template carried one")
	}
}

// A file that exists already is opened as it is, not replaced by the
// template: a test's restarted process must find its own rows.
func TestSQLiteExistingFileIsKept(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, storetest.SQLite)
	first := storetest.Open(t, url)
	s1, err := first.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	again := storetest.Open(t, url)
	s2, err := again.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s1, s2) {
		t.Error("reopening an existing database gave another instance secret: the file was replaced")
	}
}
