package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// adminStep is one keyhold admin command and what it must answer.
type adminStep struct {
	args     []string
	wantCode int
	wantSays string // on stdout for 0, in the error or stderr otherwise
}

// runAdminSteps runs each step in env and checks its exit code and words.
func runAdminSteps(t *testing.T, env map[string]string, steps []adminStep) {
	t.Helper()
	for _, st := range steps {
		args := append([]string{"admin"}, st.args...)
		r := runCommand(t, env, "", args...)
		if got := exitCode(r.Err); got != st.wantCode {
			t.Fatalf("keyhold %s: exit %d (err %v), want %d\nstderr:\n%s", strings.Join(args, " "), got, r.Err, st.wantCode, r.Stderr)
		}
		said := r.Stdout
		if st.wantCode != 0 {
			said = r.Stderr
			if r.Err != nil {
				said += r.Err.Error()
			}
		}
		if !strings.Contains(said, st.wantSays) {
			t.Errorf("keyhold %s said %q, want %q", strings.Join(args, " "), said, st.wantSays)
		}
	}
}

// TestAdminSuspendRevokeCommands: suspend, unsuspend and revoke say what
// they changed, exit 0 when there was nothing to change, 1 for an unknown
// account or key, 2 for a bad command line; the user of a suspended
// account sees the suspension on their next request.
func TestAdminSuspendRevokeCommands(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	const email = "dev@example.com"
	a := MustRun(t, env)
	c, key := newAccountWithKey(t, a, email)
	keyID := mustVerify(t, a, key).KeyID
	if keyID == "" {
		t.Fatal("the verify answer has no key_id")
	}
	runAdminSteps(t, env, []adminStep{
		{[]string{"suspend", "--email", "DEV@example.com"}, 0, email + " is suspended: its keys answer DISABLED"},
		{[]string{"suspend", "--email", email}, 0, email + " is already suspended; nothing was changed"},
	})
	if p := c.Get("/dashboard"); !strings.Contains(strings.ToLower(p.Doc.Text()), "suspended") {
		t.Errorf("the suspended user's dashboard does not say so: %s", p.Status)
	}
	runAdminSteps(t, env, []adminStep{
		{[]string{"unsuspend", "--email", email}, 0, email + " is no longer suspended"},
		{[]string{"unsuspend", "--email", email}, 0, email + " is not suspended; nothing was changed"},
		{[]string{"suspend", "--email", "nobody@example.com"}, 1, "no account is owned by nobody@example.com; nothing was changed"},
		{[]string{"unsuspend", "--email", "not-an-email"}, 1, "is not an email address"},
		{[]string{"suspend"}, 2, "--email is required"},
		{[]string{"unsuspend", "--email"}, 2, "--email needs a value"},
		{[]string{"suspend", "--key", keyID}, 2, "unknown flag --key"},

		{[]string{"revoke", "--key", keyID}, 0, "key Production"},
		{[]string{"revoke", "--key", keyID}, 0, "is already revoked; nothing was changed"},
		{[]string{"revoke", "--key", "no-such-key"}, 1, `no key has the id "no-such-key"; nothing was changed`},
		{[]string{"revoke"}, 2, "--key is required"},
		{[]string{"revoke", "--email", email}, 2, "unknown flag --email"},
	})
	if p := c.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Errorf("after unsuspend the dashboard = %s", p.Status)
	}
	for _, cmd := range []string{"suspend --email E", "unsuspend --email E", "revoke --key ID", "reset-link --email E"} {
		name := strings.Fields(cmd)[0]
		r := runCommand(t, env, "", "help", "admin", name)
		if r.Err != nil || !strings.Contains(r.Stdout, "Usage: keyhold admin "+cmd) || !strings.Contains(r.Stdout, "KEYHOLD_DATABASE_URL") {
			t.Errorf("keyhold help admin %s: %v\n%s", name, r.Err, r.Stdout)
		}
		if name != "reset-link" && !strings.Contains(r.Stdout, "KEYHOLD_REDIS_URL") {
			t.Errorf("keyhold help admin %s does not name KEYHOLD_REDIS_URL:\n%s", name, r.Stdout)
		}
		if r := runCommand(t, env, "", "admin", "--help"); !strings.Contains(r.Stdout, "keyhold admin "+cmd) {
			t.Errorf("admin usage does not list %s:\n%s", cmd, r.Stdout)
		}
	}
}

// TestAdminResetLink: the link printed works on the running portal (a new
// password, then log-in with it), its token is on stdout only, and a
// second link may be made; unknown accounts exit 1, a missing flag 2.
func TestAdminResetLink(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	const email = "locked-out@example.com"
	a := MustRun(t, env)
	a.Client(t).MustSignup(email)
	// The link starts with KEYHOLD_BASE_URL: this run's own address.
	env["KEYHOLD_BASE_URL"] = a.URL

	r := runCommand(t, env, "", "admin", "reset-link", "--email", "Locked-Out@example.com")
	if r.Err != nil {
		t.Fatalf("reset-link: %v\n%s", r.Err, r.Stderr)
	}
	link := strings.TrimSpace(r.Stdout)
	if strings.Count(r.Stdout, "\n") != 1 || !strings.HasPrefix(link, a.URL+"/password/reset/") {
		t.Fatalf("reset-link printed %q, want one line with a link under %s/password/reset/", r.Stdout, a.URL)
	}
	token := strings.TrimPrefix(link, a.URL+"/password/reset/")
	if token == "" || strings.Contains(r.Stderr, token) || strings.Contains(a.Stderr.String(), token) {
		t.Errorf("the token %q is empty or in a log\nstderr:\n%s", token, r.Stderr)
	}
	path := strings.TrimPrefix(link, a.URL)
	c := a.Client(t)
	const newPassword = "a brand new password, long enough"
	if p := c.Submit(path, path, url.Values{"password": {newPassword}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST a new password to the link = %s, want 303; alert %q", p.Status, alert(p))
	}
	a.Client(t).MustLogin(email, newPassword)
	if p := c.Get(path); p.StatusCode == http.StatusOK && p.Doc.Find(`[data-testid="reset-form"]`).Length() > 0 {
		t.Errorf("the link still shows the reset form after use")
	}

	runAdminSteps(t, env, []adminStep{
		{[]string{"reset-link", "--email", email}, 0, a.URL + "/password/reset/"},
		{[]string{"reset-link", "--email", "nobody@example.com"}, 1, "no user has the email nobody@example.com; nothing was changed"},
		{[]string{"reset-link"}, 2, "--email is required"},
		{[]string{"reset-link", "--email", email, "extra"}, 2, `unexpected argument "extra"`},
	})
}

// TestAdminCommandsReachRunningInstances: a suspension, its lifting and a
// revocation made on the command line reach a running instance that has
// the key cached, through Redis or, without it, PostgreSQL NOTIFY (in the
// background, so the instance is polled).
func TestAdminCommandsReachRunningInstances(t *testing.T) {
	t.Parallel()
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: 1000, MaxKeys: 3})
	for _, tt := range []struct {
		name  string
		redis bool
	}{{"Redis", true}, {"NOTIFY", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra := map[string]string{"KEYHOLD_REDIS_URL": ""}
			redisURL := ""
			if tt.redis {
				redisURL, extra = testenv.PrivateRedis(t).URL(), nil
			}
			env := scaleEnv(t, redisURL, plansFile, extra)
			a := MustRun(t, env)
			const email = "dev@example.com"
			_, key := newAccountWithKey(t, a, email)
			ans := mustVerify(t, a, key)
			wantCode(t, "before the commands (now cached)", ans, http.StatusOK, "VALID")

			step := func(args []string, want string, status int) {
				t.Helper()
				if r := runCommand(t, env, "", append([]string{"admin"}, args...)...); r.Err != nil {
					t.Fatalf("keyhold admin %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
				}
				what := "the running instance after keyhold admin " + strings.Join(args, " ")
				if tt.redis {
					wantCode(t, what, mustVerify(t, a, key), status, want)
					return
				}
				eventually(t, 10*time.Second, what, func() (bool, string) {
					got := mustVerify(t, a, key)
					return got.Status == status && got.Code == want, got.String()
				})
			}
			step([]string{"suspend", "--email", email}, "DISABLED", http.StatusForbidden)
			step([]string{"unsuspend", "--email", email}, "VALID", http.StatusOK)
			step([]string{"revoke", "--key", ans.KeyID}, "REVOKED", http.StatusUnauthorized)
		})
	}
}

// TestAdminSuspendOwnedAccount: suspend --email suspends the one account
// the user owns first; when they own more it names them all and changes
// nothing, and a team the user is a mere member of is never the one.
func TestAdminSuspendOwnedAccount(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	for _, email := range []string{"ada@example.com", "bob@example.com"} {
		if r := runCommand(t, env, "a long enough password\n", "admin", "create-user", "--email", email, "--password-stdin"); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	ctx := context.Background()
	db, err := store.Open(ctx, env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ada, err := db.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := db.UserByEmail(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Ada made a team and Bob is a developer in it (no team service on
	// this branch yet: the rows as it would write them).
	teamID, now := keyhold.NewID(), time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO accounts (id, name, plan_id, suspended, created_at, updated_at) VALUES ($1, $2, 'free', FALSE, $3, $3)", []any{teamID, "Acme", now}},
		{"INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)", []any{teamID, ada.ID, now}},
		{"INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, 'developer', $3)", []any{teamID, bob.ID, now}},
	} {
		if _, err := db.SQL().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	runAdminSteps(t, env, []adminStep{
		{[]string{"suspend", "--email", "ada@example.com"}, 1, "ada@example.com owns 2 accounts: "},
		{[]string{"suspend", "--email", "bob@example.com"}, 0, "bob@example.com is suspended"},
	})
	r := runCommand(t, env, "", "admin", "suspend", "--email", "ada@example.com")
	for _, want := range []string{"Acme (" + teamID + ")", "ada@example.com (" + ada.ID + ")", "nothing was changed"} {
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) {
			t.Errorf("suspending a user with two accounts: %v, want it to say %q", r.Err, want)
		}
	}
	for id, want := range map[string]bool{ada.ID: false, teamID: false, bob.ID: true} {
		if a, err := db.AccountByID(ctx, id); err != nil || a.Suspended != want {
			t.Errorf("account %s: %+v, %v; want suspended %v", id, a, err, want)
		}
	}
}
