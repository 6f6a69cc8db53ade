package auth_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
)

// TestAuditTrail checks the entry each account action leaves: who, what,
// about which account, and from which address.
func TestAuditTrail(t *testing.T) {
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	a, err := svc.SignupFrom(ctx, "ada@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := svc.Signup(ctx, "ops@example.com", "correct horse battery", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "ada@example.com", "wrong password!", "192.0.2.2"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, err := svc.Login(ctx, "nobody@example.com", "wrong password!", "192.0.2.3"); err == nil {
		t.Fatal("an unknown email logged in")
	}
	if _, err := svc.Login(ctx, "ada@example.com", "correct horse battery", "192.0.2.4"); err != nil {
		t.Fatal(err)
	}
	_, exp, err := svc.StartSession(ctx, a.ID, "192.0.2.4", "test")
	if err != nil || exp.IsZero() {
		t.Fatal(err)
	}
	tok, _, _ := svc.StartSession(ctx, a.ID, "192.0.2.5", "test")
	v, err := svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	sess := v.Session
	me := audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "192.0.2.5"}
	if err := svc.Logout(ctx, me, sess.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, me, sess.ID); err != nil {
		t.Fatal(err) // a second log-out is no event
	}
	if err := svc.ChangePassword(ctx, audit.Actor{UserID: a.ID, AccountID: a.ID, IP: "192.0.2.6"}, "correct horse battery", "a brand new password"); err != nil {
		t.Fatal(err)
	}

	log, err := svc.AuditLog(ctx, auth.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	type line struct{ action, account, actor, ip, detail string }
	want := []line{ // newest first
		// A user's own events are about the user, in no account.
		{audit.PasswordChanged, "", a.ID, "192.0.2.6", "Changed the password; every session ended"},
		{audit.LoggedOut, "", a.ID, "192.0.2.5", "Logged out"},
		{audit.LoggedIn, "", a.ID, "192.0.2.4", "Logged in"},
		{audit.LoginFailed, "", "", "192.0.2.3", "Unknown email"},
		{audit.LoginFailed, "", "", "192.0.2.2", "Wrong password"},
		{audit.AccountCreated, ops.ID, ops.ID, "", "Created on the command line (operator)"},
		{audit.AccountCreated, a.ID, a.ID, "192.0.2.1", "Signed up"},
	}
	if len(log) != len(want) {
		for _, e := range log {
			t.Logf("%s %s %s", e.Action, e.IP, e.Detail)
		}
		t.Fatalf("%d entries, want %d", len(log), len(want))
	}
	for i, w := range want {
		e := log[i]
		got := line{e.Action, e.AccountID, e.ActorID, e.IP, e.Detail}
		if got != w {
			t.Errorf("entry %d = %+v, want %+v", i, got, w)
		}
		if e.CreatedAt.IsZero() || e.ID == "" {
			t.Errorf("entry %d has no id or time: %+v", i, e.Entry)
		}
	}
	if log[6].AccountName != "ada@example.com" || log[0].ActorEmail != "ada@example.com" || log[0].AccountName != "" || log[3].AccountName != "" {
		t.Errorf("names: %q %q %q %q", log[6].AccountName, log[0].ActorEmail, log[0].AccountName, log[3].AccountName)
	}
	// A user event names its user as target.
	for _, i := range []int{0, 1, 2, 4} {
		if e := log[i]; e.TargetType != audit.TargetUser || e.TargetID != a.ID {
			t.Errorf("entry %d (%s) is about %s %q, want user %s", i, e.Action, e.TargetType, e.TargetID, a.ID)
		}
	}

	// Filters: by account (its own entries and those it did), by action
	// or action prefix.
	for _, tt := range []struct {
		name string
		q    auth.AuditQuery
		want int
	}{
		{"account", auth.AuditQuery{AccountID: a.ID}, 1},
		{"user", auth.AuditQuery{UserID: a.ID}, 5},
		{"operator's account", auth.AuditQuery{AccountID: ops.ID}, 1},
		{"operator", auth.AuditQuery{UserID: ops.ID}, 1},
		{"action", auth.AuditQuery{Action: audit.LoginFailed}, 2},
		{"prefix", auth.AuditQuery{Action: "account."}, 7},
		{"no such prefix", auth.AuditQuery{Action: "key."}, 0},
		{"page", auth.AuditQuery{Limit: 3, Offset: 6}, 1},
	} {
		got, err := svc.AuditLog(ctx, tt.q)
		if err != nil || len(got) != tt.want {
			t.Errorf("%s: %d entries (%v), want %d", tt.name, len(got), err, tt.want)
		}
	}
}
