package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/team"
)

// notAccountScoped are the state-changing routes that do not act in the
// session's current account, each with the reason; TestRoleMatrix covers
// every other one, so a new route is either in its table or listed here.
var notAccountScoped = map[string]string{
	"POST /signup":                               "makes a user and their own account; no session",
	"POST /login":                                "starts a session; no account is acted in",
	"POST /logout":                               "ends the user's own session",
	"POST /accounts/switch":                      "picks among the user's own memberships (TestTeamIsolation: not another's)",
	"POST /accounts":                             "makes a new account the user owns",
	"POST /account/password":                     "the user's own password",
	"POST /account/email":                        "the user's own address",
	"POST /email/verify":                         "mails the user's own verification link",
	"POST /account/notices":                      "the user's own notice mail preferences",
	"POST /notices/:id/dismiss":                  "hides a banner for the user alone, changing nothing of the account; another account's notice is 404 (notices_test.go)",
	"POST /email/verify/:token":                  "a mailed link; the token is the credential",
	"POST /email/change/:token":                  "a mailed link; the token is the credential",
	"POST /password/forgot":                      "public; answers the same whoever asks",
	"POST /password/reset/:token":                "a mailed link; the token is the credential",
	"POST /invitations/:token":                   "joins the account of the link; the token and the invited email decide",
	"POST /webhooks/stripe":                      "Stripe's signature is the credential",
	"POST /v1/verify":                            "the API; the key is the credential",
	"POST /v1/tokens":                            "the API; the key is the credential",
	"POST /v1/accounts":                          "the management API: a root key's permission decides (api_accounts_test.go)",
	"PATCH /v1/accounts/:id":                     "the management API: a root key's permission decides (api_accounts_test.go)",
	"POST /v1/accounts/:id/keys":                 "the management API: a root key's permission decides (api_keys_test.go)",
	"PATCH /v1/keys/:id":                         "the management API: a root key's permission decides (api_keys_test.go)",
	"POST /v1/keys/:id/revoke":                   "the management API: a root key's permission decides (api_keys_test.go)",
	"POST /v1/keys/:id/rotate":                   "the management API: a root key's permission decides (api_keys_test.go)",
	"POST /v1/webhook_endpoints":                 "the management API: webhooks.write decides; endpoints are the instance's, no account's (api_webhooks_test.go)",
	"PATCH /v1/webhook_endpoints/:id":            "the management API: webhooks.write decides; endpoints are the instance's, no account's (api_webhooks_test.go)",
	"DELETE /v1/webhook_endpoints/:id":           "the management API: webhooks.write decides; endpoints are the instance's, no account's (api_webhooks_test.go)",
	"POST /v1/webhook_endpoints/:id/roll_secret": "the management API: webhooks.write decides; endpoints are the instance's, no account's (api_webhooks_test.go)",
	"POST /v1/webhook_endpoints/:id/test":        "the management API: webhooks.write decides; endpoints are the instance's, no account's (api_webhooks_test.go)",
}

// operatorOnly reports whether a route is the operator console's, which
// answers 404 to everyone but operators whatever their role in an account
// (admin_test.go covers it).
func operatorOnly(path string) bool { return path == "/admin" || strings.HasPrefix(path, "/admin/") }

// matrixCase is one state-changing request in the current account.
type matrixCase struct {
	name  string // the subtest's name: the route, and what differs
	route string // method and path as the router has it
	// need are the actions the request takes; the role must be allowed
	// each. None: any member may (leaving).
	need []team.Action
	// ownerTarget points :user_id at the account's founding owner
	// instead of its viewer.
	ownerTarget bool
	form        url.Values
	// setup prepares the fixture further, before the fingerprint.
	setup func(t *testing.T, h *harness, fx *teamFixture)
	// unchanged, when not nil, checks the answer of an allowed request
	// that legitimately changes no row.
	unchanged func(t *testing.T, p *page)
}

// matrixCases are every state-changing route that acts in the current
// account, with the role-table action it takes.
var matrixCases = []matrixCase{
	{route: "POST /keys", need: []team.Action{team.ManageKeys}, form: url.Values{"name": {"made in the matrix"}}},
	{route: "POST /keys/:id", need: []team.Action{team.ManageKeys}, form: url.Values{"name": {"renamed"}, "scopes": {"read"}}},
	{route: "POST /keys/:id/revoke", need: []team.Action{team.ManageKeys}},
	{route: "POST /keys/:id/rotate", need: []team.Action{team.ManageKeys}, form: url.Values{"grace": {"0"}}},
	{route: "POST /keys/:id/expire-old-secret", need: []team.Action{team.ManageKeys}},
	{route: "POST /billing/checkout", need: []team.Action{team.ManageBilling}, form: url.Values{"plan": {"pro"}}},
	{route: "POST /billing/portal", need: []team.Action{team.ManageBilling},
		setup: func(t *testing.T, h *harness, fx *teamFixture) {
			if _, err := h.DB.SetCustomerID(context.Background(), fx.acct, "cus_"+fx.acct); err != nil {
				t.Fatal(err)
			}
		},
		// The portal changes nothing of ours: it sends the browser to
		// Stripe.
		unchanged: func(t *testing.T, p *page) {
			if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "https://") {
				t.Errorf("portal: %d %q, want 303 to Stripe", p.StatusCode, p.Header.Get("Location"))
			}
		}},
	{route: "POST /team/invitations", need: []team.Action{team.ManageMembers}, form: url.Values{"email": {"new@example.com"}, "role": {"developer"}}},
	{route: "POST /team/invitations/:id/revoke", need: []team.Action{team.ManageMembers}},
	{route: "POST /team/members/:user_id/role", need: []team.Action{team.ManageMembers}, form: url.Values{"role": {"developer"}}},
	{name: "POST /team/members/:user_id/role of an owner", route: "POST /team/members/:user_id/role", ownerTarget: true,
		need: []team.Action{team.ManageMembers, team.ManageOwners}, form: url.Values{"role": {"admin"}}},
	{route: "POST /team/members/:user_id/remove", need: []team.Action{team.ManageMembers}},
	{name: "POST /team/members/:user_id/remove of an owner", route: "POST /team/members/:user_id/remove", ownerTarget: true,
		need: []team.Action{team.ManageMembers, team.ManageOwners}},
	{route: "POST /team/leave"},
}

// teamFixture is an account as the matrix finds it: made by its founder
// (an owner), with a key the founder made and rotated (so its old secret
// can be expired), a member with role viewer, and a pending invitation.
type teamFixture struct {
	acct, founder, keyID, viewer, invitation string
}

// matrixUsers makes users without signing them up through the form (each
// argon2id hash costs tens of milliseconds; the matrix needs hundreds of
// users): rows as sign-up writes them, with one real password hash.
type matrixUsers struct {
	h    *harness
	hash string
	n    int
}

func newMatrixUsers(t *testing.T, h *harness) *matrixUsers {
	t.Helper()
	h.Browser().MustSignup("hash-donor@example.com")
	u, err := h.DB.UserByEmail(context.Background(), "hash-donor@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return &matrixUsers{h: h, hash: u.PasswordHash}
}

// user makes a user whose email starts with label and returns its id.
func (m *matrixUsers) user(t *testing.T, label string) (id, email string) {
	t.Helper()
	m.n++
	now := time.Now().UTC()
	u := &auth.User{ID: keyhold.NewID(), Email: fmt.Sprintf("%s-%d@example.com", label, m.n), PasswordHash: m.hash, CreatedAt: now, UpdatedAt: now}
	if err := m.h.DB.CreateUser(context.Background(), u, nil, nil); err != nil {
		t.Fatal(err)
	}
	return u.ID, u.Email
}

// join makes userID a member of acct with role, through an invitation
// the founder sends and the user accepts, as the product does it.
func join(t *testing.T, h *harness, acct, founder, userID, email string, role team.Role) {
	t.Helper()
	ctx := context.Background()
	owner := audit.Actor{UserID: founder, AccountID: acct, Role: string(team.Owner)}
	token, _, _, err := h.Team.Invite(ctx, owner, email, string(role))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Team.Accept(ctx, audit.Actor{UserID: userID}, email, token); err != nil {
		t.Fatal(err)
	}
}

// newTeamFixture makes a fresh teamFixture named name.
func newTeamFixture(t *testing.T, h *harness, users *matrixUsers, name string) *teamFixture {
	t.Helper()
	ctx := context.Background()
	founder, _ := users.user(t, "founder")
	a, err := h.Team.CreateAccount(ctx, audit.Actor{UserID: founder}, name)
	if err != nil {
		t.Fatal(err)
	}
	fx := &teamFixture{acct: a.ID, founder: founder}
	owner := audit.Actor{UserID: founder, AccountID: a.ID, Role: string(team.Owner)}
	st, err := h.Keys.ParseForm(keys.Form{Name: name + " key"})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := h.Keys.Create(ctx, owner, a.ID, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Keys.Rotate(ctx, owner, a.ID, k.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	fx.keyID = k.ID
	viewer, email := users.user(t, "viewer")
	join(t, h, a.ID, founder, viewer, email, team.Viewer)
	fx.viewer = viewer
	_, inv, _, err := h.Team.Invite(ctx, owner, "pending-"+a.ID+"@example.com", string(team.Developer))
	if err != nil {
		t.Fatal(err)
	}
	fx.invitation = inv.ID
	return fx
}

// sessionBrowser is a browser signed in as userID acting in acct, and the
// CSRF token of its forms. The session is made by the auth service, as a
// log-in would, without a password hash.
func sessionBrowser(t *testing.T, h *harness, userID, acct string) (*browser, string) {
	t.Helper()
	tok, _, err := h.Auth.StartSessionIn(context.Background(), userID, acct, "", "")
	if err != nil {
		t.Fatal(err)
	}
	b := h.Browser()
	u, _ := url.Parse(h.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "kh_session", Value: tok, Path: "/"}})
	p := b.Get("/dashboard")
	csrf, _ := p.Doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
	if p.StatusCode != http.StatusOK || csrf == "" {
		t.Fatalf("the minted session does not sign in: /dashboard %d, token %q", p.StatusCode, csrf)
	}
	return b, csrf
}

// fingerprint is every row of the account a request could change: its
// keys (name, scopes, metadata, expiry, revocation, last change), their
// secrets, its memberships, its invitations, how many audit entries it
// has, and its own row (name, plan, Stripe customer, suspension).
func fingerprint(t *testing.T, h *harness, acct string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name, scopes, meta, expires_at, revoked_at, updated_at, created_by FROM api_keys WHERE account_id = ? ORDER BY id`,
		`SELECT s.hash, s.key_id, s.expires_at FROM key_secrets s JOIN api_keys k ON k.id = s.key_id WHERE k.account_id = ? ORDER BY s.hash`,
		`SELECT user_id, role FROM memberships WHERE account_id = ? ORDER BY user_id`,
		`SELECT id, email, role, revoked_at, accepted_at, accepted_by FROM invitations WHERE account_id = ? ORDER BY id`,
		`SELECT COUNT(*) FROM audit_log WHERE account_id = ?`,
		`SELECT name, plan_id, stripe_customer_id, suspended FROM accounts WHERE id = ?`,
	} {
		rows, err := h.DB.SQL().QueryContext(context.Background(), h.rebind(q), acct)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteByte('\n')
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// postForm posts form with the CSRF token to path.
func postForm(b *browser, path, csrf string, form url.Values) *page {
	f := url.Values{"_csrf": {csrf}}
	for k, v := range form {
		f[k] = v
	}
	return b.Post(path, f)
}

// TestRoleMatrix: every state-changing route that acts in the current
// account, by every role, each on a fresh account. The role table
// (team.Rules) says what to expect: a refusal is 403, names the roles
// that may, and changes none of the account's rows; an allowed request
// is not 403 and changes them. The route list comes from the router, so
// a route added later fails here until it is in the table or listed as
// not account-scoped.
func TestRoleMatrix(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			h := d.start(t, withStripe(t))
			checkMatrixCoversRouter(t, h)
			users := newMatrixUsers(t, h)
			n := 0
			for _, tc := range matrixCases {
				name := tc.name
				if name == "" {
					name = tc.route
				}
				for _, role := range team.Roles {
					t.Run(name+"/"+string(role), func(t *testing.T) {
						n++
						fx := newTeamFixture(t, h, users, fmt.Sprintf("Matrix %d", n))
						actor, email := users.user(t, string(role))
						join(t, h, fx.acct, fx.founder, actor, email, role)
						if tc.setup != nil {
							tc.setup(t, h, fx)
						}
						target := fx.viewer
						if tc.ownerTarget {
							target = fx.founder
						}
						path := strings.NewReplacer(":id", fx.keyID, ":user_id", target).Replace(strings.TrimPrefix(tc.route, "POST "))
						if strings.HasPrefix(path, "/team/invitations/") {
							path = strings.Replace(strings.TrimPrefix(tc.route, "POST "), ":id", fx.invitation, 1)
						}
						b, csrf := sessionBrowser(t, h, actor, fx.acct)
						before := fingerprint(t, h, fx.acct)
						p := postForm(b, path, csrf, tc.form)
						after := fingerprint(t, h, fx.acct)

						refusal := ""
						for _, a := range tc.need {
							if !team.Can(role, a) {
								refusal = keyhold.ErrorMessage(team.Require(role, a))
								break
							}
						}
						if refusal != "" {
							if p.StatusCode != http.StatusForbidden {
								t.Errorf("a %s: %d (Location %q), want 403", role, p.StatusCode, p.Header.Get("Location"))
							}
							if !strings.Contains(p.Body, html.EscapeString(refusal)) {
								t.Errorf("a %s's refusal does not name the roles needed (%q); alert %q", role, refusal, alert(p))
							}
							if after != before {
								t.Errorf("a refused request changed the account:\nbefore\n%s\nafter\n%s", before, after)
							}
							return
						}
						// Done: the page of the result, or a redirect to it.
						if p.StatusCode != http.StatusOK && p.StatusCode != http.StatusSeeOther {
							t.Fatalf("a %s was refused: %d %q", role, p.StatusCode, alert(p))
						}
						if tc.unchanged != nil {
							tc.unchanged(t, p)
							if after != before {
								t.Errorf("the request changed the account:\nbefore\n%s\nafter\n%s", before, after)
							}
							return
						}
						if after == before {
							t.Errorf("a %s was allowed (%d %q) but nothing changed", role, p.StatusCode, p.Header.Get("Location"))
						}
					})
				}
			}
		})
	}
}

// checkMatrixCoversRouter fails for a state-changing route that is in
// neither matrixCases nor notAccountScoped, and for an entry of either
// that names no route.
func checkMatrixCoversRouter(t *testing.T, h *harness) {
	t.Helper()
	inTable := map[string]bool{}
	for _, tc := range matrixCases {
		inTable[tc.route] = true
	}
	routes := h.Handler.(*server.Server).Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	exist := map[string]bool{}
	for _, r := range routes {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			continue
		}
		route := r.Method + " " + r.Path
		exist[route] = true
		_, excused := notAccountScoped[route]
		if !inTable[route] && !excused && !operatorOnly(r.Path) {
			t.Errorf("%s changes state but is neither in matrixCases nor in notAccountScoped: add it to one", route)
		}
		if inTable[route] && excused {
			t.Errorf("%s is both in matrixCases and in notAccountScoped", route)
		}
	}
	for route := range inTable {
		if !exist[route] {
			t.Errorf("matrixCases has %s, which is not in the route table", route)
		}
	}
	for route := range notAccountScoped {
		if !exist[route] {
			t.Errorf("notAccountScoped has %s, which is not in the route table", route)
		}
	}
}
