package team_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// catalog has a plan without a member limit (the default), and two with
// one.
var catalog = func() *plans.Catalog {
	c, err := plans.New([]plans.Plan{
		{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 1, Burst: 1, MonthlyQuota: 1, MaxKeys: 1},
		{ID: "team", Name: "Team", Price: "$0", RatePerSecond: 1, Burst: 1, MonthlyQuota: 1, MaxKeys: 1, MaxMembers: 3},
		{ID: "duo", Name: "Duo", Price: "$0", RatePerSecond: 1, Burst: 1, MonthlyQuota: 1, MaxKeys: 1, MaxMembers: 2},
	})
	if err != nil {
		panic(err)
	}
	return c
}()

// env is a fresh database with the team service over it, mail on (queued
// in River's table; nothing sends it) and a clock the test moves.
type env struct {
	t   testing.TB
	db  *store.DB
	svc *team.Service
	now time.Time
}

// forEachDB runs fn on SQLite and on PostgreSQL.
func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) { fn(t, newEnv(t, kind, true)) })
	}
}

func newEnv(t testing.TB, kind string, emailOn bool) *env {
	t.Helper()
	db := storetest.New(t, kind)
	cfg := jobs.Config{DB: db.SQL(), Logger: slog.New(slog.DiscardHandler)}
	if db.Postgres() {
		cfg.PostgresURL = db.URL()
	}
	q, err := jobs.New(context.Background(), cfg) // inserts only: no workers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	o, err := mail.NewOutbox(q, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetOutbox(o)
	e := &env{t: t, db: db, now: time.Now().UTC().Truncate(time.Second)}
	e.svc, err = team.NewService(team.Config{Store: db, Plans: catalog, NormalizeEmail: auth.NormalizeEmail,
		EmailOn: emailOn, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (e *env) rebind(q string) string {
	if !e.db.Postgres() {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// exec runs raw SQL: fixtures are written without the account code of
// auth and store, which is being rewritten beside this package.
func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.db.SQL().ExecContext(context.Background(), e.rebind(q), args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// count runs a COUNT query.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.SQL().QueryRowContext(context.Background(), e.rebind(q), args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// user inserts a user and returns its id.
func (e *env) user(email string) string {
	e.t.Helper()
	id := keyhold.NewID()
	e.exec("INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'h', ?, ?)", id, email, e.now, e.now)
	return id
}

// account inserts an account on plan and returns its id.
func (e *env) account(name, plan string) string {
	e.t.Helper()
	id := keyhold.NewID()
	e.exec("INSERT INTO accounts (id, name, plan_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", id, name, plan, e.now, e.now)
	return id
}

// member makes userID a member of accountID with role.
func (e *env) member(accountID, userID string, role team.Role) {
	e.t.Helper()
	e.exec("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", accountID, userID, string(role), e.now)
}

// actor is userID acting in accountID with role.
func actor(accountID, userID string, role team.Role) audit.Actor {
	return audit.Actor{UserID: userID, AccountID: accountID, Role: string(role), IP: "192.0.2.1"}
}

// snapshot is everything a team change may touch, as text: the account's
// memberships and invitations, its audit entries, and the mail jobs.
func (e *env) snapshot(accountID string) string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT user_id || ':' || role FROM memberships WHERE account_id = ? ORDER BY user_id",
		"SELECT id || ':' || email || ':' || role || ':' || COALESCE(accepted_by, '-') || ':' || (CASE WHEN revoked_at IS NULL THEN 'live' ELSE 'revoked' END) FROM invitations WHERE account_id = ? ORDER BY id",
		"SELECT action || ':' || actor_id FROM audit_log WHERE account_id = ? ORDER BY id",
	} {
		rows, err := e.db.SQL().QueryContext(context.Background(), e.rebind(q), accountID)
		if err != nil {
			e.t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				e.t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		if err := rows.Close(); err != nil {
			e.t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	fmt.Fprintf(&b, "jobs %d\n", e.jobs())
	return b.String()
}

// jobs counts the mail jobs queued.
func (e *env) jobs() int { return e.count("SELECT COUNT(*) FROM river_job WHERE kind = 'mail'") }

// audits counts the account's entries with action.
func (e *env) audits(accountID, action string) int {
	return e.count("SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ?", accountID, action)
}

// roleOf is userID's role in accountID; "" when not a member.
func (e *env) roleOf(accountID, userID string) team.Role {
	m, err := e.db.Membership(context.Background(), accountID, userID)
	if errors.Is(err, team.ErrNotFound) {
		return ""
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Role
}

// wantCode fails unless err carries code and, when msg is not empty, a
// message containing it.
func wantCode(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if got := keyhold.ErrorCode(err); got != code {
		t.Fatalf("%s: %v (code %q), want code %q", what, err, got, code)
	}
	if msg != "" && !strings.Contains(keyhold.ErrorMessage(err), msg) {
		t.Fatalf("%s: message %q, want it to contain %q", what, keyhold.ErrorMessage(err), msg)
	}
}

// waitBlocked waits until a PostgreSQL backend of the test's database
// waits on a lock: the call that sends on done is blocked. It fails with
// what when that call finishes first, since it should have waited.
func (e *env) waitBlocked(done <-chan error, what string) {
	e.t.Helper()
	for {
		select {
		case err := <-done:
			e.t.Fatalf("%s: %v", what, err)
		default:
		}
		if e.count("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // a pause between polls, not a deadline
	}
}

// owned is an account on plan with one owner, and that owner as actor.
func (e *env) owned(plan string) (string, audit.Actor) {
	e.t.Helper()
	acct := e.account("Acme", plan)
	owner := e.user(keyhold.NewID() + "@example.com")
	e.member(acct, owner, team.Owner)
	return acct, actor(acct, owner, team.Owner)
}
