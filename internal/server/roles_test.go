package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/team"
)

// joinAccount makes the user with email a member of acct with role,
// by hand (the team pages are built elsewhere), and makes it the current
// account of the user's session.
func joinAccount(t *testing.T, h *harness, email, acct string, role team.Role) string {
	t.Helper()
	ctx := context.Background()
	userID := accountID(t, h, email) // also the user's id
	h.exec(`INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
		acct, userID, string(role), time.Now().UTC())
	if err := h.DB.SetSessionAccount(ctx, sessionOf(t, h, userID), userID, acct); err != nil {
		t.Fatal(err)
	}
	return userID
}

// sessionOf is the id of the one session of user userID.
func sessionOf(t *testing.T, h *harness, userID string) string {
	t.Helper()
	var id string
	if err := h.queryRow(`SELECT id FROM sessions WHERE user_id = ?`, userID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// databases are the stores the team tests run on: the sessions' SQL
// (memberships joined in Visit, the checked switch) differs between them.
var databases = []struct {
	name  string
	start func(testing.TB, ...option) *harness
}{
	{"sqlite", MustServer},
	{"postgres", MustServerOnPostgres},
}

// TestRolesOnKeys: every member reads the current account's keys; only
// the roles the role table lets manage keys create or revoke one, and a
// refusal changes nothing. A key made by a member names them as its
// creator and its audit entry names them and the account.
func TestRolesOnKeys(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t)
			ctx := context.Background()
			owner := h.Browser()
			owner.MustSignup("ada@example.com")
			acct := accountID(t, h, "ada@example.com")
			// Room for every member's key: a refusal must be the role's, not the
			// plan's.
			if err := h.DB.SetPlan(ctx, acct, "business"); err != nil {
				t.Fatal(err)
			}
			keyID, _ := owner.MustCreateKey("prod", nil)

			for _, role := range team.Roles {
				t.Run(string(role), func(t *testing.T) {
					b := h.Browser()
					email := string(role) + "@example.com"
					b.MustSignup(email)
					userID := joinAccount(t, h, email, acct, role)
					rows := b.Get("/keys").Doc.Find(`[data-testid="key-row"]`)
					if rows.Length() < 1 || b.Get("/keys/"+keyID).StatusCode != http.StatusOK {
						t.Fatalf("a %s does not see the account's keys: %d rows", role, rows.Length())
					}
					before, err := h.Keys.List(ctx, acct)
					if err != nil {
						t.Fatal(err)
					}
					p := b.Submit("/keys/new", "/keys", url.Values{"name": {"by " + string(role)}})
					after, err := h.Keys.List(ctx, acct)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Contains(team.Rules[team.ManageKeys], role) {
						if p.StatusCode != http.StatusForbidden || !strings.Contains(alert(p), "role") {
							t.Errorf("a %s created a key: %d %q", role, p.StatusCode, alert(p))
						}
						if len(after) != len(before) {
							t.Errorf("a refused creation made a key: %d keys, were %d", len(after), len(before))
						}
						p := b.Submit("/keys/"+keyID, "/keys/"+keyID+"/revoke", url.Values{})
						if p.StatusCode != http.StatusForbidden {
							t.Errorf("a %s revoked a key: %d", role, p.StatusCode)
						}
						if k, err := h.Keys.Get(ctx, acct, keyID); err != nil || k.RevokedAt != nil {
							t.Errorf("a refused revocation revoked the key (err %v)", err)
						}
						return
					}
					if p.StatusCode != http.StatusOK || len(after) != len(before)+1 {
						t.Fatalf("a %s could not create a key: %d %q", role, p.StatusCode, alert(p))
					}
					k := after[0]
					if k.CreatedBy != userID || k.CreatedByEmail != email {
						t.Errorf("key created by %q (%q), want %s (%s)", k.CreatedBy, k.CreatedByEmail, userID, email)
					}
					e := lastAudit(t, h, acct, audit.KeyCreated)
					if e == nil || e.ActorID != userID || e.AccountID != acct || e.TargetID != k.ID {
						t.Errorf("creation audit entry = %+v, want the member as actor in the account", e)
					}
					if ks, _ := h.Keys.List(ctx, userID); len(ks) != 0 {
						t.Errorf("the key went to the member's personal account: %d keys there", len(ks))
					}
				})
			}
		})
	}
}

// TestSuspensionIsPerAccount: a suspended team account shuts its members
// out while they act in it, and only there: the same user's own account
// works, and keys made there go to it.
func TestSuspensionIsPerAccount(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t)
			ctx := context.Background()
			ops := h.MustAdmin("ops@example.com")
			h.Browser().MustSignup("team@example.com")
			acct := accountID(t, h, "team@example.com")
			b := h.Browser()
			b.MustSignup("dev@example.com")
			userID := joinAccount(t, h, "dev@example.com", acct, team.Developer)
			page := "/admin/accounts/" + acct
			if p := ops.adminPost(page, page+"/suspend", nil); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("suspend: %d %q", p.StatusCode, alert(p))
			}
			for _, path := range []string{"/dashboard", "/keys"} {
				if p := b.Get(path); p.StatusCode != http.StatusForbidden || p.Doc.Find(`[data-testid="suspended-page"]`).Length() != 1 {
					t.Errorf("GET %s in the suspended account: %d, want 403 and the suspended page", path, p.StatusCode)
				}
			}
			// Back in the member's own account, which is not suspended.
			if err := h.DB.SetSessionAccount(ctx, sessionOf(t, h, userID), userID, userID); err != nil {
				t.Fatal(err)
			}
			if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK || p.Doc.Find(`[data-testid="suspended-page"]`).Length() != 0 {
				t.Errorf("the member's own account: %d, want the dashboard", p.StatusCode)
			}
			b.MustCreateKey("mine", nil)
			if ks, _ := h.Keys.List(ctx, acct); len(ks) != 0 {
				t.Errorf("the suspended account got %d keys", len(ks))
			}
		})
	}
}

// TestRemovedMemberFallsBackToOwnAccount: a member removed from the
// account their session acts in lands, on the next request, in the
// account they joined first (their own), and sees none of the old
// account's keys.
func TestRemovedMemberFallsBackToOwnAccount(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t)
			ctx := context.Background()
			owner := h.Browser()
			owner.MustSignup("team@example.com")
			acct := accountID(t, h, "team@example.com")
			keyID, _ := owner.MustCreateKey("team key", nil)
			b := h.Browser()
			b.MustSignup("dev@example.com")
			userID := joinAccount(t, h, "dev@example.com", acct, team.Developer)
			if p := b.Get("/keys/" + keyID); p.StatusCode != http.StatusOK {
				t.Fatalf("a member does not see the team's key: %d", p.StatusCode)
			}
			h.exec(`DELETE FROM memberships WHERE account_id = ? AND user_id = ?`, acct, userID)
			if p := b.Get("/keys"); p.StatusCode != http.StatusOK || p.Doc.Find(`[data-testid="key-row"]`).Length() != 0 {
				t.Errorf("after removal /keys: %d with %d rows, want 200 and the member's own (empty) list",
					p.StatusCode, p.Doc.Find(`[data-testid="key-row"]`).Length())
			}
			if p := b.Get("/keys/" + keyID); p.StatusCode != http.StatusNotFound {
				t.Errorf("after removal the team's key: %d, want 404", p.StatusCode)
			}
			var current string
			if err := h.queryRow(`SELECT account_id FROM sessions WHERE user_id = ?`, userID).Scan(&current); err != nil {
				t.Fatal(err)
			}
			if current != userID {
				t.Errorf("the session's account is %s, want the member's own %s", current, userID)
			}
			b.MustCreateKey("mine", nil)
			if ks, _ := h.Keys.List(ctx, acct); len(ks) != 1 {
				t.Errorf("the old account has %d keys, want its 1", len(ks))
			}
		})
	}
}

// TestRolesOnBilling: every member sees the billing page; only the roles
// the role table lets manage billing reach Checkout or the portal, for
// the current account (whose customer Checkout makes), and a refusal
// makes no customer.
func TestRolesOnBilling(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t, withStripe(t))
			ctx := context.Background()
			h.Browser().MustSignup("team@example.com")
			acct := accountID(t, h, "team@example.com")
			allowed := team.Rules[team.ManageBilling]
			// The refused first, so that no customer exists while they try.
			roles := slices.Clone(team.Roles)
			slices.SortStableFunc(roles, func(a, b team.Role) int {
				return cmpBool(slices.Contains(allowed, a), slices.Contains(allowed, b))
			})
			for _, role := range roles {
				t.Run(string(role), func(t *testing.T) {
					b := h.Browser()
					email := string(role) + "@example.com"
					b.MustSignup(email)
					userID := joinAccount(t, h, email, acct, role)
					if p := b.Get("/billing"); p.StatusCode != http.StatusOK {
						t.Fatalf("a %s cannot see the billing page: %d", role, p.StatusCode)
					}
					r := b.Submit("/billing", "/billing/checkout", url.Values{"plan": {"pro"}})
					if !slices.Contains(allowed, role) {
						if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "role") {
							t.Errorf("a %s reached Checkout: %d %q", role, r.StatusCode, r.Header.Get("Location"))
						}
						if c, err := h.DB.Customer(ctx, acct); err != nil || c.CustomerID != "" {
							t.Errorf("a refused Checkout made the account a customer (%v)", err)
						}
						tok, _ := b.Get("/billing").Doc.Find(`input[name="_csrf"]`).First().Attr("value")
						if p := b.Post("/billing/portal", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "role") {
							t.Errorf("a %s reached the billing portal: %d", role, p.StatusCode)
						}
						return
					}
					if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://checkout.stripe.com/") {
						t.Fatalf("a %s could not check out: %d %q", role, r.StatusCode, r.Header.Get("Location"))
					}
					if c, err := h.DB.Customer(ctx, acct); err != nil || c.CustomerID == "" {
						t.Errorf("Checkout made no customer for the current account: %v", err)
					}
					if c, err := h.DB.Customer(ctx, userID); err != nil || c.CustomerID != "" {
						t.Errorf("Checkout made the member's own account a customer (%v)", err)
					}
				})
			}
		})
	}
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
