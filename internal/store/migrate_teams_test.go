package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// v12Account is an account of before migration 0013, when an account was
// also the person who signed in.
type v12Account struct {
	id, email, hash, plan string
	admin, suspended      bool
	verified              bool
	customer              string // "" : none
}

// TestMigrateTeams fills a database at version 12 by raw SQL, the schema of
// then, with the rows Keyhold wrote (three accounts: an operator, a
// suspended one, one with a Stripe customer and a subscription; keys with
// their secrets, one rotated with its old secret still working; usage,
// sessions, email tokens, audit entries), migrates it to the latest
// version, and checks that every account became a user and an account of
// the same id, owned by that user, and that what hung on the account
// (sessions, tokens, keys, usage) still reaches the same people and
// accounts, with foreign keys that hold and are enforced.
func TestMigrateTeams(t *testing.T) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.MigrateTo(ctx, 12); err != nil {
				t.Fatalf("migrate to 12: %v", err)
			}
			exec := func(query string, args ...any) {
				t.Helper()
				if err := db.Exec(ctx, query, args...); err != nil {
					t.Fatalf("%s: %v", strings.Fields(query)[:3], err)
				}
			}
			now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			accounts := []v12Account{
				{id: "acc-ops", email: "ops@example.com", hash: "hash-ops", plan: "free", admin: true, verified: true},
				{id: "acc-sus", email: "sus@example.com", hash: "hash-sus", plan: "free", suspended: true},
				{id: "acc-cus", email: "cus@example.com", hash: "hash-cus", plan: "pro", verified: true, customer: "cus_123"},
			}
			for i, a := range accounts {
				var verified, customer any
				if a.verified {
					verified = now.Add(-time.Hour)
				}
				if a.customer != "" {
					customer = a.customer
				}
				exec(`INSERT INTO accounts (id, email, password_hash, is_admin, created_at, updated_at, plan_id, stripe_customer_id, email_verified_at, suspended)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.id, a.email, a.hash, a.admin, now.Add(time.Duration(i)*time.Minute), now, a.plan, customer, verified, a.suspended)
			}
			periodStart, periodEnd := now.Add(-24*time.Hour), now.Add(29*24*time.Hour)
			exec(`INSERT INTO subscriptions (account_id, stripe_subscription_id, stripe_customer_id, price_id, status, period_start, period_end, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, "acc-cus", "sub_123", "cus_123", "price_pro", "active", periodStart, periodEnd, now)

			// One key per account; the customer's was rotated, its old
			// secret working for another hour.
			secret := func(name string) (string, [32]byte) {
				h := sha256.Sum256([]byte(name))
				return hex.EncodeToString(h[:]), h
			}
			type v12Key struct{ id, account, secret string }
			keyRows := []v12Key{{"key-ops", "acc-ops", "s-ops"}, {"key-sus", "acc-sus", "s-sus"}, {"key-cus", "acc-cus", "s-cus-new"}}
			for _, k := range keyRows {
				exec(`INSERT INTO api_keys (id, account_id, name, display, scopes, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					k.id, k.account, "key of "+k.account, "kh_live_…"+k.id[4:], `["read"]`, `{}`, now, now)
				hash, _ := secret(k.secret)
				exec(`INSERT INTO key_secrets (hash, key_id, created_at) VALUES (?, ?, ?)`, hash, k.id, now)
			}
			oldHash, _ := secret("s-cus-old")
			oldUntil := now.Add(time.Hour)
			exec(`INSERT INTO key_secrets (hash, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)`, oldHash, "key-cus", now.Add(-time.Hour), oldUntil)
			hour := now.Truncate(time.Hour)
			for i, k := range keyRows {
				exec(`INSERT INTO usage_hourly (key_id, hour, account_id, valid, rate_limited, quota_exceeded, invalid, cost, scope_denied)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.id, hour, k.account, 10+i, 1, 0, 2, 10+i, 3)
			}
			for _, a := range accounts {
				exec(`INSERT INTO sessions (id, account_id, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)`,
					"sess-"+a.id, a.id, now, now.Add(7*24*time.Hour), "192.0.2.1", "test")
				exec(`INSERT INTO email_tokens (token_hash, account_id, purpose, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
					auth.TokenHash("tok-"+a.id), a.id, auth.PurposeVerifyEmail, a.email, now, now.Add(24*time.Hour))
				exec(`INSERT INTO audit_log (id, account_id, actor_id, action, target_type, target_id, ip, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					"audit-"+a.id, a.id, a.id, "key.created", "key", "key-"+a.id[4:], "192.0.2.1", "Created a key", now)
			}

			if err := db.Migrate(ctx, nil); err != nil {
				t.Fatalf("migrate to latest: %v", err)
			}

			rows := func(query string, args ...any) []string {
				t.Helper()
				got, err := db.Rows(ctx, query, args...)
				if err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return got
			}
			placeholder := func(n int) string { // db.Rows is database/sql: the dialect's placeholders
				if db.Postgres() {
					return fmt.Sprintf("$%d", n)
				}
				return "?"
			}

			// Every account became a user of the same id, and an account of
			// that id, named for the email, owned by that user.
			for _, a := range accounts {
				u, err := db.UserByID(ctx, a.id)
				if err != nil {
					t.Fatalf("user %s: %v", a.id, err)
				}
				if u.Email != a.email || u.PasswordHash != a.hash || u.IsAdmin != a.admin || (u.EmailVerifiedAt != nil) != a.verified {
					t.Errorf("user %s: %+v, want %+v", a.id, u, a)
				}
				if a.verified && !u.EmailVerifiedAt.Equal(now.Add(-time.Hour)) {
					t.Errorf("user %s verified at %v", a.id, u.EmailVerifiedAt)
				}
				acc, err := db.AccountByID(ctx, a.id)
				if err != nil {
					t.Fatalf("account %s: %v", a.id, err)
				}
				if acc.Name != a.email || acc.PlanID != a.plan || acc.Suspended != a.suspended {
					t.Errorf("account %s: %+v, want name %q, plan %q, suspended %v", a.id, acc, a.email, a.plan, a.suspended)
				}
				c, err := db.Customer(ctx, a.id)
				if err != nil || c.CustomerID != a.customer || c.Email != a.email {
					t.Errorf("customer of %s: %+v, %v; want %q billed to %s", a.id, c, err, a.customer, a.email)
				}
				if got := rows("SELECT user_id, role FROM memberships WHERE account_id = "+placeholder(1), a.id); len(got) != 1 || got[0] != a.id+" | owner" {
					t.Errorf("memberships of %s: %q, want its user as the one owner", a.id, got)
				}

				// The session is the user's, acting in their account.
				v, err := db.Visit(ctx, "sess-"+a.id)
				if err != nil {
					t.Fatalf("session of %s: %v", a.id, err)
				}
				if v.Session.UserID != a.id || v.Session.AccountID != a.id || len(v.Memberships) != 1 || v.Memberships[0].Suspended != a.suspended {
					t.Errorf("visit of %s: session %+v, memberships %+v", a.id, v.Session, v.Memberships)
				}
				tok, err := db.EmailToken(ctx, auth.TokenHash("tok-"+a.id))
				if err != nil || tok.UserID != a.id || tok.Email != a.email {
					t.Errorf("email token of %s: %+v, %v", a.id, tok, err)
				}
				log, err := db.AuditLog(ctx, auth.AuditQuery{AccountID: a.id, Limit: 10})
				if err != nil || len(log) != 1 || log[0].AccountName != a.email || log[0].ActorEmail != a.email {
					t.Errorf("audit of %s: %+v, %v", a.id, log, err)
				}
			}
			if got := rows("SELECT COUNT(*) FROM users"); got[0] != "3" {
				t.Errorf("%s users, want 3", got[0])
			}
			if got := rows("SELECT COUNT(*) FROM memberships"); got[0] != "3" {
				t.Errorf("%s memberships, want 3", got[0])
			}

			// Every key is found by each of its secrets, under the same
			// account, made by the account's user; its usage still counts.
			for i, k := range keyRows {
				_, h := secret(k.secret)
				rec, err := db.KeyByHash(ctx, h)
				if err != nil {
					t.Fatalf("key %s: %v", k.id, err)
				}
				if rec.Key.ID != k.id || rec.Key.AccountID != k.account || rec.Key.CreatedBy != k.account || rec.SecretExpiresAt != nil {
					t.Errorf("key %s: %+v (secret until %v)", k.id, rec.Key, rec.SecretExpiresAt)
				}
				if rec.Suspended != (k.account == "acc-sus") {
					t.Errorf("key %s: suspended %v", k.id, rec.Suspended)
				}
				totals, err := db.KeyUsageTotals(ctx, k.id)
				if err != nil || totals.Valid != int64(10+i) || totals.RateLimited != 1 || totals.Invalid != 2 || totals.ScopeDenied != 3 || totals.Cost != int64(10+i) {
					t.Errorf("usage of %s: %+v, %v", k.id, totals, err)
				}
				hours, err := db.AccountUsageHourly(ctx, k.account, hour.Add(-time.Hour))
				if err != nil || len(hours) != 1 || !hours[0].Hour.Equal(hour) || hours[0].Valid != int64(10+i) {
					t.Errorf("usage of account %s: %+v, %v", k.account, hours, err)
				}
			}
			_, h := secret("s-cus-old")
			rec, err := db.KeyByHash(ctx, h)
			if err != nil || rec.Key.ID != "key-cus" || rec.SecretExpiresAt == nil || !rec.SecretExpiresAt.Equal(oldUntil) {
				t.Fatalf("the rotated key's old secret: %+v, %v", rec, err)
			}
			if rec.PlanID != "pro" || !rec.Period.Start.Equal(periodStart) || !rec.Period.End.Equal(periodEnd) {
				t.Errorf("the subscribed key's plan and period: %q %+v", rec.PlanID, rec.Period)
			}
			if got := rows("SELECT id, created_by FROM api_keys ORDER BY id"); strings.Join(got, ",") != "key-cus | acc-cus,key-ops | acc-ops,key-sus | acc-sus" {
				t.Errorf("created_by: %q", got)
			}

			// Foreign keys hold, and are enforced on every connection.
			if !db.Postgres() {
				if got := rows("PRAGMA foreign_key_check"); len(got) != 0 {
					t.Errorf("foreign key check: %q", got)
				}
				// Hold as many connections as the pool opens, so each one is
				// asked, the migration's own among them.
				conns := make([]string, 0, 8)
				var held []func() error
				for range 8 {
					c, err := db.SQL().Conn(ctx)
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, c.Close)
					var on int
					if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
						t.Fatal(err)
					}
					conns = append(conns, fmt.Sprint(on))
				}
				for _, c := range held {
					c() //nolint:errcheck // a test's connections
				}
				if strings.Join(conns, "") != "11111111" {
					t.Errorf("PRAGMA foreign_keys on the pool's connections: %v, want all 1", conns)
				}
			}
			for _, tt := range []struct{ name, query string }{
				{"a session of no user", "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('sess-x', 'no-user', ?, ?)"},
				{"a session in no account", "INSERT INTO sessions (id, user_id, account_id, created_at, expires_at) VALUES ('sess-y', 'acc-ops', 'no-account', ?, ?)"},
				{"a token of no user", "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) VALUES ('th', 'no-user', 'verify_email', 'x@example.com', ?, ?)"},
			} {
				if err := db.Exec(ctx, tt.query, now, now); err == nil {
					t.Errorf("%s was stored", tt.name)
				}
			}
			for _, tt := range []struct{ name, query string }{
				{"a membership of no user", "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ('acc-ops', 'no-user', 'owner', ?)"},
				{"a membership of no account", "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ('no-account', 'acc-ops', 'owner', ?)"},
			} {
				if err := db.Exec(ctx, tt.query, now); err == nil {
					t.Errorf("%s was stored", tt.name)
				}
			}
			// The cascades were rebuilt too: a user's deletion takes their
			// sessions and memberships; an account's, its keys.
			exec("DELETE FROM users WHERE id = ?", "acc-sus")
			if got := rows("SELECT COUNT(*) FROM sessions WHERE user_id = 'acc-sus'"); got[0] != "0" {
				t.Errorf("sessions of a deleted user: %s", got[0])
			}
			if got := rows("SELECT COUNT(*) FROM memberships WHERE user_id = 'acc-sus'"); got[0] != "0" {
				t.Errorf("memberships of a deleted user: %s", got[0])
			}
			exec("DELETE FROM accounts WHERE id = ?", "acc-sus")
			if got := rows("SELECT COUNT(*) FROM api_keys WHERE account_id = 'acc-sus'"); got[0] != "0" {
				t.Errorf("keys of a deleted account: %s", got[0])
			}
		})
	}
}
