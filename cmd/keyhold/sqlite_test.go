package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteMissingDirectory checks that a SQLite path in a directory that
// does not exist is refused in one line naming the variable and the
// directory, and that the directory is not made: a typo in a path must not
// start a new, empty database somewhere.
func TestSQLiteMissingDirectory(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve"}, {"migrate"}, {"admin", "create-user", "--email", "ops@example.com", "--password-stdin"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			missing := filepath.Join(t.TempDir(), "no-such-dir")
			env := testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + filepath.Join(missing, "k.db")})
			r := runCommand(t, env, testPassword+"\n", args...)
			if r.Err == nil {
				t.Fatalf("keyhold %s with a database in a missing directory succeeded", strings.Join(args, " "))
			}
			msg := r.Err.Error()
			if !strings.Contains(msg, "KEYHOLD_DATABASE_URL") || !strings.Contains(msg, missing) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line naming KEYHOLD_DATABASE_URL and %s", msg, missing)
			}
			if exitCode(r.Err) == 0 {
				t.Error("exit code 0")
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Errorf("the missing directory was created (stat: %v)", err)
			}
		})
	}
}

// TestSQLiteDefaultPath checks that the default database, keyhold.db in
// the current directory, is created there.
func TestSQLiteDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": ""})
	delete(env, "KEYHOLD_DATABASE_URL")
	if r := runCommand(t, env, "", "migrate"); r.Err != nil {
		t.Fatalf("migrate with the default database: %v\nstderr:\n%s", r.Err, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "keyhold.db")); err != nil {
		t.Errorf("keyhold.db was not created in the current directory: %v", err)
	}
}
