package templates

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

const testCSRF = "csrf-token-4f2a"

var testAssets = Assets{CSS: "/static/css/app.css?v=0123456789ab", JS: "/static/js/app.js?v=ba9876543210"}

func testAccount(admin bool) *Account {
	return &Account{ID: "acc_1", Email: "ada@example.com", IsAdmin: admin, Plan: "Pro"}
}

func testLayout(title, nav string, a *Account, flashes ...Flash) Layout {
	return Layout{Title: title, Account: a, CSRF: testCSRF, Flashes: flashes, Nav: nav, Assets: testAssets}
}

// render renders c and parses the result.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc, html
}

// pages is one rendering of every page, for the checks all pages share;
// the key pages come from keyPages in keys_test.go, the billing pages from
// billingPages in billing_test.go.
func pages() []struct {
	name  string
	title string
	forms int
	c     templ.Component
} {
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	return append([]struct {
		name  string
		title string
		forms int
		c     templ.Component
	}{
		{"signup", "Sign up · Keyhold", 1, Signup(AuthPage{Layout: testLayout("Sign up", "", nil)})},
		{"login", "Log in · Keyhold", 1, Login(AuthPage{Layout: testLayout("Log in", "", nil)})},
		{"dashboard", "Dashboard · Keyhold", 1, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), BaseURL: "https://keys.example.com"})},
		{"account", "Account · Keyhold", 3, AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false)), Email: "ada@example.com", CreatedAt: at})},
		{"error anonymous", "Page not found · Keyhold", 0, Error(ErrorPage{Layout: testLayout("", "", nil), Status: 404})},
		{"error signed in", "Oops · Keyhold", 1, Error(ErrorPage{Layout: testLayout("Oops", "", testAccount(true)), Status: 500})},
	}, append(append(keyPages(), billingPages()...), teamPages()...)...)
}

func TestEveryPageHead(t *testing.T) {
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			doc, _ := render(t, p.c)
			if got := doc.Find("head title").Text(); got != p.title {
				t.Errorf("title = %q, want %q", got, p.title)
			}
			if got, _ := doc.Find(`head link[rel="stylesheet"]`).Attr("href"); got != testAssets.CSS {
				t.Errorf("stylesheet href = %q, want %q", got, testAssets.CSS)
			}
			script := doc.Find("head script")
			if got, _ := script.Attr("src"); got != testAssets.JS {
				t.Errorf("script src = %q, want %q", got, testAssets.JS)
			}
			if _, ok := script.Attr("defer"); !ok {
				t.Error("script is not deferred")
			}
			if got, _ := doc.Find(`head link[rel="icon"]`).Attr("href"); got != "/static/favicon.svg" {
				t.Errorf("favicon href = %q", got)
			}
			if doc.Find(`head meta[name="viewport"]`).Length() != 1 {
				t.Error("no viewport meta")
			}
		})
	}
}

// TestEveryPageKeepsTheCSP checks what script-src 'self'; style-src 'self'
// would block: inline scripts, style elements and attributes, event handler
// attributes, and anything loaded from another origin.
func TestEveryPageKeepsTheCSP(t *testing.T) {
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			doc, _ := render(t, p.c)
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if src, ok := s.Attr("src"); !ok || strings.TrimSpace(s.Text()) != "" {
					t.Errorf("inline script (src=%q)", src)
				}
			})
			if n := doc.Find("style").Length(); n != 0 {
				t.Errorf("%d <style> elements", n)
			}
			doc.Find("*").Each(func(_ int, s *goquery.Selection) {
				for _, a := range s.Nodes[0].Attr {
					if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s> has attribute %s", goquery.NodeName(s), a.Key)
					}
					if (a.Key == "src" || a.Key == "href") && (strings.HasPrefix(a.Val, "http") || strings.HasPrefix(a.Val, "//")) {
						t.Errorf("<%s %s=%q> loads from another origin", goquery.NodeName(s), a.Key, a.Val)
					}
				}
			})
		})
	}
}

func TestEveryFormCarriesCSRF(t *testing.T) {
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			doc, _ := render(t, p.c)
			forms := doc.Find("form")
			if forms.Length() != p.forms {
				t.Fatalf("%d forms, want %d", forms.Length(), p.forms)
			}
			forms.Each(func(_ int, f *goquery.Selection) {
				action, _ := f.Attr("action")
				if m, _ := f.Attr("method"); m != "post" {
					t.Errorf("form %s: method = %q, want post", action, m)
				}
				csrf := f.Find(`input[name="_csrf"]`)
				if csrf.Length() != 1 {
					t.Fatalf("form %s: %d _csrf inputs, want 1", action, csrf.Length())
				}
				if typ, _ := csrf.Attr("type"); typ != "hidden" {
					t.Errorf("form %s: _csrf type = %q", action, typ)
				}
				if v, _ := csrf.Attr("value"); v != testCSRF {
					t.Errorf("form %s: _csrf = %q, want %q", action, v, testCSRF)
				}
			})
		})
	}
}

func TestFormFields(t *testing.T) {
	type input struct {
		name, typ, autocomplete string
	}
	tests := []struct {
		name   string
		c      templ.Component
		action string
		inputs []input
		link   string // another page the form page links to
	}{
		{
			name:   "signup",
			c:      Signup(AuthPage{Layout: testLayout("Sign up", "", nil)}),
			action: "/signup",
			inputs: []input{{"email", "email", "email"}, {"password", "password", "new-password"}},
			link:   "/login",
		},
		{
			name:   "login",
			c:      Login(AuthPage{Layout: testLayout("Log in", "", nil)}),
			action: "/login",
			inputs: []input{{"email", "email", "username"}, {"password", "password", "current-password"}},
			link:   "/signup",
		},
		{
			name:   "account password",
			c:      AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false)), Email: "ada@example.com"}),
			action: "/account/password",
			inputs: []input{{"current_password", "password", "current-password"}, {"password", "password", "new-password"}},
			link:   "/billing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, tt.c)
			form := doc.Find(`form[action="` + tt.action + `"]`)
			if form.Length() != 1 {
				t.Fatalf("%d forms posting to %s, want 1", form.Length(), tt.action)
			}
			for _, in := range tt.inputs {
				el := form.Find(`input[name="` + in.name + `"]`)
				if el.Length() != 1 {
					t.Errorf("%d inputs named %s, want 1", el.Length(), in.name)
					continue
				}
				if got, _ := el.Attr("type"); got != in.typ {
					t.Errorf("%s: type = %q, want %q", in.name, got, in.typ)
				}
				if got, _ := el.Attr("autocomplete"); got != in.autocomplete {
					t.Errorf("%s: autocomplete = %q, want %q", in.name, got, in.autocomplete)
				}
				id, _ := el.Attr("id")
				if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
					t.Errorf("%s: no label for id %q", in.name, id)
				}
			}
			if form.Find(`button[type="submit"]`).Length() != 1 {
				t.Error("no submit button")
			}
			if doc.Find(`a[href="`+tt.link+`"]`).Length() == 0 {
				t.Errorf("no link to %s", tt.link)
			}
		})
	}
}

func TestNewPasswordsAskForTenCharacters(t *testing.T) {
	for name, c := range map[string]templ.Component{
		"signup":  Signup(AuthPage{Layout: testLayout("Sign up", "", nil)}),
		"account": AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false))}),
	} {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, c)
			pw := doc.Find(`input[name="password"]`)
			if got, _ := pw.Attr("minlength"); got != "10" {
				t.Errorf("minlength = %q, want 10", got)
			}
			hintID, _ := pw.Attr("aria-describedby")
			if hint := doc.Find("#" + hintID).Text(); !strings.Contains(hint, "10 characters") {
				t.Errorf("hint = %q, want it to mention 10 characters", hint)
			}
		})
	}
}

func TestAuthPageReshowsEmailButNotPassword(t *testing.T) {
	for name, c := range map[string]templ.Component{
		"signup": Signup(AuthPage{Layout: testLayout("Sign up", "", nil), Email: "ada@example.com", Error: "x"}),
		"login":  Login(AuthPage{Layout: testLayout("Log in", "", nil), Email: "ada@example.com", Error: "x"}),
	} {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, c)
			if got, _ := doc.Find(`input[name="email"]`).Attr("value"); got != "ada@example.com" {
				t.Errorf("email value = %q", got)
			}
			if got, _ := doc.Find(`input[name="password"]`).Attr("value"); got != "" {
				t.Errorf("password value = %q, want empty", got)
			}
		})
	}
}

func TestErrorsAndFlashesAreAlerts(t *testing.T) {
	flashes := []Flash{
		{Kind: FlashSuccess, Message: "Saved."},
		{Kind: FlashError, Message: "Could not save."},
		{Kind: FlashInfo, Message: "Heads up."},
	}
	tests := []struct {
		name string
		c    templ.Component
		want []string // alert texts, in order
	}{
		{"signup error", Signup(AuthPage{Layout: testLayout("Sign up", "", nil), Error: "Email already taken."}), []string{"Email already taken."}},
		{"login error", Login(AuthPage{Layout: testLayout("Log in", "", nil), Error: "Wrong email or password."}), []string{"Wrong email or password."}},
		{"account error", AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false)), Error: "Current password is wrong."}), []string{"Current password is wrong."}},
		{"login flashes", Login(AuthPage{Layout: testLayout("Log in", "", nil, flashes...)}), []string{"Saved.", "Could not save.", "Heads up."}},
		{"dashboard flashes", Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false), flashes...)}), []string{"Saved.", "Could not save.", "Heads up."}},
		{"flash and error", AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false), flashes[0]), Error: "Too short."}), []string{"Saved.", "Too short."}},
		{"none", Login(AuthPage{Layout: testLayout("Log in", "", nil)}), nil},
		{"none signed in", Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false))}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, tt.c)
			var got []string
			doc.Find(`[role="alert"]`).Each(func(_ int, s *goquery.Selection) {
				got = append(got, strings.TrimSpace(s.Text()))
			})
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFlashKindsLookDifferent(t *testing.T) {
	tests := []struct {
		kind, testID, colour string
	}{
		{FlashSuccess, "flash-success", "emerald"},
		{FlashError, "flash-error", "red"},
		{FlashInfo, "flash-info", "sky"},
		{"", "flash-info", "sky"},
	}
	for _, tt := range tests {
		t.Run(tt.testID+"/"+tt.kind, func(t *testing.T) {
			doc, _ := render(t, Login(AuthPage{Layout: testLayout("Log in", "", nil, Flash{Kind: tt.kind, Message: "m"})}))
			el := doc.Find(`[role="alert"][data-testid="` + tt.testID + `"]`)
			if el.Length() != 1 {
				t.Fatalf("no alert with data-testid=%s", tt.testID)
			}
			if class, _ := el.Attr("class"); !strings.Contains(class, "bg-"+tt.colour+"-50") {
				t.Errorf("class = %q, want the %s scheme", class, tt.colour)
			}
		})
	}
}

func TestAppShell(t *testing.T) {
	tests := []struct {
		name      string
		account   *Account
		nav       string
		wantAdmin bool
	}{
		{"developer", testAccount(false), "dashboard", false},
		{"operator", testAccount(true), "dashboard", true},
		{"operator on admin", testAccount(true), "admin", true},
		{"account page", testAccount(false), "account", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", tt.nav, tt.account)}))
			nav := doc.Find(`nav[data-testid="nav"]`)
			for _, href := range []string{"/dashboard", "/keys", "/billing", "/account"} {
				if nav.Find(`a[href="`+href+`"]`).Length() != 1 {
					t.Errorf("nav has no single link to %s", href)
				}
			}
			if got := doc.Find(`a[href="/admin"]`).Length() == 1; got != tt.wantAdmin {
				t.Errorf("admin link shown = %v, want %v", got, tt.wantAdmin)
			}
			current := nav.Find(`a[aria-current="page"]`)
			if current.Length() != 1 {
				t.Fatalf("%d current nav items, want 1", current.Length())
			}
			if got, _ := current.Attr("data-nav"); got != tt.nav {
				t.Errorf("current nav item = %q, want %q", got, tt.nav)
			}
			logout := doc.Find(`form[action="/logout"][method="post"]`)
			if logout.Find(`button[data-testid="logout"]`).Length() != 1 {
				t.Error("no log-out button in a POST /logout form")
			}
			if got := doc.Find(`[data-testid="account-email"]`).Text(); got != tt.account.Email {
				t.Errorf("account email = %q", got)
			}
			if got := strings.TrimSpace(doc.Find(`[data-testid="plan-badge"]`).Text()); got != tt.account.Plan {
				t.Errorf("plan badge = %q", got)
			}
		})
	}
}

func TestUserStringsAreEscaped(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	evilAccount := &Account{ID: "acc_x", Email: evil, Plan: evil}
	tests := []struct {
		name string
		c    templ.Component
		at   string // selector of an element whose text is evil
	}{
		{"shell email", Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", evilAccount)}), `[data-testid="account-email"]`},
		{"shell plan", Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", evilAccount)}), `[data-testid="plan-badge"]`},
		{"account email", AccountSettings(AccountPage{Layout: testLayout("Account", "account", evilAccount), Email: evil}), `[data-testid="account-settings-email"]`},
		{"auth error", Login(AuthPage{Layout: testLayout("Log in", "", nil), Error: evil}), `[role="alert"]`},
		{"flash", Signup(AuthPage{Layout: testLayout("Sign up", "", nil, Flash{Kind: FlashInfo, Message: evil})}), `[role="alert"]`},
		{"error message", Error(ErrorPage{Layout: testLayout("", "", nil), Status: 400, Message: evil}), `[data-testid="error-page"] p`},
		{"title", Login(AuthPage{Layout: testLayout(evil, "", nil)}), `title`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, html := render(t, tt.c)
			if strings.Contains(html, evil) {
				t.Fatal("raw <script> in output")
			}
			if doc.Find("script").Length() != 1 {
				t.Errorf("%d script elements, want only app.js", doc.Find("script").Length())
			}
			found := false
			doc.Find(tt.at).Each(func(_ int, s *goquery.Selection) {
				found = found || strings.Contains(s.Text(), evil)
			})
			if !found {
				t.Errorf("%s does not show the string as text", tt.at)
			}
		})
	}

	t.Run("email input value", func(t *testing.T) {
		doc, html := render(t, Signup(AuthPage{Layout: testLayout("Sign up", "", nil), Email: `"><script>alert(1)</script>`}))
		if strings.Contains(html, evil) {
			t.Fatal("raw <script> in output")
		}
		if got, _ := doc.Find(`input[name="email"]`).Attr("value"); got != `"><script>alert(1)</script>` {
			t.Errorf("value = %q", got)
		}
	})
}

func TestDashboard(t *testing.T) {
	doc, _ := render(t, Dashboard(DashboardPage{Layout: testLayout("Dashboard", "dashboard", testAccount(false)), BaseURL: "https://keys.example.com/"}))

	empty := doc.Find(`[data-testid="empty-state"]`)
	if !strings.Contains(empty.Text(), "No API keys yet") {
		t.Errorf("empty state = %q", empty.Text())
	}
	cta := empty.Find(`a[href="/keys/new"]`)
	if strings.TrimSpace(cta.Text()) != "Create your first key" || !cta.HasClass("btn-primary") {
		t.Errorf("empty state call to action = %q", cta.Text())
	}

	qs := doc.Find(`[data-testid="quickstart"]`)
	curl := qs.Find("#quickstart-curl").Text()
	for _, want := range []string{
		"curl -X POST https://keys.example.com/v1/verify",
		"-H 'Content-Type: application/json'",
		`-d '{"key":"kh_live_…"}'`,
	} {
		if !strings.Contains(curl, want) {
			t.Errorf("curl call %q lacks %q", curl, want)
		}
	}
	for _, id := range []string{"quickstart-curl", "snippet-go", "snippet-node", "snippet-python"} {
		code := qs.Find("#" + id)
		if code.Length() != 1 {
			t.Errorf("no #%s", id)
			continue
		}
		if qs.Find(`button[type="button"][data-copy-target="`+id+`"]`).Length() != 1 {
			t.Errorf("no copy button for #%s", id)
		}
		if !strings.Contains(code.Text(), "https://keys.example.com/v1/verify") {
			t.Errorf("#%s does not call /v1/verify on the base URL", id)
		}
		if strings.Contains(code.Text(), verifyURLMarker) {
			t.Errorf("#%s still has the marker %s", id, verifyURLMarker)
		}
	}
	for _, label := range []string{"Go", "Node.js", "Python"} {
		if qs.Find("label").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == label }).Length() != 1 {
			t.Errorf("no %s tab", label)
		}
	}
	if got, _ := qs.Find(`input[name="quickstart-lang"][checked]`).Attr("id"); got != "tab-go" {
		t.Errorf("first tab = %q, want tab-go", got)
	}
}

func TestVerifyURLDefaultsToLocalhost(t *testing.T) {
	tests := map[string]string{
		"":                          "http://localhost:8080/v1/verify",
		"https://api.example.com":   "https://api.example.com/v1/verify",
		"https://api.example.com//": "https://api.example.com/v1/verify",
		" http://127.0.0.1:9000 ":   "http://127.0.0.1:9000/v1/verify", //nolint:gocritic // mapKey: the spaces are the case under test
	}
	for in, want := range tests {
		if got := verifyURL(in); got != want {
			t.Errorf("verifyURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAccountSettings(t *testing.T) {
	at := time.Date(2026, 3, 4, 23, 30, 0, 0, time.FixedZone("X", -5*3600))
	doc, _ := render(t, AccountSettings(AccountPage{Layout: testLayout("Account", "account", testAccount(false)), Email: "ada@example.com", CreatedAt: at}))
	if got := doc.Find(`[data-testid="account-settings-email"]`).Text(); got != "ada@example.com" {
		t.Errorf("email = %q", got)
	}
	since := doc.Find(`[data-testid="member-since"]`)
	if got := since.Text(); got != "March 5, 2026" {
		t.Errorf("member since = %q, want the UTC date", got)
	}
	if got, _ := since.Attr("datetime"); got != "2026-03-05T04:30:00Z" {
		t.Errorf("datetime = %q", got)
	}
}

func TestErrorPage(t *testing.T) {
	tests := []struct {
		name      string
		p         ErrorPage
		wantShell bool
		wantTitle string
		wantHome  string
	}{
		{"404 anonymous", ErrorPage{Layout: testLayout("", "", nil), Status: 404}, false, "Page not found", "/dashboard"},
		{"500 signed in", ErrorPage{Layout: testLayout("", "", testAccount(false)), Status: 500}, true, "Something went wrong", "/dashboard"},
		{"custom title", ErrorPage{Layout: testLayout("", "", testAccount(false)), Status: 403, Title: "Not yours", Message: "Ask the owner."}, true, "Not yours", "/dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := render(t, Error(tt.p))
			if got := doc.Find(`[data-testid="logout"]`).Length() == 1; got != tt.wantShell {
				t.Errorf("app shell = %v, want %v", got, tt.wantShell)
			}
			page := doc.Find(`[data-testid="error-page"]`)
			if got := page.Find("h1").Text(); got != tt.wantTitle {
				t.Errorf("h1 = %q, want %q", got, tt.wantTitle)
			}
			if got := page.Find(`[data-testid="error-status"]`).Text(); got != strconv.Itoa(tt.p.Status) {
				t.Errorf("status = %q", got)
			}
			if tt.p.Message != "" && !strings.Contains(page.Text(), tt.p.Message) {
				t.Errorf("message %q not shown", tt.p.Message)
			}
			if got, _ := page.Find(`a[data-testid="error-home"]`).Attr("href"); got != tt.wantHome {
				t.Errorf("home link = %q, want %q", got, tt.wantHome)
			}
			if got := doc.Find("title").Text(); got != tt.wantTitle+" · Keyhold" {
				t.Errorf("title = %q", got)
			}
		})
	}
}

func TestPageTitleWithoutTitle(t *testing.T) {
	if got := pageTitle(""); got != "Keyhold" {
		t.Errorf("pageTitle(\"\") = %q", got)
	}
}
