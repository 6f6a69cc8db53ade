package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

const testInviteLink = "https://keys.example.com/invitations/kh_inv_8Jt2c7VqYbXn4sLp0wRf"

// teamAccount is a signed-in user of three accounts, acting in Acme.
func teamAccount(role string) *Account {
	return &Account{ID: "acc_acme", Name: "Acme", Role: role, UserID: "usr_ada", Email: "ada@example.com", Plan: "Pro",
		Accounts: []AccountChoice{
			{ID: "acc_ada", Name: "Ada's projects", Role: roleOwner},
			{ID: "acc_acme", Name: "Acme", Role: role, Current: true},
			{ID: "acc_globex", Name: "Globex", Role: roleViewer},
		}}
}

func teamLayout(role string) Layout {
	l := testLayout("Team", "team", teamAccount(role))
	l.Now = testNow
	return l
}

var allRoles = []string{roleOwner, roleAdmin, roleDeveloper, roleBilling, roleViewer}

// testTeam is the team page as an owner sees it: three members (the owner
// themself, an admin and a developer they may change and remove) and two
// pending invitations.
func testTeam() TeamPage {
	return TeamPage{
		Layout: teamLayout(roleOwner), AccountName: "Acme", CanManage: true, InviteRoles: allRoles, EmailOn: true,
		Members: []MemberRow{
			{UserID: "usr_ada", Email: "ada@example.com", Role: roleOwner, Joined: testNow.AddDate(0, -3, 0), You: true},
			{UserID: "usr_grace", Email: "grace@example.com", Role: roleAdmin, Joined: testNow.AddDate(0, -1, 0), Roles: allRoles, CanRemove: true},
			{UserID: "usr_linus", Email: "linus@example.com", Role: roleDeveloper, Joined: testNow.AddDate(0, 0, -2), Roles: allRoles[1:], CanRemove: true},
		},
		Invitations: []InvitationRow{
			{ID: "inv_1", Email: "margaret@example.com", Role: roleDeveloper, InvitedBy: "ada@example.com", CreatedAt: testNow.Add(-time.Hour), ExpiresAt: testNow.Add(6 * 24 * time.Hour)},
			{ID: "inv_2", Email: "bills@example.com", Role: roleBilling, CreatedAt: testNow.AddDate(0, 0, -6), ExpiresAt: testNow.Add(20 * time.Hour)},
		},
	}
}

// testViewerTeam is the same team as a viewer sees it: nothing to change.
func testViewerTeam() TeamPage {
	p := testTeam()
	p.Layout = teamLayout(roleViewer)
	p.CanManage, p.InviteRoles = false, nil
	for i := range p.Members {
		p.Members[i].Roles, p.Members[i].CanRemove, p.Members[i].You = nil, false, false
	}
	return p
}

const testInvitationPath = "/invitations/kh_inv_8Jt2c7VqYbXn4sLp0wRf"

func testInvitation(state string, signedIn bool) InvitationPage {
	p := InvitationPage{
		Layout: testLayout("Invitation", "", nil), State: state, Path: testInvitationPath, AccountName: "Acme",
		Email: "margaret@example.com", Role: roleDeveloper, InvitedBy: "ada@example.com", ExpiresAt: testNow.Add(6 * 24 * time.Hour),
	}
	p.Now = testNow
	if signedIn {
		p.Account = teamAccount(roleOwner)
		p.SignedInAs = "margaret@example.com"
		if state == InvitationWrongUser {
			p.SignedInAs = "ada@example.com"
		}
	}
	return p
}

func testAdminUser() AdminUserPage {
	return AdminUserPage{
		Layout: adminLayout("grace@example.com"), UserID: "usr_grace", Email: "grace@example.com", IsAdmin: true, Verified: true,
		CreatedAt: testNow.AddDate(0, -2, 0), CanDemote: true, Audit: testAudit(),
		Accounts: []AdminMemberRow{
			{AccountID: "acc_acme", AccountName: "Acme", Role: roleAdmin, PlanName: "Pro", Joined: testNow.AddDate(0, -1, 0)},
			{AccountID: "acc_globex", AccountName: "Globex", Role: roleViewer, PlanName: "Free", Suspended: true},
		},
	}
}

// teamPages are renderings of every page of issue 13, for the checks every
// page gets (pages() in templates_test.go): head, CSP, and a CSRF token in
// each of its forms, which are counted.
func teamPages() []struct {
	name  string
	title string
	forms int
	c     templ.Component
} {
	blocked := testTeam()
	blocked.LeaveBlocked = "You are the only owner of Acme."
	withLink := testTeam()
	withLink.NewLink, withLink.NewLinkEmail, withLink.Mailed = testInviteLink, "margaret@example.com", true
	newAccount := NewAccountPage{Layout: testLayout("New account", "", teamAccount(roleOwner))}
	return []struct {
		name  string
		title string
		forms int
		c     templ.Component
	}{
		// switcher + log-out + invite + 2 × (role + remove) + 2 revoke + leave
		{"team owner", "Team · Keyhold", 10, Team(testTeam())},
		{"team owner with link", "Team · Keyhold", 10, Team(withLink)},
		{"team last owner", "Team · Keyhold", 9, Team(blocked)},
		{"team viewer", "Team · Keyhold", 3, Team(testViewerTeam())},
		{"invitation open signed in", "Invitation · Keyhold", 3, Invitation(testInvitation(InvitationOpen, true))},
		{"invitation open anonymous", "Invitation · Keyhold", 1, Invitation(testInvitation(InvitationOpen, false))},
		{"invitation wrong user", "Invitation · Keyhold", 2, Invitation(testInvitation(InvitationWrongUser, true))},
		{"invitation expired", "Invitation · Keyhold", 0, Invitation(testInvitation(InvitationExpired, false))},
		{"new account", "New account · Keyhold", 3, NewAccount(newAccount)},
		// log-out (adminLayout has no switcher) + demote + reset link
		{"admin user", "grace@example.com · Keyhold", 3, AdminUser(testAdminUser())},
	}
}

func TestAccountSwitcher(t *testing.T) {
	doc, _ := render(t, Team(testTeam()))
	form := doc.Find(`form[data-testid="account-switcher"]`)
	if form.Length() != 1 {
		t.Fatalf("%d account switchers, want 1", form.Length())
	}
	if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != "/accounts/switch" {
		t.Errorf("switcher is %s %s, want post /accounts/switch", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	if v := form.Find(`input[name="_csrf"]`).AttrOr("value", ""); v != testCSRF {
		t.Errorf("switcher _csrf = %q", v)
	}
	opts := form.Find(`select[name="account_id"] option`)
	var ids, selected []string
	opts.Each(func(_ int, o *goquery.Selection) {
		ids = append(ids, o.AttrOr("value", ""))
		if _, ok := o.Attr("selected"); ok {
			selected = append(selected, o.AttrOr("value", ""))
		}
	})
	if got := strings.Join(ids, " "); got != "acc_ada acc_acme acc_globex" {
		t.Errorf("options %q, want one per account in order", got)
	}
	if got := strings.Join(selected, " "); got != "acc_acme" {
		t.Errorf("selected %q, want the current account only", got)
	}
	if id := form.Find("select").AttrOr("id", ""); doc.Find(`label[for="`+id+`"]`).Length() != 1 {
		t.Error("the switcher's select has no label")
	}
	// Without script the button switches; app.js hides it.
	if form.Find(`button[type="submit"][data-auto-submit-button]`).Length() != 1 {
		t.Error("no submit button for pages without script")
	}
	if _, ok := form.Attr("data-auto-submit"); !ok {
		t.Error("the switcher does not submit on change")
	}
	if got := doc.Find(`[data-testid="account-role"]`).Text(); got != "Owner" {
		t.Errorf("role badge %q, want Owner", got)
	}
	if doc.Find(`header a[href="/accounts/new"]`).Length() != 1 {
		t.Error("no New account link in the header")
	}
	if doc.Find(`nav[data-testid="nav"] a[href="/team"][data-nav="team"][aria-current="page"]`).Length() != 1 {
		t.Error("no current Team item in the nav")
	}
}

func TestAccountSwitcherNeedsAccounts(t *testing.T) {
	tests := []struct {
		name     string
		account  *Account
		switcher bool // the form is there
		nameText string
	}{
		{"no accounts given", testAccount(false), false, ""},
		{"only a name", &Account{ID: "acc_1", Name: "Acme", Role: roleViewer, Email: "ada@example.com"}, false, "Acme"},
		{"one account", &Account{ID: "acc_1", Name: "Acme", Email: "ada@example.com", Accounts: []AccountChoice{{ID: "acc_1", Name: "Acme", Current: true}}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", tt.account)}))
			if got := doc.Find(`[data-testid="account-switcher"]`).Length() == 1; got != tt.switcher {
				t.Errorf("switcher shown = %v, want %v", got, tt.switcher)
			}
			if got := doc.Find(`[data-testid="account-name"]`).Text(); got != tt.nameText {
				t.Errorf("account name %q, want %q", got, tt.nameText)
			}
			if got := doc.Find(`a[href="/accounts/new"]`).Length() == 1; got != (tt.switcher || tt.nameText != "") {
				t.Errorf("New account link shown = %v", got)
			}
		})
	}
}

func TestTeamMemberRows(t *testing.T) {
	p := testTeam()
	doc, _ := render(t, Team(p))
	rows := doc.Find(`[data-testid="member-row"]`)
	if rows.Length() != len(p.Members) {
		t.Fatalf("%d member rows, want %d", rows.Length(), len(p.Members))
	}
	rows.Each(func(i int, row *goquery.Selection) {
		m := p.Members[i]
		if got := row.AttrOr("data-user-id", ""); got != m.UserID {
			t.Errorf("row %d: data-user-id %q, want %q", i, got, m.UserID)
		}
		if got := row.AttrOr("data-role", ""); got != m.Role {
			t.Errorf("row %d: data-role %q, want %q", i, got, m.Role)
		}
		if got := row.Find(`[data-testid="member-email"]`).Text(); got != m.Email {
			t.Errorf("row %d: email %q", i, got)
		}
		if got := row.Find(`[data-testid="member-you"]`).Length() == 1; got != m.You {
			t.Errorf("row %d: You marker = %v, want %v", i, got, m.You)
		}
		roleForm := row.Find(`form[action="/team/members/` + m.UserID + `/role"][method="post"]`)
		if len(m.Roles) == 0 {
			if row.Find("select").Length() != 0 || roleForm.Length() != 0 {
				t.Errorf("row %d: a role select for a member the viewer cannot change", i)
			}
			if got := row.Find(`[data-testid="member-role"]`).Text(); got != roleLabel(m.Role) {
				t.Errorf("row %d: role badge %q", i, got)
			}
		} else {
			var values, selected []string
			roleForm.Find(`select[name="role"] option`).Each(func(_ int, o *goquery.Selection) {
				values = append(values, o.AttrOr("value", ""))
				if _, ok := o.Attr("selected"); ok {
					selected = append(selected, o.AttrOr("value", ""))
				}
			})
			if strings.Join(values, " ") != strings.Join(m.Roles, " ") {
				t.Errorf("row %d: role options %q, want %q", i, values, m.Roles)
			}
			if strings.Join(selected, " ") != m.Role {
				t.Errorf("row %d: selected %q, want %q", i, selected, m.Role)
			}
			if roleForm.Find(`button[type="submit"]`).Length() != 1 {
				t.Errorf("row %d: no Save button", i)
			}
		}
		remove := row.Find(`form[action="/team/members/` + m.UserID + `/remove"][method="post"]`)
		if got := remove.Length() == 1; got != m.CanRemove {
			t.Errorf("row %d: remove form = %v, want %v", i, got, m.CanRemove)
		}
		if m.CanRemove && !strings.Contains(remove.AttrOr("data-confirm", ""), m.Email) {
			t.Errorf("row %d: remove is not confirmed naming %s", i, m.Email)
		}
	})
}

func TestTeamWhatTheViewerMayDo(t *testing.T) {
	tests := []struct {
		name   string
		p      TeamPage
		manage bool
	}{
		{"owner", testTeam(), true},
		{"viewer", testViewerTeam(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Team(tt.p))
			invite := doc.Find(`form[action="/team/invitations"][method="post"]`)
			if got := invite.Length() == 1; got != tt.manage {
				t.Fatalf("invite form = %v, want %v", got, tt.manage)
			}
			if tt.manage {
				if invite.Find(`input[name="email"][type="email"]`).Length() != 1 {
					t.Error("the invite form has no email input")
				}
				var roles []string
				invite.Find(`select[name="role"] option`).Each(func(_ int, o *goquery.Selection) { roles = append(roles, o.AttrOr("value", "")) })
				if strings.Join(roles, " ") != strings.Join(tt.p.InviteRoles, " ") {
					t.Errorf("invite roles %q, want %q", roles, tt.p.InviteRoles)
				}
				if got := invite.Find(`option[selected]`).AttrOr("value", ""); got != roleDeveloper {
					t.Errorf("invite preselects %q, want developer", got)
				}
			}
			rows := doc.Find(`[data-testid="invitation-row"]`)
			if rows.Length() != len(tt.p.Invitations) {
				t.Fatalf("%d invitation rows, want %d", rows.Length(), len(tt.p.Invitations))
			}
			for i, inv := range tt.p.Invitations {
				row := rows.Eq(i)
				if got := row.Find(`[data-testid="invitation-email"]`).Text(); got != inv.Email {
					t.Errorf("invitation %d: email %q", i, got)
				}
				if got := row.Find(`[data-testid="invitation-expires"]`).AttrOr("datetime", ""); got != machineTime(inv.ExpiresAt) {
					t.Errorf("invitation %d: expires datetime %q", i, got)
				}
				revoke := row.Find(`form[action="/team/invitations/` + inv.ID + `/revoke"][method="post"]`)
				if got := revoke.Length() == 1; got != tt.manage {
					t.Errorf("invitation %d: revoke form = %v, want %v", i, got, tt.manage)
				}
			}
			if !tt.manage && doc.Find(`main select`).Length() != 0 {
				t.Error("a viewer sees a select in the page")
			}
		})
	}
}

func TestTeamInvitationsEmpty(t *testing.T) {
	p := testTeam()
	p.Invitations = nil
	doc, _ := render(t, Team(p))
	if doc.Find(`[data-testid="invitations-empty"]`).Length() != 1 || doc.Find(`[data-testid="invitation-row"]`).Length() != 0 {
		t.Error("no empty state for no pending invitations")
	}
}

func TestTeamInviteLink(t *testing.T) {
	tests := []struct {
		name            string
		link            string
		emailOn, mailed bool
		note            string // in the note under the link's title
	}{
		{"none", "", true, false, ""},
		{"mailed", testInviteLink, true, true, "We emailed this link to margaret@example.com"},
		{"email off", testInviteLink, false, false, "Email is not set up"},
		{"mail failed", testInviteLink, true, false, "could not be sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testTeam()
			p.NewLink, p.NewLinkEmail, p.EmailOn, p.Mailed = tt.link, "margaret@example.com", tt.emailOn, tt.mailed
			doc, _ := render(t, Team(p))
			box := doc.Find(`[data-testid="invite-link"]`)
			if tt.link == "" {
				if box.Length() != 0 || doc.Find(`[data-testid="invite-created"]`).Length() != 0 {
					t.Error("an invite link without a new invitation")
				}
				return
			}
			if box.Length() != 1 || box.Text() != tt.link {
				t.Fatalf("invite link %q, want %q", box.Text(), tt.link)
			}
			id := box.AttrOr("id", "")
			if doc.Find(`button[data-copy-target="`+id+`"]`).Length() != 1 {
				t.Error("no copy button for the link")
			}
			if got := doc.Find(`[data-testid="invite-link-note"]`).Text(); !strings.Contains(got, tt.note) {
				t.Errorf("note %q, want it to contain %q", got, tt.note)
			}
			// A reload of the answer to the POST must not invite again.
			if got := doc.Find(`[data-replace-url]`).AttrOr("data-replace-url", ""); got != "/team" {
				t.Errorf("data-replace-url %q, want /team", got)
			}
		})
	}
}

func TestTeamInviteErrors(t *testing.T) {
	p := testTeam()
	p.Invite = InviteForm{Email: "grace@example", Role: roleViewer, Error: "Could not invite.", Fields: map[string]string{"email": "Enter an email address.", "role": "Pick a role."}}
	doc, _ := render(t, Team(p))
	form := doc.Find(`form[action="/team/invitations"]`)
	if got := strings.TrimSpace(form.Find(`[data-testid="form-error"] [role="alert"]`).Text()); got != "Could not invite." {
		t.Errorf("form error %q", got)
	}
	checkFieldError(t, doc, form, "email", "Enter an email address.")
	if got := form.Find(`input[name="email"]`).AttrOr("value", ""); got != "grace@example" {
		t.Errorf("email not kept: %q", got)
	}
	sel := form.Find(`select[name="role"]`)
	if sel.AttrOr("aria-invalid", "") != "true" || !strings.Contains(doc.Find("#"+sel.AttrOr("aria-describedby", "none")).Text(), "Pick a role.") {
		t.Error("the role error is not tied to the select")
	}
	if got := sel.Find(`option[selected]`).AttrOr("value", ""); got != roleViewer {
		t.Errorf("role not kept: %q", got)
	}
	if _, ok := form.Find(`input[name="email"]`).Attr("autofocus"); !ok {
		t.Error("the first invalid field has no autofocus")
	}
}

func TestTeamSeats(t *testing.T) {
	tests := []struct {
		name       string
		max, seats int
		plan       string
		want       string
		full       bool
	}{
		{"no limit", 0, 3, "Free", "", false},
		{"room", 5, 3, "Pro", "3 of 5 seats on the Pro plan", false},
		{"one seat", 1, 0, "", "0 of 1 seat", false},
		{"full", 5, 5, "Pro", "5 of 5 seats on the Pro plan", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testTeam()
			p.MaxMembers, p.Seats, p.PlanName = tt.max, tt.seats, tt.plan
			if got := seatsLine(p); got != tt.want {
				t.Errorf("seatsLine = %q, want %q", got, tt.want)
			}
			doc, _ := render(t, Team(p))
			if got := doc.Find(`[data-testid="seats"]`).Text(); got != tt.want {
				t.Errorf("seats shown %q, want %q", got, tt.want)
			}
			if got := doc.Find(`[data-testid="seats-full"]`).Length() == 1; got != tt.full {
				t.Errorf("seats-full note = %v, want %v", got, tt.full)
			}
		})
	}
}

func TestTeamLeave(t *testing.T) {
	for _, blocked := range []string{"", "You are the only owner of Acme. Make someone else an owner first."} {
		p := testTeam()
		p.LeaveBlocked = blocked
		doc, _ := render(t, Team(p))
		form := doc.Find(`form[action="/team/leave"][method="post"]`)
		if blocked == "" {
			if form.Length() != 1 || !strings.Contains(form.AttrOr("data-confirm", ""), "Acme") {
				t.Error("no confirmed leave form")
			}
			continue
		}
		if form.Length() != 0 {
			t.Error("a leave form for the last owner")
		}
		if got := doc.Find(`[data-testid="leave-blocked"]`).Text(); got != blocked {
			t.Errorf("leave blocked says %q", got)
		}
	}
}

func TestInvitationStates(t *testing.T) {
	tests := []struct {
		name     string
		p        InvitationPage
		form     string // the data-testid of the form posting to Path; "": none
		message  []string
		nextLink string // where a closed invitation sends the viewer
	}{
		{"open signed in", testInvitation(InvitationOpen, true), "accept-form", []string{"Join Acme", "Join as Developer"}, ""},
		{"open anonymous", testInvitation(InvitationOpen, false), "invitation-signup-form", []string{"Join Acme", "margaret@example.com"}, ""},
		{"wrong user", testInvitation(InvitationWrongUser, true), "", []string{"for margaret@example.com", "signed in as ada@example.com", "log out"}, "/dashboard"},
		{"accepted", testInvitation(InvitationAccepted, true), "", []string{"used already"}, "/dashboard"},
		{"accepted anonymous", testInvitation(InvitationAccepted, false), "", []string{"used already"}, "/login"},
		{"expired", testInvitation(InvitationExpired, false), "", []string{"expired", "Ask ada@example.com"}, "/login"},
		{"revoked", testInvitation(InvitationRevoked, false), "", []string{"withdrawn"}, "/login"},
		{"unknown", testInvitation(InvitationUnknown, false), "", []string{"does not work"}, "/login"},
		{"unknown signed in", testInvitation(InvitationUnknown, true), "", []string{"does not work"}, "/dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Invitation(tt.p))
			card := doc.Find(`[data-testid="invitation"]`)
			if got := card.AttrOr("data-state", ""); got != tt.p.State {
				t.Errorf("data-state %q, want %q", got, tt.p.State)
			}
			text := strings.Join(strings.Fields(card.Text()), " ")
			for _, m := range tt.message {
				if !strings.Contains(text, m) {
					t.Errorf("page says %q, want it to contain %q", text, m)
				}
			}
			forms := doc.Find(`form[action="` + testInvitationPath + `"]`)
			if tt.form == "" {
				if forms.Length() != 0 || card.Find("form").Length() != 0 {
					t.Errorf("%d forms in a closed invitation", card.Find("form").Length())
				}
				if got := card.Find(`[data-testid="invitation-next"]`).AttrOr("href", ""); got != tt.nextLink {
					t.Errorf("next link %q, want %q", got, tt.nextLink)
				}
				return
			}
			if forms.Length() != 1 || forms.AttrOr("data-testid", "") != tt.form || forms.AttrOr("method", "") != "post" {
				t.Fatalf("want one %s posting to %s", tt.form, testInvitationPath)
			}
			if forms.Find(`input[name="_csrf"]`).AttrOr("value", "") != testCSRF {
				t.Error("the form has no CSRF token")
			}
			if forms.Find(`button[type="submit"]`).Length() != 1 {
				t.Error("no submit button")
			}
		})
	}
}

func TestInvitationShell(t *testing.T) {
	for _, signedIn := range []bool{false, true} {
		doc, _ := render(t, Invitation(testInvitation(InvitationOpen, signedIn)))
		if got := doc.Find(`nav[data-testid="nav"]`).Length() == 1; got != signedIn {
			t.Errorf("signed in %v: app shell = %v", signedIn, got)
		}
	}
}

// TestInvitationSignUpOrLogIn: an anonymous visitor gets the sign-up form
// for the invited email, or the log-in form when a user has it; both post
// to the invitation's own link, and no other URL carries its token.
func TestInvitationSignUpOrLogIn(t *testing.T) {
	for _, hasUser := range []bool{false, true} {
		p := testInvitation(InvitationOpen, false)
		p.HasUser = hasUser
		p.Error, p.Fields = "Could not sign up.", map[string]string{"password": "Use at least 10 characters."}
		doc, body := render(t, Invitation(p))
		formID, autocomplete := "invitation-signup-form", "new-password"
		if hasUser {
			formID, autocomplete = "invitation-login-form", "current-password"
		}
		form := doc.Find(`form[data-testid="` + formID + `"][action="` + testInvitationPath + `"]`)
		if form.Length() != 1 {
			t.Fatalf("HasUser %v: no %s posting to the invitation", hasUser, formID)
		}
		if doc.Find(`form[data-testid="invitation-signup-form"]`).Length()+doc.Find(`form[data-testid="invitation-login-form"]`).Length() != 1 {
			t.Errorf("HasUser %v: not exactly one of the two forms", hasUser)
		}
		email := form.Find(`input[name="email"]`)
		if email.AttrOr("value", "") != "margaret@example.com" || email.AttrOr("type", "") != "email" {
			t.Errorf("email input %q", email.AttrOr("value", ""))
		}
		if _, ok := email.Attr("readonly"); !ok {
			t.Error("the invited email can be edited")
		}
		pw := form.Find(`input[name="password"]`)
		if pw.AttrOr("type", "") != "password" || pw.AttrOr("autocomplete", "") != autocomplete {
			t.Errorf("the password input is not a %s", autocomplete)
		}
		if !hasUser && pw.AttrOr("minlength", "") != "10" {
			t.Error("the new password has no minimum of 10")
		}
		if got := form.Find(`input[name="intent"]`).AttrOr("value", ""); got != map[bool]string{true: "login"}[hasUser] {
			t.Errorf("HasUser %v: intent %q", hasUser, got)
		}
		checkFieldError(t, doc, form, "password", "Use at least 10 characters.")
		if got := strings.TrimSpace(doc.Find(`[data-testid="form-error"]`).Text()); got != "Could not sign up." {
			t.Errorf("form error %q", got)
		}
		if strings.Count(body, "kh_inv_8Jt2c7VqYbXn4sLp0wRf") != 1 {
			t.Errorf("HasUser %v: the token appears %d times, want once (the form's action)", hasUser, strings.Count(body, "kh_inv_8Jt2c7VqYbXn4sLp0wRf"))
		}
	}
}

func TestNewAccount(t *testing.T) {
	p := NewAccountPage{Layout: testLayout("New account", "", teamAccount(roleOwner)), Name: "Ac", Error: "Could not create it.", Fields: map[string]string{"name": "Use at least 3 characters."}}
	doc, _ := render(t, NewAccount(p))
	form := doc.Find(`form[action="/accounts"][method="post"]`)
	if form.Length() != 1 {
		t.Fatal("no form posting to /accounts")
	}
	if got := form.Find(`input[name="name"]`).AttrOr("value", ""); got != "Ac" {
		t.Errorf("name kept as %q", got)
	}
	checkFieldError(t, doc, form, "name", "Use at least 3 characters.")
	if got := strings.TrimSpace(form.Find(`[data-testid="form-error"]`).Text()); got != "Could not create it." {
		t.Errorf("form error %q", got)
	}
}

func TestAdminUser(t *testing.T) {
	p := testAdminUser()
	doc, _ := render(t, AdminUser(p))
	rows := doc.Find(`[data-testid="user-account-row"]`)
	if rows.Length() != len(p.Accounts) {
		t.Fatalf("%d account rows, want %d", rows.Length(), len(p.Accounts))
	}
	for i, a := range p.Accounts {
		row := rows.Eq(i)
		if row.Find(`a[href="/admin/accounts/`+a.AccountID+`"]`).Text() != a.AccountName {
			t.Errorf("row %d does not link %s to its account", i, a.AccountName)
		}
		if got := row.Find(`[data-testid="user-account-role"]`).Text(); got != roleLabel(a.Role) {
			t.Errorf("row %d: role %q", i, got)
		}
		if got := row.Find(`[data-testid="account-suspended"]`).Length() == 1; got != a.Suspended {
			t.Errorf("row %d: suspended badge = %v", i, got)
		}
	}
	if doc.Find(`[data-testid="user-operator"]`).Length() != 1 || doc.Find(`[data-testid="user-verified"]`).Length() != 1 {
		t.Error("no operator or verified badge")
	}
	if got := doc.Find(`form[action="/admin/users/usr_grace/reset-link"][method="post"]`).Length(); got != 1 {
		t.Errorf("%d reset-link forms", got)
	}
	if got := doc.Find(`[data-testid="audit-row"]`).Length(); got != len(p.Audit) {
		t.Errorf("%d audit rows, want %d", got, len(p.Audit))
	}
}

func TestAdminUserOperatorRole(t *testing.T) {
	tests := []struct {
		name                 string
		admin, canDemote     bool
		self                 bool
		action               string // the operator form's; "": none
		disabled             bool
		confirmHas, stateHas string
	}{
		{"not an operator", false, true, false, "/admin/users/usr_grace/promote", false, "Make grace@example.com an operator", "Not an operator"},
		{"operator", true, true, false, "/admin/users/usr_grace/demote", false, "Remove the operator role of grace@example.com", "Operators see"},
		{"self", true, true, true, "/admin/users/usr_grace/demote", false, "your own operator role", "Operators see"},
		{"last operator", true, false, true, "", true, "", "The only operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testAdminUser()
			p.IsAdmin, p.CanDemote, p.Self = tt.admin, tt.canDemote, tt.self
			doc, _ := render(t, AdminUser(p))
			actions := doc.Find(`[data-testid="user-operator-actions"]`)
			forms := actions.Find("form")
			if tt.action == "" {
				if forms.Length() != 0 {
					t.Errorf("%d operator forms, want none", forms.Length())
				}
			} else {
				if forms.Length() != 1 || forms.AttrOr("action", "") != tt.action {
					t.Fatalf("operator form %q, want %s", forms.AttrOr("action", ""), tt.action)
				}
				if !strings.Contains(forms.AttrOr("data-confirm", ""), tt.confirmHas) {
					t.Errorf("confirm %q, want %q in it", forms.AttrOr("data-confirm", ""), tt.confirmHas)
				}
			}
			_, disabled := actions.Find(`button[data-testid="demote"]`).Attr("disabled")
			if disabled != tt.disabled {
				t.Errorf("demote disabled = %v, want %v", disabled, tt.disabled)
			}
			if got := actions.Find(`[data-testid="operator-state"]`).Text(); !strings.Contains(got, tt.stateHas) {
				t.Errorf("state %q, want %q in it", got, tt.stateHas)
			}
		})
	}
}

func TestAdminAccountMembers(t *testing.T) {
	members := []AdminMemberRow{
		{UserID: "usr_ada", Email: "ada@example.com", Role: roleOwner, Joined: testNow},
		{UserID: "usr_grace", Email: "grace@example.com", Role: roleDeveloper},
	}
	doc, _ := render(t, AdminAccount(AdminAccountPage{Layout: adminLayout("Acme"),
		Account: AdminAccountRow{ID: "acc_2", Name: "Acme", Email: "ada@example.com", PlanName: "Free"}, Members: members}))
	rows := doc.Find(`[data-testid="admin-member-row"]`)
	if rows.Length() != len(members) {
		t.Fatalf("%d member rows, want %d", rows.Length(), len(members))
	}
	for i, m := range members {
		row := rows.Eq(i)
		if row.Find(`a[href="/admin/users/`+m.UserID+`"]`).Text() != m.Email {
			t.Errorf("row %d does not link %s to the user", i, m.Email)
		}
		if row.AttrOr("data-role", "") != m.Role || row.Find(`[data-testid="admin-member-role"]`).Text() != roleLabel(m.Role) {
			t.Errorf("row %d: role not shown", i)
		}
	}
	if got := doc.Find(`h1[data-testid="account-name"]`).Text(); got != "Acme" {
		t.Errorf("heading %q, want the account's name", got)
	}
	if got := doc.Find(`main [data-testid="account-email"]`).Text(); got != "ada@example.com" {
		t.Errorf("owner email %q", got)
	}

	empty, _ := render(t, AdminAccount(AdminAccountPage{Layout: adminLayout("Acme"), Account: AdminAccountRow{ID: "acc_2", Email: "ada@example.com"}}))
	if empty.Find(`[data-testid="account-members"] [data-testid="admin-empty"]`).Length() != 1 {
		t.Error("no empty state without members")
	}
}

func TestAdminAccountsRowName(t *testing.T) {
	tests := []struct {
		name    string
		row     AdminAccountRow
		primary string // the name link's text
		members string
	}{
		{"named", AdminAccountRow{ID: "acc_1", Name: "Acme", Email: "ada@example.com", Members: 3}, "Acme", "3 members"},
		{"one member", AdminAccountRow{ID: "acc_1", Name: "Acme", Email: "ada@example.com", Members: 1}, "Acme", "1 member"},
		{"no name yet", AdminAccountRow{ID: "acc_1", Email: "ada@example.com"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, AdminAccounts(AdminAccountsPage{Layout: adminLayout("Accounts"), Accounts: []AdminAccountRow{tt.row}}))
			row := doc.Find(`[data-testid="account-row"]`)
			if got := row.Find(`[data-testid="account-name"]`).Text(); got != tt.primary {
				t.Errorf("name %q, want %q", got, tt.primary)
			}
			email := row.Find(`a[data-testid="account-email"]`)
			if email.Text() != tt.row.Email || email.AttrOr("href", "") != "/admin/accounts/acc_1" {
				t.Errorf("email %q links to %q", email.Text(), email.AttrOr("href", ""))
			}
			if got := row.Find(`[data-testid="account-members"]`).Text(); got != tt.members {
				t.Errorf("members %q, want %q", got, tt.members)
			}
		})
	}
}

func TestKeysShowWhoCreatedThem(t *testing.T) {
	keys := testKeys()
	keys[0].CreatedBy = "grace@example.com"
	detail := testDetail()
	detail.Key.CreatedBy = "grace@example.com"
	plain := testDetail()
	tests := []struct {
		name string
		c    templ.Component
		want []string // the created-by texts, in order
	}{
		{"keys list", KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: keys, Plan: testPlan}), []string{"Created by grace@example.com"}},
		{"dashboard", Dashboard(DashboardPage{Layout: keysLayout("Dashboard"), Keys: keys, Plan: testPlan}), []string{"Created by grace@example.com"}},
		{"key detail", KeyDetail(detail), []string{"by grace@example.com"}},
		{"key detail unknown", KeyDetail(plain), nil},
		{"keys list unknown", KeysList(KeysPage{Layout: keysLayout("API keys"), Keys: testKeys(), Plan: testPlan}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, tt.c)
			var got []string
			doc.Find(`[data-testid="key-created-by"]`).Each(func(_ int, s *goquery.Selection) {
				got = append(got, strings.TrimSpace(s.Text()))
			})
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("created by %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTeamStringsAreEscaped(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	p := testTeam()
	p.Account.Accounts[1].Name = evil
	p.Members[1].Email = evil
	p.Invitations[0].InvitedBy = evil
	p.NewLink, p.NewLinkEmail = testInviteLink, evil
	inv := testInvitation(InvitationOpen, false)
	inv.AccountName, inv.InvitedBy = evil, evil
	for name, c := range map[string]templ.Component{"team": Team(p), "invitation": Invitation(inv)} {
		t.Run(name, func(t *testing.T) {
			doc, html := render(t, c)
			if strings.Contains(html, evil) {
				t.Fatal("raw <script> in output")
			}
			if doc.Find("script").Length() != 1 {
				t.Errorf("%d script elements, want only app.js", doc.Find("script").Length())
			}
		})
	}
}

func TestTimeLeft(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Hour, "now"},
		{0, "now"},
		{30 * time.Second, "in 1 minute"},
		{5 * time.Minute, "in 5 minutes"},
		{time.Hour, "in 1 hour"},
		{23 * time.Hour, "in 23 hours"},
		{30 * time.Hour, "tomorrow"},
		{6*24*time.Hour + time.Hour, "in 6 days"},
		{7*24*time.Hour - time.Second, "in 7 days"},
		{48 * time.Hour, "in 2 days"},
	}
	for _, tt := range tests {
		if got := timeLeft(testNow.Add(tt.in), testNow); got != tt.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoleLabels(t *testing.T) {
	for _, r := range allRoles {
		if l := roleLabel(r); l == r || l == "" {
			t.Errorf("role %q has no label", r)
		}
		if roleSummary(r) == "" {
			t.Errorf("role %q has no summary", r)
		}
	}
	if got := roleLabel("auditor"); got != "auditor" {
		t.Errorf("unknown role shown as %q", got)
	}
}
