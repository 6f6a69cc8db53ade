package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestUsageAndFlags checks every command's answer to -h, --help, an
// unknown flag and an unexpected argument: help on stdout with exit 0, a
// refusal on stderr with exit 2, the command's own usage either way, and
// no database touched. Before the fix, serve took -h for "start", and
// migrate ran its migrations.
func TestUsageAndFlags(t *testing.T) {
	t.Parallel()
	commands := []struct {
		path []string // the command's words after keyhold
		name string   // what its usage names: "keyhold " + name
		env  bool     // its usage lists the environment it reads
	}{
		{nil, "[serve]", false},
		{[]string{"serve"}, "serve", true},
		{[]string{"migrate"}, "migrate", true},
		{[]string{"admin"}, "admin create-user", false},
		{[]string{"admin", "create-user"}, "admin create-user --email E --password-stdin [--admin]", true},
		{[]string{"admin", "promote"}, "admin promote --email E", true},
		{[]string{"admin", "demote"}, "admin demote --email E", true},
		{[]string{"admin", "suspend"}, "admin suspend --email E", true},
		{[]string{"admin", "unsuspend"}, "admin unsuspend --email E", true},
		{[]string{"admin", "revoke"}, "admin revoke --key ID", true},
		{[]string{"admin", "reset-link"}, "admin reset-link --email E", true},
		{[]string{"admin", "create-root-key"}, "admin create-root-key --name N --permission P [--permission P…]", true},
		{[]string{"admin", "revoke-root-key"}, "admin revoke-root-key --id ID", true},
		{[]string{"stripe"}, "stripe reconcile", false},
		{[]string{"stripe", "reconcile"}, "stripe reconcile", true},
		{[]string{"tokens"}, "tokens rotate", false},
		{[]string{"tokens", "rotate"}, "tokens rotate", true},
		{[]string{"version"}, "version", false},
		{[]string{"help"}, "help [COMMAND]", false},
	}
	variants := []struct {
		arg      string
		wantCode int
		wantSays string // besides the usage, on the stream the answer goes to
	}{
		{"-h", 0, ""},
		{"--help", 0, ""},
		{"--bogus-flag", 2, "--bogus-flag"},
		{"unexpected", 2, `"unexpected"`},
	}
	for _, cmd := range commands {
		for _, v := range variants {
			args := append(append([]string{}, cmd.path...), v.arg)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				dbPath := filepath.Join(dir, "k.db")
				env := testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + dbPath})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var stdout, stderr testenv.LogBuffer
				err := run(ctx, args, getenvOf(env), strings.NewReader("a long enough password\n"), &stdout, &stderr)
				if ctx.Err() != nil {
					t.Fatalf("keyhold %s ran until the test stopped it (err %v): it should only answer", strings.Join(args, " "), err)
				}
				if got := exitCode(err); got != v.wantCode {
					t.Errorf("exit code %d (err %v), want %d", got, err, v.wantCode)
				}
				out, quiet := stdout.String(), stderr.String()
				if v.wantCode != 0 {
					out, quiet = quiet, out
				}
				if quiet != "" {
					t.Errorf("wrote to the other stream: %q", quiet)
				}
				for _, want := range []string{"Usage:", "keyhold " + cmd.name, v.wantSays} {
					if !strings.Contains(out, want) {
						t.Errorf("answer does not say %q:\n%s", want, out)
					}
				}
				if cmd.env && v.wantCode == 0 {
					for _, want := range []string{"Environment:", "KEYHOLD_DATABASE_URL"} {
						if !strings.Contains(out, want) {
							t.Errorf("usage does not list %q:\n%s", want, out)
						}
					}
				}
				if strings.Contains(out, "-flagname") || strings.Contains(out, "\t") {
					t.Errorf("usage looks like Go's flag dump:\n%s", out)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("the database was touched: %s holds %d files", dir, len(entries))
				}
			})
		}
	}
}

// TestHelpCommand checks that keyhold help COMMAND shows that command's
// usage.
func TestHelpCommand(t *testing.T) {
	t.Parallel()
	r := runCommand(t, testEnv(t, nil), "", "help", "admin", "create-user")
	if r.Err != nil || !strings.Contains(r.Stdout, "--password-stdin") || !strings.Contains(r.Stdout, "KEYHOLD_DATABASE_URL") {
		t.Errorf("keyhold help admin create-user: %v\n%s", r.Err, r.Stdout)
	}
}

// TestAdminCreateUserSpeaksTerminal checks that create-user's refusals are
// written for a terminal, not copied from the sign-up page, and that bad
// input is refused before the database is opened.
func TestAdminCreateUserSpeaksTerminal(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	const email = "ops@example.com"
	if r := runCommand(t, env, testPassword+"\n", "admin", "create-user", "--email", email, "--password-stdin"); r.Err != nil {
		t.Fatalf("create-user: %v", r.Err)
	}
	webWords := []string{"Log in instead", "Enter a", "Use a password", "conflict:", "invalid:"}
	for _, tc := range []struct {
		name, email, stdin string
		want               []string
		before             bool // refused before the database is opened
	}{
		{"taken", "OPS@example.com", "another long password\n", []string{"already exists", email}, false},
		{"bad email", "ops", testPassword + "\n", []string{"--email", `"ops"`, "not an email address"}, true},
		{"short password", email, "short\n", []string{"standard input", "at least 10 characters", "5"}, true},
		{"long password", email, strings.Repeat("x", 2000) + "\n", []string{"standard input", "at most"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := env
			dir := t.TempDir()
			if tc.before {
				e = testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + filepath.Join(dir, "k.db")})
			}
			r := runCommand(t, e, tc.stdin, "admin", "create-user", "--email", tc.email, "--password-stdin")
			if r.Err == nil {
				t.Fatal("create-user succeeded, want a refusal")
			}
			msg := r.Err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, w := range webWords {
				if strings.Contains(msg, w) {
					t.Errorf("error %q speaks web page (%q)", msg, w)
				}
			}
			if got := exitCode(r.Err); got != 1 {
				t.Errorf("exit code %d, want 1", got)
			}
			if entries, _ := os.ReadDir(dir); tc.before && len(entries) != 0 {
				t.Errorf("the database was opened before the input was checked")
			}
		})
	}
}

// TestExitCode checks main's mapping of run's result to an exit status.
func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errUsage, 2},
		{errors.New("database (KEYHOLD_DATABASE_URL): unreachable"), 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestServeHelpNamesEveryVariable: serve's usage lists every variable the
// configuration reads, so a new setting cannot be added without its help.
func TestServeHelpNamesEveryVariable(t *testing.T) {
	asked := map[string]bool{}
	if _, err := config.Load(func(name string) string { asked[name] = true; return "" }); err != nil {
		t.Fatalf("the defaults do not load: %v", err)
	}
	if len(asked) < 10 {
		t.Fatalf("the configuration asked for only %d variables: %v", len(asked), asked)
	}
	var stdout, stderr testenv.LogBuffer
	if err := run(context.Background(), []string{"serve", "--help"}, getenvOf(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for name := range asked {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("keyhold serve --help does not name %s", name)
		}
	}
}
