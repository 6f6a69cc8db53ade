package server_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/team"
)

// bravo is account B of TestTeamIsolation: an account none of A's users
// belong to, with data of its own that must never reach them.
type bravo struct {
	*teamFixture
	token string   // the link of its pending invitation
	data  []string // its key name, member and invitee emails, account name
}

// newBravo makes account B with text that appears nowhere else.
func newBravo(t *testing.T, h *harness, users *matrixUsers) *bravo {
	t.Helper()
	ctx := context.Background()
	fx := newTeamFixture(t, h, users, "Bravo Payroll Ltd")
	owner := audit.Actor{UserID: fx.founder, AccountID: fx.acct, Role: string(team.Owner)}
	// A second key and invitation whose name and email are B's alone
	// (the fixture's key is named after the account, its invitee after
	// its id).
	st, err := h.Keys.ParseForm(keys.Form{Name: "bravo-payroll-prod"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Keys.Create(ctx, owner, fx.acct, st); err != nil {
		t.Fatal(err)
	}
	token, _, _, err := h.Team.Invite(ctx, owner, "bravo-invitee@example.com", string(team.Admin))
	if err != nil {
		t.Fatal(err)
	}
	b := &bravo{teamFixture: fx, token: token, data: []string{"bravo-payroll-prod", "Bravo Payroll Ltd", "bravo-invitee@example.com", "pending-" + fx.acct}}
	for _, id := range []string{fx.founder, fx.viewer} {
		u, err := h.DB.UserByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b.data = append(b.data, u.Email)
	}
	return b
}

// isolationParams gives each path parameter B's value: :id is B's key,
// invitation, account or user by the route's prefix; :user_id B's
// viewer; :token B's invitation id (a link's token is not an id: the
// real link has a test of its own).
func isolationParams(path string, b *bravo) string {
	id := b.keyID
	switch {
	case strings.HasPrefix(path, "/team/invitations/"):
		id = b.invitation
	case strings.HasPrefix(path, "/admin/accounts/"):
		id = b.acct
	case strings.HasPrefix(path, "/admin/users/"):
		id = b.viewer
	case strings.HasPrefix(path, "/admin/events/"):
		id = "evt_bravo"
	case strings.HasPrefix(path, "/admin/webhooks/"):
		id = "we_bravo" // endpoints are the instance's: only operators reach them
	}
	return strings.NewReplacer(":id", id, ":delivery_id", "dlv_bravo", ":user_id", b.viewer, ":token", b.invitation, "*", "bravo.css").Replace(path)
}

// isolationAnswer is the status a member of A with role must get for a
// route that names B's resource in its path, and for POST /accounts/switch
// to B: 404, as for anything that does not exist, except where the role
// is refused before anything is looked up (the team routes check the role
// first, and say so in 403 whatever the id). 0: the route names nothing
// of B, so any answer but a server error will do.
func isolationAnswer(method, path string, role team.Role) int {
	if strings.HasPrefix(path, "/v1/") && strings.Contains(path, ":") {
		return http.StatusUnauthorized // the management API knows root keys, not sessions
	}
	if !strings.Contains(path, ":") && !strings.Contains(path, "*") && !(method == http.MethodPost && path == "/accounts/switch") {
		return 0
	}
	if method == http.MethodPost && strings.HasPrefix(path, "/team/") && !team.Can(role, team.ManageMembers) {
		return http.StatusForbidden
	}
	return http.StatusNotFound
}

// emailOffAnswers are the routes that answer 503 by design while email is
// off, as in these tests: the page says to ask the operator instead.
var emailOffAnswers = map[string]bool{"POST /account/email": true, "POST /password/forgot": true}

// TestTeamIsolation: the members of account A, in every role, reach
// nothing of account B through any route of the router: each GET and
// POST, with B's key, invitation, account and member ids as its path
// parameters and in its form (B's account_id for the switcher), answers
// 404 (or the role refusal the route gives whatever the id), leaves B's
// rows as they were, and never shows B's key names, member or invitee
// emails or name. B's invitation link, opened and accepted by a member of
// A who is not the invitee, is the wrong-user page (403) and changes
// nothing.
func TestTeamIsolation(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t)
			ctx := context.Background()
			users := newMatrixUsers(t, h)
			a := newTeamFixture(t, h, users, "Alpha Works")
			b := newBravo(t, h, users)
			members := map[team.Role]string{team.Owner: a.founder}
			for _, role := range team.Roles[1:] {
				id, email := users.user(t, string(role))
				join(t, h, a.acct, a.founder, id, email, role)
				members[role] = id
			}
			routes := h.Handler.(*server.Server).Routes()
			sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
			bFingerprint := fingerprint(t, h, b.acct)
			// What a form might carry to reach B, beside a valid request's
			// fields, so that a handler that took an id from the form
			// rather than the session would act on B.
			form := url.Values{"account_id": {b.acct}, "id": {b.keyID}, "key_id": {b.keyID}, "user_id": {b.viewer},
				"invitation_id": {b.invitation}, "name": {"from alpha"}, "role": {"viewer"}, "grace": {"0"}, "plan": {"pro"}}
			checked := 0
			for _, role := range team.Roles {
				userID := members[role]
				for _, r := range routes {
					if r.Method != http.MethodGet && r.Method != http.MethodPost {
						continue
					}
					path := isolationParams(r.Path, b)
					if strings.ContainsAny(path, ":*") {
						t.Fatalf("no value of B's for the parameters of %s %s: add one to isolationParams", r.Method, r.Path)
					}
					t.Run(string(role)+"/"+r.Method+" "+r.Path, func(t *testing.T) {
						// A fresh session each time: some routes end it
						// (logout), leave A or switch to a new account.
						ensureMember(t, h, a, userID, role)
						br, csrf := sessionBrowser(t, h, userID, a.acct)
						var p *page
						if r.Method == http.MethodGet {
							p = br.Get(path)
						} else {
							p = postForm(br, path, csrf, form)
						}
						want := isolationAnswer(r.Method, r.Path, role)
						switch {
						case want != 0 && p.StatusCode != want:
							t.Errorf("%s %s as A's %s: %d (Location %q), want %d", r.Method, path, role, p.StatusCode, p.Header.Get("Location"), want)
						case p.StatusCode >= 500 && !(p.StatusCode == http.StatusServiceUnavailable && emailOffAnswers[r.Method+" "+r.Path]):
							t.Errorf("%s %s as A's %s: %d", r.Method, path, role, p.StatusCode)
						}
						for _, s := range b.data {
							if strings.Contains(p.Body, s) || strings.Contains(p.Header.Get("Location"), s) {
								t.Errorf("%s %s as A's %s shows B's %q", r.Method, path, role, s)
							}
						}
						if got := fingerprint(t, h, b.acct); got != bFingerprint {
							t.Errorf("%s %s as A's %s changed account B:\nbefore\n%s\nafter\n%s", r.Method, path, role, bFingerprint, got)
							bFingerprint = got // so that the requests after it are judged on their own
						}
					})
					checked++
				}
			}
			if checked < 5*40 {
				t.Errorf("only %d requests made: is the route table read right?", checked)
			}

			// B's own invitation link, in the hands of A's members: the link
			// is for another address, so it is the wrong-user page and
			// accepting it changes nothing.
			for _, role := range team.Roles {
				t.Run("invitation link/"+string(role), func(t *testing.T) {
					userID := members[role]
					ensureMember(t, h, a, userID, role)
					br, csrf := sessionBrowser(t, h, userID, a.acct)
					path := "/invitations/" + b.token
					if p := br.Get(path); p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "This invitation is for someone else") {
						t.Errorf("B's link opened by A's %s: %d %q, want 403 and the wrong-user page", role, p.StatusCode, alert(p))
					}
					p := postForm(br, path, csrf, url.Values{})
					if p.StatusCode != http.StatusForbidden || !strings.Contains(p.Body, "This invitation is for someone else") {
						t.Errorf("B's link accepted by A's %s: %d %q, want 403 and the wrong-user page", role, p.StatusCode, alert(p))
					}
					if got := fingerprint(t, h, b.acct); got != bFingerprint {
						t.Errorf("accepting B's link as A's %s changed account B:\nbefore\n%s\nafter\n%s", role, bFingerprint, got)
					}
					if _, err := h.DB.Membership(ctx, b.acct, userID); err == nil {
						t.Errorf("A's %s became a member of B", role)
					}
				})
			}
		})
	}
}

// ensureMember makes userID a member of the fixture's account with role
// again, for after a route that took them out (leave).
func ensureMember(t *testing.T, h *harness, fx *teamFixture, userID string, role team.Role) {
	t.Helper()
	if _, err := h.DB.Membership(context.Background(), fx.acct, userID); err == nil {
		return
	}
	h.exec(`INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
		fx.acct, userID, string(role), time.Now().UTC())
}
