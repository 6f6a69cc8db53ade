package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/testenv"
)

// switcherSelect is the header switcher's select of accounts.
const switcherSelect = `[data-testid="account-switcher"] select[name="account_id"]`

// switcherOptions returns the names of the accounts the header switcher
// lists and the one it has selected.
func (br *tab) switcherOptions() (names []string, current string) {
	br.t.Helper()
	type options struct {
		Names   []string `json:"names"`
		Current string   `json:"current"`
	}
	o, err := chromedp.Run(br.ctx, chromedp.Evaluate[options](`(() => {
		const s = document.querySelector(`+jsString(switcherSelect)+`);
		if (!s) return {names: [], current: ""};
		return {names: [...s.options].map(o => o.textContent.trim()), current: s.selectedOptions[0]?.textContent.trim() ?? ""};
	})()`))
	if err != nil {
		br.t.Fatalf("reading the account switcher: %v (page %s)", err, br.location())
	}
	return o.Names, o.Current
}

// switchTo picks the account named name in the header switcher as a user
// does: app.js submits the form when the select changes (and hides the
// Switch button), so the test changes the select and fires its change
// event, then waits for the page the switch leads to.
func (br *tab) switchTo(name string) {
	br.t.Helper()
	resp, err := chromedp.RunResponse(br.ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector(`+jsString(switcherSelect)+`);
		const o = [...s.options].find(o => o.textContent.trim() === `+jsString(name)+`);
		if (!o) throw new Error("no account " + `+jsString(name)+` + " in the switcher");
		s.value = o.value;
		s.dispatchEvent(new Event("change", {bubbles: true}));
	})()`))
	if err != nil {
		br.t.Fatalf("switching to %s: %v (page %s)", name, err, br.location())
	}
	if resp.Status != http.StatusOK {
		br.t.Fatalf("switching to %s answered %d", name, resp.Status)
	}
	if _, current := br.switcherOptions(); current != name {
		br.t.Fatalf("after switching to %s the switcher shows %q", name, current)
	}
}

// TestBrowserTeamJourney is issue 13's journey, clicked through: an owner
// makes the team account Acme and invites a developer by email; the
// developer signs up through the mailed link, lands in Acme, switches
// accounts and makes a key, which the owner sees as theirs; demoted to
// viewer they cannot make another; removed, Acme is gone from their
// switcher on their next request.
func TestBrowserTeamJourney(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	a := MustRun(t, map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL()})
	const (
		ownerEmail = "owner-journey@example.com"
		devEmail   = "dev-journey@example.com"
		devPass    = "the developer's own passphrase"
	)

	owner := MustTab(t, a)
	owner.Do("sign up",
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="email"]`), ownerEmail),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
	)
	owner.Do("create the account Acme",
		chromedp.Click(chromedp.CSS(`[data-testid="new-account-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-account-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="new-account-form"] input[name="name"]`), "Acme"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-account"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invite-form"]`)),
	)
	if got := owner.Path(); got != "/team" {
		t.Errorf("after creating Acme the tab is at %s, want /team", got)
	}
	if names, current := owner.switcherOptions(); current != "Acme" || len(names) != 2 {
		t.Errorf("the owner's switcher lists %q with %q current, want their personal account and Acme, Acme current", names, current)
	}

	owner.Do("invite the developer",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="invite-form"] input[name="email"]`), devEmail),
		chromedp.SetValue(chromedp.CSS(`[data-testid="invite-form"] select[name="role"]`), "developer"),
		chromedp.Click(chromedp.CSS(`[data-testid="invite-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invite-link"]`)),
	)
	shown := owner.Text(`[data-testid="invite-link"]`)
	if !strings.Contains(shown, "/invitations/") {
		t.Fatalf("the invite link shown is %q", shown)
	}
	if got := owner.Text(`[data-testid="invitation-row"] [data-testid="invitation-email"]`); got != devEmail {
		t.Errorf("the pending invitation is for %q, want %s", got, devEmail)
	}
	if got := owner.Text(`[data-testid="invitation-row"] [data-testid="invitation-role"]`); got != "Developer" {
		t.Errorf("the pending invitation's role is %q, want Developer", got)
	}

	// The mail: it names the team, carries the link the owner was shown,
	// and no API key.
	path := mailedPath(t, mp, devEmail, "/invitations/")
	if !strings.HasSuffix(shown, path) {
		t.Errorf("the mailed link's path %s is not the shown link %s", path, shown)
	}
	mails := mp.MessagesTo(t, devEmail)
	if len(mails) != 1 {
		t.Fatalf("%d mails to %s, want the invitation alone", len(mails), devEmail)
	}
	mail := mp.Message(t, mails[0].ID)
	if !strings.Contains(mail.Subject, "Acme") || !strings.Contains(mail.Text, "Acme") || !strings.Contains(mail.HTML, "Acme") {
		t.Errorf("the invitation mail does not name Acme: subject %q, text %q", mail.Subject, mail.Text)
	}
	if strings.Contains(mail.Text+mail.HTML, "kh_live_") {
		t.Error("the invitation mail contains kh_live_")
	}

	// The developer opens the link in a browser of their own, anonymous,
	// and signs up with a password alone: the address is the invitation's.
	dev := MustTab(t, a)
	dev.Do("open the invitation",
		chromedp.Navigate(a.URL+path),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invitation-signup-form"]`)),
	)
	if got := dev.Text(`h1`); got != "Join Acme" {
		t.Errorf("the invitation's heading is %q, want Join Acme", got)
	}
	attrs, err := chromedp.Run(dev.ctx, chromedp.Attributes(chromedp.CSS(`[data-testid="invitation-signup-form"] input[name="email"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, readonly := attrs["readonly"]; !readonly || attrs["value"] != devEmail {
		t.Errorf("the sign-up's email field is %v, want %s read-only", attrs, devEmail)
	}
	dev.Do("sign up through the link",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="invitation-signup-form"] input[name="password"]`), devPass),
		chromedp.Click(chromedp.CSS(`[data-testid="invitation-signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)
	if got := dev.Path(); got != "/dashboard" {
		t.Errorf("after accepting the developer is at %s, want /dashboard", got)
	}
	if got := dev.Text(`[role="alert"]`); !strings.Contains(got, "joined Acme") {
		t.Errorf("after accepting the alert says %q", got)
	}
	names, current := dev.switcherOptions()
	if current != "Acme" || len(names) != 2 {
		t.Errorf("the developer's switcher lists %q with %q current, want their personal account and Acme, Acme current", names, current)
	}
	if got := dev.Text(`[data-testid="account-role"]`); got != "Developer" {
		t.Errorf("the developer's role badge says %q", got)
	}
	// The inviter sees the link too, so following it proves no address:
	// the new user verifies as everyone does.
	if n := dev.Count(`[data-testid="verify-banner"]`); n != 1 {
		t.Error("signing up through an invitation marked the address verified: the inviter, who sees the link, could do the same")
	}
	dev.switchTo(devEmail)
	if got := dev.Text(`[data-testid="account-role"]`); got != "Owner" {
		t.Errorf("in their personal account the developer's role badge says %q, want Owner", got)
	}
	dev.switchTo("Acme")

	dev.Do("create a key in Acme",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Dev backend"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key"]`)),
	)
	keyID, ok := strings.CutPrefix(dev.Path(), "/keys/")
	if !ok || keyID == "" {
		t.Fatalf("the key-created page is at %s", dev.Path())
	}

	row := `[data-testid="key-row"][data-key-id="` + keyID + `"]`
	owner.Do("see the key in Acme's list",
		chromedp.Navigate(a.URL+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	if got := owner.Text(row + ` [data-testid="key-created-by"]`); got != "Created by "+devEmail {
		t.Errorf("the key's row says %q, want Created by %s", got, devEmail)
	}

	// The owner makes the developer a viewer on /team.
	owner.Do("open the team", chromedp.Navigate(a.URL+"/team"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="member-list"]`)))
	devID, err := chromedp.Run(owner.ctx, chromedp.Evaluate[string](`(() => {
		const r = [...document.querySelectorAll('[data-testid="member-row"]')].find(r => r.querySelector('[data-testid="member-email"]').textContent.trim() === `+jsString(devEmail)+`);
		return r ? r.dataset.userId : "";
	})()`))
	if err != nil || devID == "" {
		t.Fatalf("no member row for %s on /team (%v)", devEmail, err)
	}
	member := `[data-testid="member-row"][data-user-id="` + devID + `"]`
	if got := owner.Text(`[data-testid="invitations"]`); !strings.Contains(got, "No pending invitations") {
		t.Errorf("after the developer accepted, the invitations say %q", got)
	}
	owner.Do("make the developer a viewer",
		chromedp.SetValue(chromedp.CSS(member+` [data-testid="role-select"]`), "viewer"),
		chromedp.Click(chromedp.CSS(member+` [data-testid="role-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(member+`[data-role="viewer"]`)),
	)
	if got := owner.Text(`[role="alert"]`); !strings.Contains(got, "Role changed") {
		t.Errorf("after the role change the alert says %q", got)
	}

	// The viewer's next key creation is refused with the roles it needs.
	dev.Do("open the new-key form as a viewer",
		chromedp.Navigate(a.URL+"/keys/new"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "Viewer's key"),
	)
	resp, err := chromedp.RunResponse(dev.ctx, chromedp.Click(chromedp.CSS(`form[action="/keys"] button[type="submit"]`)))
	if err != nil {
		t.Fatalf("submitting the key as a viewer: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("a viewer's key creation answered %d, want 403", resp.Status)
	}
	dev.Do("see the refusal", chromedp.WaitVisible(chromedp.CSS(`[data-testid="form-error"]`)))
	if got := dev.Text(`[data-testid="form-error"]`); !strings.Contains(got, "owner, admin or developer") || !strings.Contains(got, "viewer") {
		t.Errorf("the refusal says %q, want the roles needed and theirs", got)
	}
	if n := dev.Count(`[data-testid="new-key"]`); n != 0 {
		t.Error("the refused page shows a new key")
	}
	if got := dev.Text(`[data-testid="account-role"]`); got != "Viewer" {
		t.Errorf("the demoted developer's role badge says %q", got)
	}
	owner.Do("count Acme's keys", chromedp.Navigate(a.URL+"/keys"), chromedp.WaitVisible(chromedp.CSS(row)))
	if n := owner.Count(`[data-testid="key-row"]`); n != 1 {
		t.Errorf("Acme has %d keys after the viewer's refused creation, want 1", n)
	}

	// The owner removes them, through the confirm dialog.
	asked := owner.acceptDialogs()
	owner.Do("remove the developer",
		chromedp.Navigate(a.URL+"/team"),
		chromedp.WaitVisible(chromedp.CSS(member)),
		chromedp.Click(chromedp.CSS(member+` [data-testid="remove-member"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(member)),
	)
	select {
	case q := <-asked:
		if !strings.HasPrefix(q, "confirm: ") || !strings.Contains(q, devEmail) || !strings.Contains(q, "Acme") {
			t.Errorf("removing asked %q, want a confirm naming the member and Acme", q)
		}
	default:
		t.Error("removing a member asked no confirmation")
	}
	if got := owner.Text(`[role="alert"]`); !strings.Contains(got, "Member removed") {
		t.Errorf("after removing the alert says %q", got)
	}
	if n := owner.Count(`[data-testid="member-row"]`); n != 1 {
		t.Errorf("Acme has %d members after the removal, want the owner alone", n)
	}

	// The developer's next request: Acme is gone, their personal account
	// is current.
	dev.Do("the next request", chromedp.Navigate(a.URL+"/team"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="member-list"]`)))
	if names, current := dev.switcherOptions(); len(names) != 1 || current != devEmail {
		t.Errorf("after the removal the developer's switcher lists %q with %q current, want only %s", names, current, devEmail)
	}
	if got := dev.Text(`h1`); got != "Team" {
		t.Errorf("the developer's /team heading is %q", got)
	}
	if got := dev.Text(`[data-testid="member-list"]`); !strings.Contains(got, devEmail) || strings.Contains(got, ownerEmail) {
		t.Errorf("the developer's /team lists %q, want their personal account's members (themself)", got)
	}
	if got := dev.Text(`[data-testid="account-role"]`); got != "Owner" {
		t.Errorf("after the removal the developer's role badge says %q, want Owner of their own account", got)
	}
	owner.CheckConsole()
	dev.CheckConsole()
}
