package main

import (
	"strings"
	"testing"
)

// TestAdminPromoteDemote is the way to the console for someone who signed
// up in the browser first: create-user refuses their email and names
// promote, promote makes them an operator on their next request, demote
// takes it away; refusals exit 1 (no such account) or 2 (the command line).
func TestAdminPromoteDemote(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	const email = "ada@example.com"
	a := MustRun(t, env)
	c := a.Client(t)
	c.MustSignup(email)
	if p := c.Get("/admin"); p.StatusCode != 404 {
		t.Fatalf("before promote: /admin = %d", p.StatusCode)
	}

	r := runCommand(t, env, testPassword+"\n", "admin", "create-user", "--email", email, "--password-stdin", "--admin")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "keyhold admin promote --email "+email) {
		t.Errorf("create-user for a browser sign-up: %v, want it to point to promote", r.Err)
	}

	steps := []struct {
		args     []string
		wantCode int
		wantSays string // on stdout for 0, in the error or stderr otherwise
		admin    bool   // /admin answers 200 afterwards
	}{
		{[]string{"promote", "--email", "ADA@example.com"}, 0, email + " is now an operator", true},
		{[]string{"promote", "--email", email}, 0, "already an operator; nothing was changed", true},
		{[]string{"demote", "--email", email}, 0, email + " is no longer an operator", false},
		{[]string{"demote", "--email", email}, 0, "is not an operator; nothing was changed", false},
		{[]string{"promote", "--email", "nobody@example.com"}, 1, "no user has the email nobody@example.com; nothing was changed", false},
		{[]string{"demote", "--email", "not-an-email"}, 1, "is not an email address", false},
		{[]string{"promote"}, 2, "--email is required", false},
		{[]string{"demote", "--email"}, 2, "--email needs a value", false},
		{[]string{"promote", "--email", email, "extra"}, 2, `unexpected argument "extra"`, false},
		{[]string{"demote", "--admin"}, 2, "unknown flag --admin", false},
	}
	for _, st := range steps {
		args := append([]string{"admin"}, st.args...)
		r := runCommand(t, env, "", args...)
		if got := exitCode(r.Err); got != st.wantCode {
			t.Fatalf("keyhold %s: exit %d (err %v), want %d", strings.Join(args, " "), got, r.Err, st.wantCode)
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
		if got := c.Get("/admin").StatusCode == 200; got != st.admin {
			t.Errorf("after keyhold %s: operator %v, want %v", strings.Join(args, " "), got, st.admin)
		}
	}
	for _, cmd := range []string{"promote", "demote"} {
		r := runCommand(t, env, "", "help", "admin", cmd)
		if r.Err != nil || !strings.Contains(r.Stdout, "Usage: keyhold admin "+cmd+" --email E") || !strings.Contains(r.Stdout, "KEYHOLD_DATABASE_URL") {
			t.Errorf("keyhold help admin %s: %v\n%s", cmd, r.Err, r.Stdout)
		}
	}
	if r := runCommand(t, env, "", "admin", "--help"); !strings.Contains(r.Stdout, "keyhold admin promote --email E") {
		t.Errorf("admin usage does not list promote:\n%s", r.Stdout)
	}
}
