package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/golang-jwt/jwt/v5"
	"github.com/pressly/goose/v3"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/migrations"
)

// v12User is an account of before migration 0013, when the account was
// also the person who signed in, with what it should still show and answer
// once migrated.
type v12User struct {
	id, email, plan, planName string
	admin, suspended          bool
	keys                      []v12Key
}

// v12Key is a key of a v12 account: its secrets as the customer holds
// them, the quota it had used this window and its usage this window.
type v12Key struct {
	id, name string
	secret   string // the current secret
	old      string // "": never rotated; else the previous secret, in grace
	used     int64  // quota used this window (key_quota)
	valid    int64  // valid verifications in usage_hourly, this hour
}

// TestMigratedDatabaseServes fills a database at version 12 by raw SQL,
// the schema of then, the way Keyhold of then wrote it (an operator, a
// customer subscribed to pro with usage and a rotated key, a suspended
// account; argon2id password hashes; a session), migrates it to the latest
// version and serves it: every user logs in with their old password and
// sees their keys, plan and usage; the operator's console shows every
// account and user; every key verifies as before, under the same owner_id,
// plan and quota; and the session cookie issued before the migration still
// signs its holder in.
func TestMigratedDatabaseServes(t *testing.T) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := migrateTo(ctx, db, 12); err != nil {
				t.Fatalf("migrate to 12: %v", err)
			}
			// The instance's signing secret was made before the migration,
			// as a running v12 instance had it (settings is from 0001).
			secret, err := db.Secret(ctx)
			if err != nil {
				t.Fatal(err)
			}
			raw := &harness{t: t, DB: db} // its exec, before there is a server
			now := time.Now().UTC().Truncate(time.Second)
			periodStart, periodEnd := now.Add(-24*time.Hour), now.Add(29*24*time.Hour)
			monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
			// This hour: in the window of every plan, whenever the test runs
			// (an hour ago could be last month).
			hour := now.Truncate(time.Hour)

			users := []v12User{
				{id: "acc_ops", email: "ops@example.com", plan: "free", planName: "Free", admin: true,
					keys: []v12Key{{id: "key_ops", name: "ops probe", secret: newSecret(t), used: 5, valid: 7}}},
				{id: "acc_cus", email: "cus@example.com", plan: "pro", planName: "Pro",
					keys: []v12Key{
						{id: "key_cus_web", name: "web", secret: newSecret(t), old: newSecret(t), used: 40, valid: 30},
						{id: "key_cus_cli", name: "cli", secret: newSecret(t), used: 3, valid: 4},
					}},
				{id: "acc_sus", email: "sus@example.com", plan: "free", planName: "Free", suspended: true,
					keys: []v12Key{{id: "key_sus", name: "sus key", secret: newSecret(t), used: 1, valid: 2}}},
			}
			for i, u := range users {
				hash, err := argon2id.CreateHash(password, v12PasswordParams)
				if err != nil {
					t.Fatal(err)
				}
				created := now.Add(-72*time.Hour + time.Duration(i)*time.Minute)
				var customer any
				if u.plan == "pro" {
					customer = "cus_migrated"
				}
				raw.exec(`INSERT INTO accounts (id, email, password_hash, is_admin, created_at, updated_at, plan_id, stripe_customer_id, email_verified_at, suspended)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.id, u.email, hash, u.admin, created, created, u.plan, customer, created, u.suspended)
				window := monthStart
				if u.plan == "pro" {
					window = periodStart
					raw.exec(`INSERT INTO subscriptions (account_id, stripe_subscription_id, stripe_customer_id, price_id, status, period_start, period_end, updated_at)
						VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, u.id, "sub_migrated", "cus_migrated", "price_keyhold_pro", "active", periodStart, periodEnd, now)
				}
				for _, k := range u.keys {
					raw.exec(`INSERT INTO api_keys (id, account_id, name, display, scopes, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
						k.id, u.id, k.name, "kh_live_…"+k.secret[len(k.secret)-4:], `["read"]`, `{}`, created, created)
					raw.exec(`INSERT INTO key_secrets (hash, key_id, created_at) VALUES (?, ?, ?)`, secretHash(k.secret), k.id, now.Add(-time.Hour))
					if k.old != "" {
						raw.exec(`INSERT INTO key_secrets (hash, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
							secretHash(k.old), k.id, created, now.Add(time.Hour))
					}
					raw.exec(`INSERT INTO key_quota (key_id, window_start, used) VALUES (?, ?, ?)`, k.id, window, k.used)
					raw.exec(`INSERT INTO usage_hourly (key_id, hour, account_id, valid, rate_limited, quota_exceeded, invalid, cost, scope_denied)
						VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.id, hour, u.id, k.valid, 1, 0, 2, k.valid, 3)
					raw.exec(`INSERT INTO audit_log (id, account_id, actor_id, action, target_type, target_id, ip, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
						"audit_"+k.id, u.id, u.id, "key.created", "key", k.id, "192.0.2.1", "Created key "+k.name, created)
				}
			}
			// A session the customer signed in with before the migration,
			// and its cookie, signed as auth signed it then: subject the
			// account (now the user), id the session row.
			raw.exec(`INSERT INTO sessions (id, account_id, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)`,
				"sess_cus", "acc_cus", now.Add(-time.Hour), now.Add(6*24*time.Hour), "192.0.2.1", "test")
			oldCookie := mintSession(t, secret, "acc_cus", "sess_cus", now.Add(-time.Hour), now.Add(6*24*time.Hour))

			if err := db.Migrate(ctx, nil); err != nil {
				t.Fatalf("migrate to latest: %v", err)
			}
			h := serverOn(t, db, withStripe(t))

			// The session from before the migration still signs its holder
			// in, as the user, in their account.
			t.Run("old session", func(t *testing.T) {
				b := h.Browser()
				u, _ := url.Parse(h.URL)
				b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "kh_session", Value: oldCookie, Path: "/"}})
				p := b.Get("/dashboard")
				if p.StatusCode != http.StatusOK || text(p, "account-email") != "cus@example.com" {
					t.Fatalf("dashboard with the old cookie: %d, signed in as %q", p.StatusCode, text(p, "account-email"))
				}
				if got := p.Doc.Find(`[data-testid="key-row"]`).Length(); got != 2 {
					t.Errorf("%d keys on the dashboard, want 2", got)
				}
			})

			browsers := map[string]*browser{}
			for _, u := range users {
				t.Run("login "+u.email, func(t *testing.T) {
					b := h.Browser()
					p := b.Submit("/login", "/login", url.Values{"email": {u.email}, "password": {password}})
					if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
						t.Fatalf("login with the old password: %d %q %s", p.StatusCode, p.Header.Get("Location"), alert(p))
					}
					browsers[u.id] = b
					if p := b.Submit("/dashboard", "/logout", url.Values{}); p.StatusCode != http.StatusSeeOther {
						t.Fatalf("logout: %d", p.StatusCode)
					}
					// A wrong password is still refused: the hashes were
					// carried over, not replaced by anything that lets in all.
					p = b.Submit("/login", "/login", url.Values{"email": {u.email}, "password": {password + "!"}})
					if p.StatusCode == http.StatusSeeOther {
						t.Fatalf("a wrong password logged %s in", u.email)
					}
					p = b.Submit("/login", "/login", url.Values{"email": {u.email}, "password": {password}})
					if p.StatusCode != http.StatusSeeOther {
						t.Fatalf("login again: %d %s", p.StatusCode, alert(p))
					}
				})
			}
			if t.Failed() {
				t.FailNow()
			}

			for _, u := range users {
				if u.suspended {
					continue
				}
				b := browsers[u.id]
				t.Run("pages of "+u.email, func(t *testing.T) {
					var accountValid int64
					for _, k := range u.keys {
						accountValid += k.valid
					}
					p := mustGet(t, b, "/dashboard")
					if got := text(p, "account-email"); got != u.email {
						t.Errorf("dashboard: signed in as %q", got)
					}
					if got := text(p, "plan-name"); got != u.planName {
						t.Errorf("dashboard plan %q, want %q", got, u.planName)
					}
					if got := text(p, "total-valid"); got != strconv.FormatInt(accountValid, 10) {
						t.Errorf("dashboard: %s valid this period, want %d", got, accountValid)
					}
					if got := text(p, "plan-badge"); got != u.planName {
						t.Errorf("plan badge %q, want %q", got, u.planName)
					}

					p = mustGet(t, b, "/keys")
					if got := p.Doc.Find(`[data-testid="key-row"]`).Length(); got != len(u.keys) {
						t.Errorf("/keys: %d rows, want %d", got, len(u.keys))
					}
					for _, k := range u.keys {
						row := p.Doc.Find(`[data-testid="key-row"][data-key-id="` + k.id + `"]`)
						if row.Length() != 1 {
							t.Errorf("/keys: no row for %s", k.id)
							continue
						}
						if got := strings.TrimSpace(row.Find(`[data-testid="key-name"]`).Text()); got != k.name {
							t.Errorf("/keys: %s named %q", k.id, got)
						}
						if got := strings.TrimSpace(row.Find(`[data-testid="key-created-by"]`).First().Text()); got != "Created by "+u.email {
							t.Errorf("/keys: %s %q", k.id, got)
						}
						if got := strings.Join(strings.Fields(row.Find(`[data-testid="usage"]`).First().Text()), " "); !strings.HasPrefix(got, strconv.FormatInt(k.used, 10)+" / ") {
							t.Errorf("/keys: %s usage %q, want %d used", k.id, got, k.used)
						}
					}

					for _, k := range u.keys {
						p := mustGet(t, b, "/keys/"+k.id)
						if got := text(p, "key-name"); got != k.name {
							t.Errorf("/keys/%s: name %q", k.id, got)
						}
						if got := text(p, "key-created-by"); !strings.Contains(got, u.email) {
							t.Errorf("/keys/%s: created by %q, want %s", k.id, got, u.email)
						}
						if got := text(p, "total-valid"); got != strconv.FormatInt(k.valid, 10) {
							t.Errorf("/keys/%s: %s valid, want %d", k.id, got, k.valid)
						}
						if got := strings.TrimSpace(p.Doc.Find(`[data-testid="key-activity"] [data-testid="audit-action"]`).Last().Text()); got == "" {
							t.Errorf("/keys/%s: the key's activity from before the migration is not shown", k.id)
						}
						if got := p.Doc.Find(`[data-testid="old-secret"]`).Length() > 0; got != (k.old != "") {
							t.Errorf("/keys/%s: old secret shown %v, want %v", k.id, got, k.old != "")
						}
					}

					p = mustGet(t, b, "/billing")
					if got := strings.TrimSpace(p.Doc.Find(`[data-testid="current-plan"] [data-testid="plan-name"]`).Text()); got != u.planName {
						t.Errorf("/billing: current plan %q, want %q", got, u.planName)
					}
					if u.plan == "pro" {
						if got := text(p, "subscription-status"); got != "Active" {
							t.Errorf("/billing: subscription %q", got)
						}
						if got := text(p, "subscription-period"); !strings.Contains(got, "Renews on") {
							t.Errorf("/billing: period %q", got)
						}
					}

					p = mustGet(t, b, "/team")
					rows := p.Doc.Find(`[data-testid="member-row"]`)
					if id, _ := rows.Attr("data-user-id"); rows.Length() != 1 || id != u.id {
						t.Errorf("/team: %d members, first %q; want %s alone", rows.Length(), id, u.id)
					}
					if role, _ := rows.Attr("data-role"); role != "owner" {
						t.Errorf("/team: %s is %q, want owner", u.id, role)
					}

					p = mustGet(t, b, "/account")
					if got := text(p, "account-settings-email"); !strings.Contains(got, u.email) {
						t.Errorf("/account: email %q", got)
					}
				})
			}

			t.Run("suspended", func(t *testing.T) {
				p := browsers["acc_sus"].Get("/dashboard")
				if p.StatusCode != http.StatusForbidden || p.Doc.Find(`[data-testid="suspended-page"]`).Length() != 1 {
					t.Errorf("the suspended account's dashboard: %d, suspended page %d", p.StatusCode, p.Doc.Find(`[data-testid="suspended-page"]`).Length())
				}
			})

			t.Run("console", func(t *testing.T) {
				ops := browsers["acc_ops"]
				p := mustGet(t, ops, "/admin/accounts")
				for _, u := range users {
					if p.Doc.Find(`[data-testid="account-row"][data-account-id="`+u.id+`"]`).Length() != 1 {
						t.Errorf("/admin/accounts: no row for %s", u.id)
					}
				}
				for _, u := range users {
					p := mustGet(t, ops, "/admin/accounts/"+u.id)
					if got := text(p, "account-name"); !strings.Contains(got, u.email) {
						t.Errorf("/admin/accounts/%s: name %q, want %s", u.id, got, u.email)
					}
					if got := p.Doc.Find(`[data-testid="admin-member-row"][data-user-id="` + u.id + `"]`).Length(); got != 1 {
						t.Errorf("/admin/accounts/%s: its user listed %d times", u.id, got)
					}
					if got := p.Doc.Find(`[data-testid="account-suspended"]`).Length() > 0; got != u.suspended {
						t.Errorf("/admin/accounts/%s: suspended shown %v", u.id, got)
					}
					p = mustGet(t, ops, "/admin/users/"+u.id)
					if got := text(p, "user-email"); got != u.email {
						t.Errorf("/admin/users/%s: email %q", u.id, got)
					}
					if got := p.Doc.Find(`[data-testid="user-account-row"][data-account-id="` + u.id + `"]`).Length(); got != 1 {
						t.Errorf("/admin/users/%s: their account listed %d times", u.id, got)
					}
				}
				if p := ops.Get("/admin/accounts/no_such_account"); p.StatusCode != http.StatusNotFound {
					t.Errorf("an unknown account: %d", p.StatusCode)
				}
			})

			// Last, as verifying counts usage: each secret answers as
			// before, under the old account id, its plan and its quota.
			t.Run("verify", func(t *testing.T) {
				for _, u := range users {
					for _, k := range u.keys {
						secrets := []string{k.secret}
						if k.old != "" {
							secrets = append(secrets, k.old)
						}
						for n, s := range secrets {
							resp, a := h.postVerify(t, verifyJSON(s, ""), nil)
							if u.suspended {
								if resp.StatusCode != http.StatusForbidden || a.Valid || a.Code != "DISABLED" || a.OwnerID != u.id {
									t.Errorf("%s of a suspended account: %d %s", k.id, resp.StatusCode, a.Raw)
								}
								continue
							}
							if resp.StatusCode != http.StatusOK || !a.Valid || a.Code != "VALID" || a.KeyID != k.id || a.OwnerID != u.id || a.Plan != u.plan || a.Name != k.name {
								t.Errorf("%s secret %d: %d %s", k.id, n, resp.StatusCode, a.Raw)
								continue
							}
							// The quota counts on from what the key had used;
							// each call before this one took 1 more.
							// ratelimit.limit is the bucket: the plan's burst.
							limit, burst := int64(1000), int64(20)
							if u.plan == "pro" {
								limit, burst = 100_000, 200
							}
							if a.RateLimit == nil || a.RateLimit.Limit != burst {
								t.Errorf("%s secret %d: rate limit %s, want a burst of %d", k.id, n, a.Raw, burst)
							}
							if want := limit - k.used - int64(n+1); a.Quota == nil || a.Quota.Limit != limit || a.Quota.Remaining != want {
								t.Errorf("%s secret %d: quota %s, want %d of %d left", k.id, n, a.Raw, want, limit)
							}
							if u.plan == "pro" && (a.Quota == nil || !a.Quota.Reset.Equal(periodEnd)) {
								t.Errorf("%s: quota resets %v, want the period's end %v", k.id, a.Quota, periodEnd)
							}
						}
					}
				}
				// A secret the database never held is still refused.
				if _, a := h.postVerify(t, verifyJSON(newSecret(t), ""), nil); a.Valid || a.Code != "NOT_FOUND" {
					t.Errorf("an unknown key: %s", a.Raw)
				}
			})
		})
	}
}

// v12PasswordParams are the argon2id parameters auth hashed passwords with
// at version 12 (OWASP's minimum), written again here so that the test
// checks that hashes of then still log in, not that auth agrees with
// itself.
var v12PasswordParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// migrateTo applies Keyhold's migrations up to version: the store's own
// migrator is unexported, and its test helper is its package's alone.
func migrateTo(ctx context.Context, db *store.DB, version int64) error {
	dialect := goose.DialectSQLite3
	if db.Postgres() {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.SQL(), migrations.FS, goose.WithGoMigrations(migrations.Go(db.Postgres())...))
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// newSecret makes an API key as keys makes them: kh_live_, 32 random
// base62 characters and their checksum.
func newSecret(t *testing.T) string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	body := []byte("kh_live_")
	for range 32 {
		n, err := rand.Int(rand.Reader, big.NewInt(62))
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, alphabet[n.Int64()])
	}
	return string(body) + keyChecksum(string(body))
}

// secretHash is a key secret as key_secrets stores it: SHA-256, hex.
func secretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// mintSession signs a session cookie as auth signs it: HS256 with the
// session key derived from the instance secret, for the portal audience.
func mintSession(t *testing.T, secret []byte, subject, id string, issued, expires time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "keyhold", Audience: jwt.ClaimStrings{"keyhold-portal"}, Subject: subject, ID: id,
		IssuedAt: jwt.NewNumericDate(issued), ExpiresAt: jwt.NewNumericDate(expires),
	}).SignedString(auth.DeriveKey(secret, "session-jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mustGet loads a page that must render.
func mustGet(t *testing.T, b *browser, path string) *page {
	t.Helper()
	p := b.Get(path)
	if p.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, p.StatusCode, alert(p))
	}
	return p
}

// text is the trimmed text of the first element with a data-testid.
func text(p *page, testID string) string {
	return strings.TrimSpace(p.Doc.Find(`[data-testid="` + testID + `"]`).First().Text())
}
