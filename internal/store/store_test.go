package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// forEachDB runs fn against a fresh, migrated SQLite and PostgreSQL
// database.
func forEachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			fn(t, MustOpen(t, name))
		})
	}
}

// MustOpen opens and migrates a fresh database of the given kind.
func MustOpen(tb testing.TB, kind string) *store.DB {
	tb.Helper()
	return storetest.New(tb, kind)
}

// mustAccount creates a user and their personal account, which shares the
// user's id and is named for the email, as sign-up does.
func mustAccount(tb testing.TB, db *store.DB, email string) *auth.User {
	tb.Helper()
	return mustAccountAt(tb, db, email, time.Now().UTC().Truncate(time.Microsecond))
}

// mustAccountAt is mustAccount with both made at now.
func mustAccountAt(tb testing.TB, db *store.DB, email string, now time.Time) *auth.User {
	tb.Helper()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestMigrateTwice seeds a migrated database with a row in most tables,
// migrates it again, and compares the schema and every row before and
// after: a second migrate must change nothing, not merely return no error
// (a migration re-applied, a default re-seeded, the instance secret
// replaced, a version row added would all pass that).
func TestMigrateTwice(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		before := dump(t, db)
		if err := db.Migrate(ctx, nil); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		after := dump(t, db)
		for _, section := range sortedKeys(before, after) {
			if d := lineDiff(before[section], after[section]); d != "" {
				t.Errorf("the second migrate changed %s (- before, + after):\n%s", section, d)
			}
		}
		// The dump must see what was seeded, or the comparison proves nothing.
		for _, table := range []string{"users", "accounts", "memberships", "sessions", "api_keys", "key_secrets", "audit_log", "usage_hourly", "usage_batches", "settings", "goose_db_version"} {
			if len(before["rows of "+table]) == 0 {
				t.Errorf("the dump holds no rows of %s; sections: %v", table, sortedKeys(before))
			}
		}
	})
}

// seed writes rows the way Keyhold does: an operator account with a
// session, a key with its secret and audit entry, usage, and the instance
// secret.
func seed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	a := mustAccount(t, db, "ada@example.com")
	if err := db.SetAdmin(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPlan(ctx, a.ID, "pro"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := db.CreateSession(ctx, &auth.Session{ID: "s1", UserID: a.ID, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	k, s := newKey(a.ID, now)
	if err := db.CreateKey(ctx, k, s.Hash(), 10, entry(a.ID, audit.KeyCreated, k.ID)); err != nil {
		t.Fatal(err)
	}
	hour := now.Truncate(time.Hour)
	if err := db.AddUsage(ctx, []verify.Usage{{KeyID: k.ID, AccountID: a.ID, Hour: hour, WindowStart: hour, Valid: 3, Cost: 3, LastUsed: now, Batch: "b1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Secret(ctx); err != nil {
		t.Fatal(err)
	}
}

// dump returns the schema and the rows of every table of db, each section
// sorted: sqlite_master on SQLite; columns, indexes and constraints from
// the catalog on PostgreSQL.
func dump(t *testing.T, db *store.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	q := func(query string) []string {
		t.Helper()
		rows, err := db.Rows(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		sort.Strings(rows)
		return rows
	}
	out := map[string][]string{}
	var tables []string
	if db.Postgres() {
		out["columns"] = q(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, COALESCE(column_default, '')
			FROM information_schema.columns WHERE table_schema = 'public'`)
		out["indexes"] = q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`)
		out["constraints"] = q(`SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = 'public'::regnamespace`)
		out["triggers"] = q(`SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement
			FROM information_schema.triggers WHERE trigger_schema = 'public'`)
		tables = q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	} else {
		out["schema"] = q(`SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master`)
		tables = q(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	}
	for _, table := range tables {
		// Names come from the catalog, not from input.
		out["rows of "+table] = q(`SELECT * FROM "` + table + `"`)
	}
	return out
}

// lineDiff returns the lines only in before (-) and only in after (+), or
// "" when both hold the same lines.
func lineDiff(before, after []string) string {
	count := map[string]int{}
	for _, l := range before {
		count[l]++
	}
	for _, l := range after {
		count[l]--
	}
	var out []string
	for _, l := range before {
		if count[l] > 0 {
			out = append(out, "- "+l)
		}
	}
	for _, l := range after {
		if count[l] < 0 {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func sortedKeys(ms ...map[string][]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestAccounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "ada@example.com")

		got, err := db.UserByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != a.ID || got.Email != a.Email || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("got %+v, want %+v", got, a)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("times must come back in UTC, got %v", got.CreatedAt.Location())
		}
		acc, err := db.AccountByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Name != a.Email || acc.PlanID != "free" || !acc.CreatedAt.Equal(a.CreatedAt) || acc.CreatedAt.Location() != time.UTC {
			t.Errorf("personal account: got %+v, want name %q on the free plan", acc, a.Email)
		}
		if _, err := db.AccountByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("missing account: got %v, want ErrNotFound", err)
		}
		if _, err := db.UserByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("missing user: got %v, want ErrNotFound", err)
		}
		if _, err := db.UserByEmail(ctx, "nope@example.com"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("missing email: got %v, want ErrNotFound", err)
		}
		dup := *a
		dup.ID = keyhold.NewID()
		if err := db.CreateUser(ctx, &dup, &team.Account{ID: dup.ID, Name: dup.Email, CreatedAt: dup.CreatedAt, UpdatedAt: dup.UpdatedAt}, nil); !errors.Is(err, auth.ErrEmailTaken) {
			t.Errorf("duplicate email: got %v, want ErrEmailTaken", err)
		}
		// The refused user's personal account must not be left behind.
		if _, err := db.AccountByID(ctx, dup.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("account of the refused user: got %v, want ErrNotFound", err)
		}
		if err := db.SetAdmin(ctx, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.UserByID(ctx, a.ID); !got.IsAdmin {
			t.Error("SetAdmin did not stick")
		}
		if err := db.SetAdmin(ctx, "nope", true); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetAdmin of no user: got %v, want ErrNotFound", err)
		}
	})
}

func TestSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "grace@example.com")
		now := time.Now().UTC().Truncate(time.Second)
		for _, id := range []string{"s1", "s2"} {
			if err := db.CreateSession(ctx, &auth.Session{ID: id, UserID: a.ID, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IP: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}
		v, err := db.Visit(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if s := v.Session; s.UserID != a.ID || s.AccountID != a.ID || !s.ExpiresAt.Equal(now.Add(time.Hour)) || s.IP != "127.0.0.1" {
			t.Fatalf("session: %+v", s)
		}
		if v.User.ID != a.ID || v.User.Email != a.Email {
			t.Errorf("visit user: %+v", v.User)
		}
		if err := db.DeleteSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Visit(ctx, "s1"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("deleted session: got %v", err)
		}
		if err := db.DeleteSession(ctx, "s1"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("second delete: got %v", err)
		}
		if err := db.SetPassword(ctx, a.ID, "new-hash"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Visit(ctx, "s2"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("password change must end sessions, got %v", err)
		}
		if got, _ := db.UserByID(ctx, a.ID); got.PasswordHash != "new-hash" {
			t.Errorf("hash not stored")
		}
		if err := db.SetPassword(ctx, "nope", "x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		if err := db.CreateSession(ctx, &auth.Session{ID: "s3", UserID: a.ID, AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteExpiredSessions(ctx, now)
		if err != nil || n != 1 {
			t.Errorf("expired: %d, %v", n, err)
		}
	})
}

func TestSecretIsStableAndShared(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := db.Secret(ctx)
				if err != nil {
					t.Error(err)
				}
				got[i] = s
			}()
		}
		wg.Wait()
		for i := range got {
			if len(got[i]) != 32 || string(got[i]) != string(got[0]) {
				t.Fatalf("secret %d differs or is short: %x vs %x", i, got[i], got[0])
			}
		}
	})
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url, want string
	}{
		{"mysql", "mysql://x", "sqlite:// or postgres://"},
		{"sqlite in a missing directory", "sqlite://" + filepath.Join(dir, "missing", "deeper", "k.db"), filepath.Join(dir, "missing", "deeper") + " of the SQLite database does not exist"},
		{"sqlite under a file", "sqlite://" + filepath.Join(file, "k.db"), "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := store.Open(context.Background(), tc.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q): %v, want it to say %q", tc.url, err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open made the missing directory (stat: %v)", err)
	}
}
