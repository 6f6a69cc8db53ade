package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
)

// adminPost submits a form of the console page page to action, with the
// page's CSRF token.
func (b *browser) adminPost(page, action string, form url.Values) *page {
	b.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return b.Submit(page, action, form)
}

// lastAudit is the newest audit entry with action about accountID.
func lastAudit(t *testing.T, h *harness, accountID, action string) *auth.AuditRecord {
	t.Helper()
	rs, err := h.Auth.AuditLog(context.Background(), auth.AuditQuery{AccountID: accountID, Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return &rs[0]
}

// lastUserAudit is the newest audit entry with action done by or about
// user userID (their log-ins, operator role, reset links).
func lastUserAudit(t *testing.T, h *harness, userID, action string) *auth.AuditRecord {
	t.Helper()
	rs, err := h.Auth.AuditLog(context.Background(), auth.AuditQuery{UserID: userID, Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return &rs[0]
}

func TestAdminPromoteAndDemote(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	opsID := accountID(t, h, "ops@example.com")
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	devID := accountID(t, h, "dev@example.com")
	page := "/admin/users/" + devID

	if p := dev.Get("/admin"); p.StatusCode != http.StatusNotFound {
		t.Fatalf("before promotion: %d", p.StatusCode)
	}
	p := ops.adminPost(page, page+"/promote", nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("promote: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if !strings.Contains(alert(ops.Get(page)), "now an operator") {
		t.Error("no flash after promoting")
	}
	dev.mustPage("/admin")
	if e := lastUserAudit(t, h, devID, audit.Promoted); e == nil || e.ActorID != opsID || e.TargetID != devID {
		t.Errorf("promotion audit entry = %+v, want actor %s and target %s", e, opsID, devID)
	}
	// Again (a stale page): nothing changes, nothing is recorded twice.
	tok, _ := ops.Get(page).Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	ops.Post(page+"/promote", url.Values{"_csrf": {tok}})
	if got := alert(ops.Get(page)); !strings.Contains(got, "already an operator") {
		t.Errorf("flash after promoting twice = %q", got)
	}
	if rs, _ := h.Auth.AuditLog(context.Background(), auth.AuditQuery{UserID: devID, Action: audit.Promoted}); len(rs) != 1 {
		t.Errorf("%d promotion entries after promoting twice, want 1", len(rs))
	}

	// The page shows the role and the button that removes it.
	if ops.mustPage(page).Doc.Find(`[data-testid="demote-form"]`).Length() != 1 {
		t.Error("an operator's page has no demote form")
	}
	ops.adminPost(page, page+"/demote", nil)
	if p := dev.Get("/admin"); p.StatusCode != http.StatusNotFound {
		t.Errorf("after demotion: %d, want 404", p.StatusCode)
	}
	if e := lastUserAudit(t, h, devID, audit.Demoted); e == nil || e.ActorID != opsID {
		t.Errorf("demotion audit entry = %+v", e)
	}
}

func TestAdminLastOperatorCannotDemoteThemself(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	opsID := accountID(t, h, "ops@example.com")
	self := "/admin/users/" + opsID

	p := ops.adminPost(self, self+"/demote", nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("demote self: %d", p.StatusCode)
	}
	if got := alert(ops.Get(self)); !strings.Contains(got, "only operator") {
		t.Errorf("flash = %q, want it to say you are the only operator", got)
	}
	ops.mustPage("/admin") // still an operator
	if e := lastUserAudit(t, h, opsID, audit.Demoted); e != nil {
		t.Errorf("a refused demotion was recorded: %+v", e)
	}

	// With a second operator it is allowed, and the console is gone.
	h.MustAdmin("second@example.com")
	p = ops.adminPost(self, self+"/demote", nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
		t.Fatalf("demote self with another operator: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if p := ops.Get("/admin"); p.StatusCode != http.StatusNotFound {
		t.Errorf("after demoting themself: %d", p.StatusCode)
	}
}

func TestAdminSuspendAndUnsuspend(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	opsID := accountID(t, h, "ops@example.com")
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	keyID, secret := dev.MustCreateKey("prod", nil)
	devID := accountID(t, h, "dev@example.com")
	page := "/admin/accounts/" + devID

	verifyCode := func(want string, status int) {
		t.Helper()
		resp, a := h.postVerify(t, verifyJSON(secret, `,"scopes":["anything"]`), nil)
		if a.Code != want || resp.StatusCode != status {
			t.Fatalf("verify = %s %d, want %s %d", a.Code, resp.StatusCode, want, status)
		}
	}
	resp, a := h.postVerify(t, verifyJSON(secret, ""), nil)
	if a.Code != "VALID" {
		t.Fatalf("before: %s %d", a.Code, resp.StatusCode)
	}
	ops.adminPost(page, page+"/suspend", nil)
	// DISABLED whatever the call asks: a scope the key lacks does not
	// turn it into INSUFFICIENT_SCOPE.
	verifyCode("DISABLED", http.StatusForbidden)
	_, a = h.postVerify(t, verifyJSON(secret, ""), nil)
	if a.Message != "The key's account is suspended." {
		t.Errorf("message = %q", a.Message)
	}
	if e := lastAudit(t, h, devID, audit.Suspended); e == nil || e.ActorID != opsID || e.TargetID != devID {
		t.Errorf("suspension audit entry = %+v", e)
	}
	if ops.mustPage("/admin/accounts?q=dev").Doc.Find(`[data-testid="account-suspended"]`).Length() != 1 {
		t.Error("the accounts list does not mark the account suspended")
	}

	// The user sees the suspended page everywhere, can do nothing, and can
	// log out.
	for _, path := range []string{"/dashboard", "/keys", "/keys/" + keyID, "/billing", "/account"} {
		p := dev.Get(path)
		if p.StatusCode != http.StatusForbidden || p.Doc.Find(`[data-testid="suspended-page"]`).Length() != 1 {
			t.Errorf("GET %s suspended: %d, want 403 and the suspended page", path, p.StatusCode)
		}
		if p.Doc.Find(`[data-testid="nav"]`).Length() != 0 {
			t.Errorf("GET %s suspended shows the portal's nav", path)
		}
	}
	tok, _ := dev.Get("/dashboard").Doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
	for _, path := range []string{"/keys", "/keys/" + keyID + "/revoke", "/keys/" + keyID + "/rotate"} {
		if p := dev.Post(path, url.Values{"_csrf": {tok}, "name": {"more"}, "grace": {"0"}}); p.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s suspended: %d, want 403", path, p.StatusCode)
		}
	}
	if ks, _ := h.Keys.List(context.Background(), devID); len(ks) != 1 || ks[0].RevokedAt != nil {
		t.Errorf("a suspended user changed their keys: %d keys", len(ks))
	}

	ops.adminPost(page, page+"/unsuspend", nil)
	verifyCode("INSUFFICIENT_SCOPE", http.StatusForbidden)
	if _, a := h.postVerify(t, verifyJSON(secret, ""), nil); a.Code != "VALID" {
		t.Errorf("after unsuspend: %s", a.Code)
	}
	dev.mustPage("/dashboard")
	if e := lastAudit(t, h, devID, audit.Unsuspended); e == nil || e.ActorID != opsID {
		t.Errorf("unsuspension audit entry = %+v", e)
	}

	// Logging out works while suspended.
	ops.adminPost(page, page+"/suspend", nil)
	if p := dev.Post("/logout", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusSeeOther {
		t.Errorf("logout while suspended: %d", p.StatusCode)
	}
	if p := dev.Get("/dashboard"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Errorf("after logout: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}

func TestAdminCannotSuspendThemself(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	self := "/admin/accounts/" + accountID(t, h, "ops@example.com")
	if ops.mustPage(self).Doc.Find(`[data-testid="suspend-form"]`).Length() != 0 {
		t.Error("an operator's own page offers to suspend it")
	}
	tok, _ := ops.Get(self).Doc.Find(`form[action="` + self + `/plan"] input[name="_csrf"]`).Attr("value")
	ops.Post(self+"/suspend", url.Values{"_csrf": {tok}})
	if got := alert(ops.Get(self)); !strings.Contains(got, "cannot suspend your own account") {
		t.Errorf("flash = %q", got)
	}
	ops.mustPage("/admin")
}

func TestAdminAccountActionsRefused(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	devID := accountID(t, h, "dev@example.com")
	tok, _ := ops.mustPage("/admin/accounts/" + devID).Doc.Find(`form[action="/admin/accounts/` + devID + `/suspend"] input[name="_csrf"]`).Attr("value")
	// The operator role is a user's, suspension an account's.
	for _, a := range []struct{ base, action string }{
		{"/admin/users/", "promote"}, {"/admin/users/", "demote"}, {"/admin/accounts/", "suspend"}, {"/admin/accounts/", "unsuspend"},
	} {
		page, action := a.base+devID, a.action
		// No CSRF token: refused, nothing changes.
		if p := ops.Post(page+"/"+action, url.Values{}); p.StatusCode != http.StatusForbidden {
			t.Errorf("%s without a CSRF token: %d, want 403", action, p.StatusCode)
		}
		// No such user or account: 404.
		if p := ops.Post(a.base+"nope/"+action, url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusNotFound {
			t.Errorf("%s of an unknown one: %d, want 404", action, p.StatusCode)
		}
		// Not an operator: 404, as for the whole console.
		devTok, _ := dev.Get("/account").Doc.Find(`input[name="_csrf"]`).First().Attr("value")
		if p := dev.Post(page+"/"+action, url.Values{"_csrf": {devTok}}); p.StatusCode != http.StatusNotFound {
			t.Errorf("%s by a developer: %d, want 404", action, p.StatusCode)
		}
	}
	u, err := h.Auth.User(context.Background(), devID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := h.Auth.Account(context.Background(), devID)
	if err != nil {
		t.Fatal(err)
	}
	if u.IsAdmin || a.Suspended {
		t.Errorf("refused actions changed the user or account: admin %v, suspended %v", u.IsAdmin, a.Suspended)
	}
}

func TestAdminRevokesAnyKey(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	opsID := accountID(t, h, "ops@example.com")
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	keyID, secret := dev.MustCreateKey("prod", nil)
	devID := accountID(t, h, "dev@example.com")
	accountPage := "/admin/accounts/" + devID
	keyPage := "/admin/keys/" + keyID

	// From the account page's key list, back to it; the form asks first.
	form := ops.mustPage(accountPage).Doc.Find(`form[action="` + keyPage + `/revoke"]`)
	if form.Length() != 1 || form.AttrOr("data-confirm", "") == "" {
		t.Fatalf("account page: %d revoke forms, confirm %q", form.Length(), form.AttrOr("data-confirm", ""))
	}
	p := ops.Submit(accountPage, keyPage+"/revoke", url.Values{"back": {accountPage}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != accountPage {
		t.Fatalf("revoke: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if _, a := h.postVerify(t, verifyJSON(secret, ""), nil); a.Code != "REVOKED" {
		t.Errorf("after an operator's revoke: %s", a.Code)
	}
	e := lastAudit(t, h, devID, audit.KeyRevoked)
	if e == nil || e.ActorID != opsID || e.AccountID != devID || e.TargetID != keyID {
		t.Errorf("revoke audit entry = %+v, want the operator as actor", e)
	}
	if strings.Contains(e.Detail, secret) {
		t.Error("the audit entry holds the secret")
	}
	if ops.mustPage(accountPage).Doc.Find(`form[action="`+keyPage+`/revoke"]`).Length() != 0 {
		t.Error("a revoked key still has a revoke button")
	}

	// Again (a stale page): a clear message, and back to the key's page
	// when the back path is not the console's.
	tok, _ := ops.Get(keyPage).Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	p = ops.Post(keyPage+"/revoke", url.Values{"_csrf": {tok}, "back": {"//evil.example/admin/"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != keyPage {
		t.Errorf("revoke again: %d %q, want back to %s", p.StatusCode, p.Header.Get("Location"), keyPage)
	}
	if got := alert(ops.Get(keyPage)); !strings.Contains(got, "already revoked") {
		t.Errorf("flash = %q", got)
	}
	if p := ops.Post("/admin/keys/nope/revoke", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusNotFound {
		t.Errorf("revoke an unknown key: %d", p.StatusCode)
	}
}

// The key page of an active key carries its own confirmed revoke form.
func TestAdminKeyPageRevokeForm(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	keyID, _ := dev.MustCreateKey("prod", nil)
	keyPage := "/admin/keys/" + keyID
	f := ops.mustPage(keyPage).Doc.Find(`[data-testid="key-revoke"] form[action="` + keyPage + `/revoke"]`)
	if f.Length() != 1 || !strings.Contains(f.AttrOr("data-confirm", ""), "dev@example.com") {
		t.Fatalf("key page revoke form: %d, confirm %q", f.Length(), f.AttrOr("data-confirm", ""))
	}
	if p := ops.Submit(keyPage, keyPage+"/revoke", url.Values{}); p.Header.Get("Location") != keyPage {
		t.Errorf("revoke from the key page goes to %q", p.Header.Get("Location"))
	}
	if ops.mustPage(keyPage).Doc.Find(`[data-testid="key-revoke"]`).Length() != 0 {
		t.Error("a revoked key's page still offers to revoke it")
	}
}

func TestAdminOverviewBillingSetup(t *testing.T) {
	tests := []struct {
		name string
		opts []option
		want bool
	}{
		{"stripe off", nil, true},
		{"stripe on", []option{withStripe(t)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustServer(t, tt.opts...)
			ops := h.MustAdmin("ops@example.com")
			card := ops.mustPage("/admin").Doc.Find(`[data-testid="billing-setup"]`)
			if got := card.Length() == 1; got != tt.want {
				t.Fatalf("setup instructions shown = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			for _, name := range []string{"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "KEYHOLD_PLANS_FILE"} {
				if !strings.Contains(card.Text(), name) {
					t.Errorf("setup card does not name %s", name)
				}
			}
		})
	}
}
