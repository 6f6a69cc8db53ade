package auth_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

func mustSignup(t *testing.T, svc *auth.Service, email string, operator bool) *auth.User {
	t.Helper()
	a, err := svc.Signup(context.Background(), email, "correct horse battery", operator)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSetOperator(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		others     bool // another operator exists
		self       bool // the actor changes their own account
		cli        bool // no actor: the command line
		operator   bool
		wantCode   string
		wantChange bool
	}{
		{name: "promote", operator: true, wantChange: true},
		{name: "demote another", operator: false, others: true, wantChange: true},
		{name: "demote self, another operator exists", self: true, others: true, wantChange: true},
		{name: "demote self, the only operator", self: true, wantCode: keyhold.ECONFLICT},
		{name: "command line demotes the only operator", cli: true, self: true, wantChange: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := MustService(t, nil)
			ops := mustSignup(t, svc, "ops@example.com", true)
			// The developer starts in the other state, and is not an
			// operator when the actor changes their own account.
			target := mustSignup(t, svc, "dev@example.com", !tt.operator && !tt.self)
			if tt.self {
				target = ops
			}
			if tt.others {
				mustSignup(t, svc, "other@example.com", true)
			}
			actor := audit.Actor{UserID: ops.ID, AccountID: ops.ID, IP: "192.0.2.1"}
			if tt.cli {
				actor = audit.Actor{}
			}
			changed, err := svc.SetOperator(ctx, actor, target.ID, tt.operator)
			if code(err) != tt.wantCode || changed != tt.wantChange {
				t.Fatalf("SetOperator = %v, %v; want changed %v, code %q", changed, err, tt.wantChange, tt.wantCode)
			}
			a, _ := svc.User(ctx, target.ID)
			if tt.wantCode != "" && a.IsAdmin == tt.operator {
				t.Errorf("operator = %v after a refusal", a.IsAdmin)
			}
			if tt.wantChange && a.IsAdmin != tt.operator {
				t.Errorf("operator = %v, want %v", a.IsAdmin, tt.operator)
			}
			action := audit.Promoted
			if !tt.operator {
				action = audit.Demoted
			}
			rs, err := svc.AuditLog(ctx, auth.AuditQuery{UserID: target.ID, Action: action})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != "" {
				if len(rs) != 0 {
					t.Errorf("a refused change was audited: %+v", rs)
				}
				return
			}
			if len(rs) != 1 || rs[0].ActorID != actor.UserID || rs[0].TargetID != target.ID || rs[0].IP != actor.IP {
				t.Fatalf("audit = %+v, want one entry by %q about %s", rs, actor.UserID, target.ID)
			}
			// Asking again changes nothing and records nothing.
			if changed, err := svc.SetOperator(ctx, actor, target.ID, tt.operator); changed || err != nil {
				t.Errorf("again: %v, %v", changed, err)
			}
			if rs, _ := svc.AuditLog(ctx, auth.AuditQuery{UserID: target.ID, Action: action}); len(rs) != 1 {
				t.Errorf("%d entries after asking twice", len(rs))
			}
		})
	}
}

func TestSetOperatorUnknownAccount(t *testing.T) {
	svc, _ := MustService(t, nil)
	if _, err := svc.SetOperator(context.Background(), audit.Actor{}, "nope", true); code(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown account: %v", err)
	}
	if _, err := svc.UserByEmail(context.Background(), "nobody@example.com"); code(err) != keyhold.ENOTFOUND {
		t.Errorf("unknown email: %v", err)
	}
	if _, err := svc.UserByEmail(context.Background(), "not an email"); code(err) != keyhold.EINVALID {
		t.Errorf("bad email: %v", err)
	}
	if a, err := svc.Signup(context.Background(), "Ada@Example.com", "correct horse battery", false); err != nil {
		t.Fatal(err)
	} else if b, err := svc.UserByEmail(context.Background(), " ADA@example.com "); err != nil || b.ID != a.ID {
		t.Errorf("AccountByEmail in another case = %v, %v", b, err)
	}
}

func TestSetSuspended(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t, nil)
	ops := mustSignup(t, svc, "ops@example.com", true)
	dev := mustSignup(t, svc, "dev@example.com", false)
	var told []string
	svc.Subscribe(func(id string) { told = append(told, id) })
	actor := audit.Actor{UserID: ops.ID, AccountID: ops.ID}

	if _, err := svc.SetSuspended(ctx, actor, ops.ID, true); code(err) != keyhold.EINVALID {
		t.Errorf("suspend self: %v, want EINVALID", err)
	}
	if _, err := svc.SetSuspended(ctx, actor, "nope", true); code(err) != keyhold.ENOTFOUND {
		t.Errorf("suspend unknown: %v", err)
	}
	if len(told) != 0 {
		t.Fatalf("listeners told of refused suspensions: %v", told)
	}
	steps := []struct {
		suspend, wantChange bool
		wantTold            int
	}{
		{true, true, 1},
		{true, false, 1}, // already: nothing to tell
		{false, true, 2},
		{false, false, 2},
	}
	for i, st := range steps {
		changed, err := svc.SetSuspended(ctx, actor, dev.ID, st.suspend)
		if err != nil || changed != st.wantChange {
			t.Fatalf("step %d: %v, %v", i, changed, err)
		}
		a, _ := svc.Account(ctx, dev.ID)
		if a.Suspended != st.suspend {
			t.Errorf("step %d: suspended = %v", i, a.Suspended)
		}
		if len(told) != st.wantTold {
			t.Errorf("step %d: listeners told %d times, want %d", i, len(told), st.wantTold)
		}
	}
	for _, action := range []string{audit.Suspended, audit.Unsuspended} {
		rs, _ := svc.AuditLog(ctx, auth.AuditQuery{AccountID: dev.ID, Action: action})
		if len(rs) != 1 || rs[0].ActorID != ops.ID || rs[0].TargetID != dev.ID {
			t.Errorf("%s audit = %+v", action, rs)
		}
	}
}
