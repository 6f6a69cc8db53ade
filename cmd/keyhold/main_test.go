package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stopTimeout bounds how long run may take to return after its context is
// cancelled: a graceful stop, not the 15 s shutdown timeout plus slack.
const stopTimeout = 20 * time.Second

// testPassword is long enough for every account the tests create.
const testPassword = "correct horse battery staple"

// app is a Keyhold server started through run, as main starts it.
type app struct {
	URL    string             // http://127.0.0.1:PORT, where it listens
	Addr   string             // 127.0.0.1:PORT
	Env    map[string]string  // the environment run was given
	Stdout *testenv.LogBuffer // what run printed besides the start-up line
	Stderr *testenv.LogBuffer // the logs
	// StartLine is the start-up line, "Keyhold is running at URL", whose
	// URL tells where the server listens (how a test learns the port of :0).
	StartLine string

	cancel   context.CancelFunc
	done     chan error    // receives run's result
	read     chan struct{} // closed when all of run's stdout has been read
	stopOnce sync.Once
	stopErr  error
	stopTook time.Duration
}

// testEnv is the environment of a run: a loopback port chosen by the
// kernel, a fresh SQLite database in a temporary directory, and overrides
// from env (an empty value removes a variable).
func testEnv(tb testing.TB, env map[string]string) map[string]string {
	tb.Helper()
	e := map[string]string{
		"KEYHOLD_ADDR":         "127.0.0.1:0",
		"KEYHOLD_DATABASE_URL": "sqlite://" + filepath.Join(tb.TempDir(), "k.db"),
		"KEYHOLD_BASE_URL":     "http://127.0.0.1",
	}
	for k, v := range env {
		e[k] = v
	}
	return e
}

func getenvOf(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// MustRun starts `keyhold serve` through run with the environment of
// testEnv, waits for its start-up line, and stops it when the test
// ends, failing the test unless run returns nil within stopTimeout.
//
// Unless env names a database, the SQLite file is written already
// migrated (storetest.WriteMigrated), so serve's Migrate finds nothing to
// do: migrating from nothing costs seconds under the race detector. Serve
// on an empty database is tested by TestNoCommandServes (mustStart) and
// the tests that name their own database.
func MustRun(tb testing.TB, env map[string]string) *app {
	tb.Helper()
	if _, own := env["KEYHOLD_DATABASE_URL"]; !own {
		path := filepath.Join(tb.TempDir(), "k.db")
		storetest.WriteMigrated(tb, path)
		with := map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + path}
		for k, v := range env {
			with[k] = v
		}
		env = with
	}
	return mustStart(tb, []string{"serve"}, env)
}

// mustStart is MustRun with the command-line arguments given.
func mustStart(tb testing.TB, args []string, env map[string]string) *app {
	tb.Helper()
	e := testEnv(tb, env)
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{Env: e, Stdout: &testenv.LogBuffer{}, Stderr: &testenv.LogBuffer{}, cancel: cancel, done: make(chan error, 1), read: make(chan struct{})}

	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, args, getenvOf(e), strings.NewReader(""), pw, a.Stderr)
		pw.Close()
		a.done <- err
	}()
	linec := make(chan string, 1)
	go func() {
		defer close(a.read)
		sc := bufio.NewScanner(pr)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first && strings.HasPrefix(line, startPrefix) {
				first = false
				linec <- line
				continue
			}
			a.Stdout.Write([]byte(line + "\n"))
		}
		io.Copy(io.Discard, pr) // never block run on a long line
	}()

	select {
	case a.StartLine = <-linec:
		u, err := url.Parse(strings.Fields(strings.TrimPrefix(a.StartLine, startPrefix))[0])
		if err != nil || u.Host == "" {
			cancel()
			tb.Fatalf("start-up line %q has no URL", a.StartLine)
		}
		a.Addr = u.Host
	case err := <-a.done:
		cancel()
		tb.Fatalf("keyhold %s ended before it listened: %v\nstderr:\n%s", strings.Join(args, " "), err, a.Stderr)
	case <-time.After(30 * time.Second):
		cancel()
		tb.Fatalf("keyhold %s did not print its start-up line within 30s\nstderr:\n%s", strings.Join(args, " "), a.Stderr)
	}
	a.URL = "http://" + a.Addr
	tb.Cleanup(func() {
		if err := a.Stop(); err != nil {
			tb.Errorf("stopping keyhold: %v\nstderr:\n%s", err, a.Stderr)
		}
	})
	return a
}

// Stop cancels run's context, as SIGTERM does, and returns an error unless
// run returns nil within stopTimeout. Later calls return the same result.
func (a *app) Stop() error {
	a.stopOnce.Do(func() {
		start := time.Now()
		a.cancel()
		select {
		case err := <-a.done:
			a.stopTook = time.Since(start)
			if err != nil {
				a.stopErr = fmt.Errorf("run returned %v, want nil after a graceful stop", err)
			}
			<-a.read // run has closed its stdout: the rest is read soon
		case <-time.After(stopTimeout):
			a.stopErr = fmt.Errorf("run did not return within %v of the cancel", stopTimeout)
		}
	})
	return a.stopErr
}

// MustStop is Stop that fails the test.
func (a *app) MustStop(tb testing.TB) {
	tb.Helper()
	if err := a.Stop(); err != nil {
		tb.Fatalf("%v\nstderr:\n%s", err, a.Stderr)
	}
}

// result is what a command that ends by itself did.
type result struct {
	Err            error
	Stdout, Stderr string
}

// runCommand runs one command that is expected to end by itself, with
// env (made by testEnv) and stdin.
func runCommand(tb testing.TB, env map[string]string, stdin string, args ...string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr testenv.LogBuffer
	err := run(ctx, args, getenvOf(env), strings.NewReader(stdin), &stdout, &stderr)
	if ctx.Err() != nil {
		tb.Fatalf("keyhold %s did not end within 30s (err %v)\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return result{Err: err, Stdout: stdout.String(), Stderr: stderr.String()}
}

// client is an HTTP client with its own cookie jar that does not follow
// redirects, so tests see each 303.
type client struct {
	tb   testing.TB
	base string
	http *http.Client
}

func (a *app) Client(tb testing.TB) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &client{tb: tb, base: a.URL, http: &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is an answer with its body read and parsed as HTML.
type response struct {
	*http.Response
	Body string
	Doc  *goquery.Document
}

func (c *client) do(req *http.Request) *response {
	c.tb.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		c.tb.Fatalf("%s %s: parsing the body: %v", req.Method, req.URL.Path, err)
	}
	return &response{Response: resp, Body: string(body), Doc: doc}
}

// Get requests path.
func (c *client) Get(path string) *response {
	c.tb.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	return c.do(req)
}

// Submit loads page, takes the _csrf token of its form that posts to
// action, and posts form with it, as a browser does.
func (c *client) Submit(page, action string, form url.Values) *response {
	c.tb.Helper()
	p := c.Get(page)
	if p.StatusCode != http.StatusOK {
		c.tb.Fatalf("GET %s = %s, want 200", page, p.Status)
	}
	tok, ok := p.Doc.Find(`form[action="` + action + `"] input[name="_csrf"]`).Attr("value")
	if !ok || tok == "" {
		c.tb.Fatalf("GET %s has no form posting to %s with a _csrf field", page, action)
	}
	v := url.Values{"_csrf": {tok}}
	for k, vs := range form {
		v[k] = vs
	}
	req, err := http.NewRequest(http.MethodPost, c.base+action, strings.NewReader(v.Encode()))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// MustSignup signs up with email through the sign-up form and checks that
// it lands on the dashboard.
func (c *client) MustSignup(email string) {
	c.tb.Helper()
	p := c.Submit("/signup", "/signup", url.Values{"email": {email}, "password": {testPassword}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
		c.tb.Fatalf("sign-up of %s = %s to %q, want 303 to /dashboard; alert: %q", email, p.Status, p.Header.Get("Location"), alert(p))
	}
}

// MustLogin logs in through the log-in form and checks that it lands on
// the dashboard.
func (c *client) MustLogin(email, password string) {
	c.tb.Helper()
	p := c.Submit("/login", "/login", url.Values{"email": {email}, "password": {password}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
		c.tb.Fatalf("log-in of %s = %s to %q, want 303 to /dashboard; alert: %q", email, p.Status, p.Header.Get("Location"), alert(p))
	}
}

// SessionCookie returns the session cookie the client holds, or nil.
func (c *client) SessionCookie() *http.Cookie {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "kh_session" {
			return ck
		}
	}
	return nil
}

// mustDashboard checks that the client's session opens the dashboard.
func (c *client) mustDashboard(email string) *response {
	c.tb.Helper()
	p := c.Get("/dashboard")
	if p.StatusCode != http.StatusOK {
		c.tb.Fatalf("GET /dashboard = %s (Location %q), want 200", p.Status, p.Header.Get("Location"))
	}
	if got := strings.TrimSpace(p.Doc.Find(`[data-testid="account-email"]`).Text()); got != email {
		c.tb.Errorf("dashboard shows account %q, want %q", got, email)
	}
	return p
}

func alert(p *response) string {
	return strings.Join(strings.Fields(p.Doc.Find(`[role="alert"]`).Text()), " ")
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"help", "--help", "-h"} {
		t.Run(arg, func(t *testing.T) {
			r := runCommand(t, testEnv(t, nil), "", arg)
			if r.Err != nil {
				t.Fatalf("keyhold %s: %v", arg, r.Err)
			}
			for _, want := range []string{"keyhold [serve]", "keyhold migrate", "keyhold admin create-user --email E --password-stdin [--admin]", "keyhold version"} {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("keyhold %s does not list %q:\n%s", arg, want, r.Stdout)
				}
			}
			if r.Stderr != "" {
				t.Errorf("keyhold %s wrote to stderr: %q", arg, r.Stderr)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	r := runCommand(t, testEnv(t, nil), "", "frobnicate")
	if r.Err == nil {
		t.Fatal("keyhold frobnicate succeeded, want an error")
	}
	if !strings.Contains(r.Stderr, `unknown command "frobnicate"`) || !strings.Contains(r.Stderr, "Usage:") {
		t.Errorf("stderr does not name the command and show the usage:\n%s", r.Stderr)
	}
	if r.Stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.Stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version"} {
		r := runCommand(t, testEnv(t, nil), "", arg)
		if r.Err != nil {
			t.Fatalf("keyhold %s: %v", arg, r.Err)
		}
		v, ok := strings.CutPrefix(strings.TrimSpace(r.Stdout), "keyhold ")
		if !ok || v == "" || strings.Contains(v, "\n") {
			t.Errorf("keyhold %s printed %q, want one line \"keyhold VERSION\"", arg, r.Stdout)
		}
	}
}

// TestBadConfiguration checks that serve refuses to start on a bad
// variable, with one line that names it (main prints "keyhold: " + the
// error).
func TestBadConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badPlans := filepath.Join(dir, "plans.json")
	if err := os.WriteFile(badPlans, []byte(`[{"id": "free"`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, variable, value string
	}{
		{"log level", "KEYHOLD_LOG_LEVEL", "loud"},
		{"log format", "KEYHOLD_LOG_FORMAT", "xml"},
		{"short secret", "KEYHOLD_SECRET", "short"},
		{"missing plans file", "KEYHOLD_PLANS_FILE", filepath.Join(dir, "no-such-plans.json")},
		{"broken plans file", "KEYHOLD_PLANS_FILE", badPlans},
		{"address", "KEYHOLD_ADDR", "localhost"},
		{"base URL", "KEYHOLD_BASE_URL", "ftp://example.com"},
		{"database URL", "KEYHOLD_DATABASE_URL", "mysql://localhost/keyhold"},
		// Nothing listens on port 1: the database cannot be reached. No
		// sslmode, as people write it: pgx then tries twice, TLS and plain.
		{"unreachable database", "KEYHOLD_DATABASE_URL", "postgres://keyhold@127.0.0.1:1/keyhold?connect_timeout=5"},
		{"redis URL", "KEYHOLD_REDIS_URL", "localhost:6379"},
		{"redis cluster node", "KEYHOLD_REDIS_URL", "redis://:smtp-password-x@127.0.0.1:1?addr=nonsense"},
		{"redis cluster option", "KEYHOLD_REDIS_URL", "redis://:smtp-password-x@127.0.0.1:1?addr=127.0.0.1:2&bogus=1"},
		{"trusted proxies", "KEYHOLD_TRUSTED_PROXIES", "10.0.0.0/8, nonsense"},
		{"flush interval", "KEYHOLD_USAGE_FLUSH_INTERVAL", "forever"},
		{"short metrics token", "KEYHOLD_METRICS_TOKEN", "short"},
		{"stripe key", "STRIPE_SECRET_KEY", "pk_test_123"},
		{"webhook secret", "STRIPE_WEBHOOK_SECRET", "secret"},
		{"smtp URL", "KEYHOLD_SMTP_URL", "http://user:smtp-password-x@mail.example.com"},
		{"smtp port", "KEYHOLD_SMTP_URL", "smtp://user:smtp-password-x@mail.example.com:70000"},
		{"email from", "KEYHOLD_EMAIL_FROM", "not an address"},
		{"require verified without smtp", "KEYHOLD_REQUIRE_VERIFIED_EMAIL", "true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCommand(t, testEnv(t, map[string]string{tc.variable: tc.value}), "", "serve")
			if r.Err == nil {
				t.Fatalf("serve with %s=%q started, want an error", tc.variable, tc.value)
			}
			msg := r.Err.Error()
			if !strings.Contains(msg, tc.variable) {
				t.Errorf("error %q does not name %s", msg, tc.variable)
			}
			if strings.Contains(r.Stdout, startPrefix) {
				t.Errorf("serve printed %q although it refused to start", r.Stdout)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if strings.Contains(msg+r.Stdout, "smtp-password-x") {
				t.Errorf("the SMTP password is in the output: %q", msg)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, env map[string]string) {
		for i := range 2 {
			r := runCommand(t, env, "", "migrate")
			if r.Err != nil {
				t.Fatalf("migrate, run %d: %v\nstderr:\n%s", i+1, r.Err, r.Stderr)
			}
			if !strings.Contains(r.Stdout, "database is up to date") {
				t.Errorf("migrate, run %d, printed %q", i+1, r.Stdout)
			}
		}
		// The migrated database serves.
		a := MustRun(t, env)
		if p := a.Client(t).Get("/readyz"); p.StatusCode != http.StatusOK {
			t.Errorf("GET /readyz after migrate = %s, want 200", p.Status)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		// A folder that exists; a missing one is refused
		// (TestSQLiteMissingDirectory).
		check(t, testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "k.db")}))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		check(t, testEnv(t, map[string]string{"KEYHOLD_DATABASE_URL": testenv.Postgres(t)}))
	})
}

func TestAdminCreateUser(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	const email = "ops@example.com"

	// Refusals create nothing and say why.
	for _, tc := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"no password-stdin", testPassword + "\n", "--password-stdin", []string{"admin", "create-user", "--email", email, "--admin"}},
		{"no email", testPassword + "\n", "--email", []string{"admin", "create-user", "--password-stdin"}},
		{"short password", "short\n", "at least 10 characters", []string{"admin", "create-user", "--email", email, "--password-stdin", "--admin"}},
		{"empty password", "", "at least 10 characters", []string{"admin", "create-user", "--email", email, "--password-stdin"}},
		{"common password", "password123\n", "common passwords", []string{"admin", "create-user", "--email", email, "--password-stdin", "--admin"}},
		{"password made of the email", "Ops@Example.com!\n", "email address", []string{"admin", "create-user", "--email", email, "--password-stdin"}},
		{"password made of the service name", "Keyhold2026!\n", "Keyhold", []string{"admin", "create-user", "--email", email, "--password-stdin"}},
		{"too long password", strings.Repeat("ab", 600) + "\n", "at most 1024 characters", []string{"admin", "create-user", "--email", email, "--password-stdin"}},
		{"bad email", testPassword + "\n", "", []string{"admin", "create-user", "--email", "ops", "--password-stdin"}},
		{"invisible character in the email", testPassword + "\n", "invisible or control character (U+202E)", []string{"admin", "create-user", "--email", "\u202eops@example.com", "--password-stdin"}},
		{"no subcommand", "", "create-user", []string{"admin"}},
		{"unknown flag", testPassword + "\n", "-root", []string{"admin", "create-user", "--email", email, "--password-stdin", "--root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCommand(t, env, tc.stdin, tc.args...)
			if r.Err == nil {
				t.Fatalf("keyhold %s succeeded, want an error; stdout %q", strings.Join(tc.args, " "), r.Stdout)
			}
			if got := r.Err.Error() + "\n" + r.Stderr; !strings.Contains(got, tc.want) {
				t.Errorf("error %q, stderr %q: neither says %q", r.Err, r.Stderr, tc.want)
			}
			if strings.Contains(r.Stdout, "created") {
				t.Errorf("stdout says %q after a refusal", r.Stdout)
			}
		})
	}

	// The refusals left no account behind: the same email is still free.
	r := runCommand(t, env, testPassword+"\n", "admin", "create-user", "--email", email, "--password-stdin", "--admin")
	if r.Err != nil {
		t.Fatalf("create-user: %v\nstderr:\n%s", r.Err, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "created admin account "+email) {
		t.Errorf("create-user printed %q, want it to confirm the admin account", r.Stdout)
	}
	if strings.Contains(r.Stdout+r.Stderr, testPassword) {
		t.Error("create-user echoed the password")
	}
	r = runCommand(t, env, "another long password\n", "admin", "create-user", "--email", "OPS@example.com", "--password-stdin")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "already exists") {
		t.Errorf("second create-user for the same email: err %v, want \"already exists\"", r.Err)
	}

	// The account logs in over HTTP on a server on the same database, and
	// is an operator.
	a := MustRun(t, env)
	c := a.Client(t)
	c.MustLogin(email, testPassword)
	p := c.mustDashboard(email)
	if p.Doc.Find(`[data-testid="nav"] a[href="/admin"]`).Length() != 1 {
		t.Error("the --admin account's navigation has no Admin link")
	}
}

// TestServeMetricsToken checks the wiring of KEYHOLD_METRICS_TOKEN from
// the environment to /metrics (its rules are tested in internal/server).
func TestServeMetricsToken(t *testing.T) {
	t.Parallel()
	const token = "test-metrics-token-0123456789"
	a := MustRun(t, map[string]string{"KEYHOLD_METRICS_TOKEN": token})
	for _, tc := range []struct {
		name, authorization string
		want                int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"right token", "Bearer " + token, http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, a.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET /metrics = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if strings.Contains(a.Stderr.String(), token) {
		t.Error("the logs show the metrics token")
	}
}

func TestServeSQLite(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	c := a.Client(t)

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if p := c.Get(path); p.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %s, want 200", path, p.Status)
		}
	}

	p := c.Get("/signup")
	if p.StatusCode != http.StatusOK {
		t.Fatalf("GET /signup = %s, want 200", p.Status)
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("GET /signup: %s = %q, want %q", k, got, want)
		}
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self' https://checkout.stripe.com"} {
		if !strings.Contains(csp, part) {
			t.Errorf("GET /signup: Content-Security-Policy %q lacks %q", csp, part)
		}
	}
	if p.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS is set although the base URL is http")
	}
	for _, name := range []string{"email", "password", "_csrf"} {
		if p.Doc.Find(`form[action="/signup"] [name="`+name+`"]`).Length() != 1 {
			t.Errorf("the sign-up form has no %q field", name)
		}
	}
	// The stylesheet and script the page links to are served.
	p.Doc.Find(`link[rel="stylesheet"], script[src]`).Each(func(_ int, s *goquery.Selection) {
		src := s.AttrOr("href", s.AttrOr("src", ""))
		if a := c.Get(src); a.StatusCode != http.StatusOK {
			t.Errorf("GET %s (linked from /signup) = %s", src, a.Status)
		}
	})

	if p := c.Get("/dashboard"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Errorf("anonymous GET /dashboard = %s to %q, want 303 to /login", p.Status, p.Header.Get("Location"))
	}
	if p := c.Get("/no-such-page"); p.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %s, want 404", p.Status)
	}

	c.MustSignup("ada@example.com")
	p = c.mustDashboard("ada@example.com")
	if p.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 {
		t.Error("a new account's dashboard has no empty state")
	}
	if ck := c.SessionCookie(); ck == nil {
		t.Error("no kh_session cookie after sign-up")
	}
}

// TestSessionSurvivesRestart signs up on one run and opens the dashboard
// with the same session cookie on the next run over the same database.
func TestSessionSurvivesRestart(t *testing.T) {
	t.Parallel()
	const secretA = "0123456789abcdef0123456789abcdef-a"
	const secretB = "0123456789abcdef0123456789abcdef-b"
	for _, tc := range []struct {
		name           string
		first, second  string // KEYHOLD_SECRET of each run; "": generated and kept in the database
		sessionSurvive bool
	}{
		{"generated secret", "", "", true},
		{"KEYHOLD_SECRET", secretA, secretA, true},
		{"changed KEYHOLD_SECRET", secretA, secretB, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, nil)
			env["KEYHOLD_SECRET"] = tc.first
			first := MustRun(t, env)
			c := first.Client(t)
			c.MustSignup("ada@example.com")
			ck := c.SessionCookie()
			if ck == nil {
				t.Fatal("no session cookie after sign-up")
			}
			first.MustStop(t)

			env2 := map[string]string{}
			for k, v := range env {
				env2[k] = v
			}
			env2["KEYHOLD_SECRET"] = tc.second
			second := MustRun(t, env2)
			req, _ := http.NewRequest(http.MethodGet, second.URL+"/dashboard", nil)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			fresh := second.Client(t)
			p := fresh.do(req)
			switch {
			case tc.sessionSurvive && p.StatusCode != http.StatusOK:
				t.Errorf("GET /dashboard after the restart = %s to %q, want 200: the session did not survive", p.Status, p.Header.Get("Location"))
			case !tc.sessionSurvive && (p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login"):
				t.Errorf("GET /dashboard with a session signed by another secret = %s to %q, want 303 to /login", p.Status, p.Header.Get("Location"))
			}
			if !tc.sessionSurvive {
				// The sessions end, the account does not: passwords do not
				// depend on the secret.
				second.Client(t).MustLogin("ada@example.com", testPassword)
			}
		})
	}
}

func TestServePostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a := MustRun(t, map[string]string{"KEYHOLD_DATABASE_URL": dsn})
	c := a.Client(t)
	if p := c.Get("/readyz"); p.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %s, want 200", p.Status)
	}
	c.MustSignup("grace@example.com")
	p := c.mustDashboard("grace@example.com")
	if p.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 {
		t.Error("a new account's dashboard has no empty state")
	}
	// Duplicate e-mail addresses are refused by PostgreSQL's unique index,
	// whatever their case.
	other := a.Client(t)
	r := other.Submit("/signup", "/signup", url.Values{"email": {"Grace@Example.com"}, "password": {testPassword}})
	if r.StatusCode == http.StatusSeeOther {
		t.Errorf("a second sign-up with the same email in another case was accepted")
	}
}

// TestNoCommandServes checks that `keyhold` with no arguments serves.
func TestNoCommandServes(t *testing.T) {
	t.Parallel()
	a := mustStart(t, nil, nil)
	if p := a.Client(t).Get("/healthz"); p.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %s, want 200", p.Status)
	}
}

// TestGracefulShutdown stops the server while a request is in flight: its
// body is half sent. The listener must close at once, the request must
// still get its answer, and run must return nil only after that.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)

	conn, err := net.DialTimeout("tcp", a.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := url.Values{"email": {"ada@example.com"}, "password": {testPassword}, "_csrf": {"x"}}.Encode()
	half := len(body) / 2
	head := "POST /login HTTP/1.1\r\nHost: " + a.Addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+body[:half]); err != nil {
		t.Fatal(err)
	}
	// Let the server accept the connection, read the headers and start on
	// the request. Until its accept loop has taken the connection from the
	// kernel's backlog, a stop closes the listener and the connection with
	// it, and run returns at once: with 200 ms a loaded CI saw just that.
	time.Sleep(time.Second)

	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop() }()

	// New connections are refused soon after the cancel...
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", a.Addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 5s after the cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ...while run waits for the request in flight.
	select {
	case err := <-stopped:
		t.Fatalf("run returned (%v) while a request was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}

	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatalf("finishing the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	// No CSRF cookie was sent: the answer is the CSRF refusal, in full.
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the request in flight got %s, want 403 (no CSRF cookie)", resp.Status)
	}

	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("%v\nstderr:\n%s", err, a.Stderr)
		}
	case <-time.After(stopTimeout + time.Second):
		t.Fatal("run did not return after the last request ended")
	}
	if a.stopTook > 10*time.Second {
		t.Errorf("run took %v to return after the cancel", a.stopTook)
	}
	if c, err := net.DialTimeout("tcp", a.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after run returned", a.Addr)
	}
	if logs := a.Stderr.String(); !strings.Contains(logs, "shutting down") || !strings.Contains(logs, "stopped") {
		t.Errorf("the logs do not record the shutdown:\n%s", logs)
	}
}

// TestStopIsPrompt checks that an idle server stops at once.
func TestStopIsPrompt(t *testing.T) {
	t.Parallel()
	a := MustRun(t, nil)
	c := a.Client(t)
	c.Get("/healthz") // leaves an idle keep-alive connection open
	a.MustStop(t)
	// Idle connections close at once; the bound leaves room for a loaded
	// machine, far below the 15 s shutdown timeout.
	if a.stopTook > 5*time.Second {
		t.Errorf("run took %v to return after the cancel, want well under 5s", a.stopTook)
	}
	if conn, err := net.DialTimeout("tcp", a.Addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after run returned", a.Addr)
	}
}

// TestJSONLogs checks that KEYHOLD_LOG_FORMAT=json makes every log line a
// JSON object, and that a request's line carries its request id.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	a := MustRun(t, map[string]string{"KEYHOLD_LOG_FORMAT": "json"})
	c := a.Client(t)
	p := c.Get("/login")
	rid := p.Header.Get("X-Request-Id")
	if rid == "" {
		t.Fatal("GET /login has no X-Request-Id header")
	}
	a.MustStop(t)

	lines := strings.Split(strings.TrimSpace(a.Stderr.String()), "\n")
	var found bool
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not a JSON object: %q (%v)", line, err)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line has no %q: %s", k, line)
			}
		}
		if rec["msg"] == "request" && rec["request_id"] == rid {
			found = true
			if rec["path"] != "/login" || rec["status"] != float64(200) {
				t.Errorf("request line = %s, want path /login and status 200", line)
			}
		}
	}
	if !found {
		t.Errorf("no request line with request_id %q in:\n%s", rid, a.Stderr)
	}
}

// MustCreateKey creates a key through the new-key form and returns the
// secret that the created page shows once.
func (c *client) MustCreateKey(name, scopes string) string {
	c.tb.Helper()
	p := c.Submit("/keys/new", "/keys", url.Values{"name": {name}, "scopes": {scopes}})
	secret := strings.TrimSpace(p.Doc.Find(`[data-testid="new-key"]`).Text())
	if p.StatusCode != http.StatusOK || secret == "" {
		c.tb.Fatalf("creating key %q = %s with secret %q, want 200 and a secret; alert: %q", name, p.Status, secret, alert(p))
	}
	return secret
}

// verifyAnswer is the part of a /v1/verify answer that the tests read.
type verifyAnswer struct {
	Status int      `json:"-"`
	Valid  bool     `json:"valid"`
	Code   string   `json:"code"`
	Scopes []string `json:"scopes"`
	Quota  struct {
		Limit     int64 `json:"limit"`
		Remaining int64 `json:"remaining"`
	} `json:"quota"`
}

// verifyKey asks a's /v1/verify about key, as an API backend does.
func verifyKey(tb testing.TB, a *app, key string) verifyAnswer {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"key": key})
	resp, err := http.Post(a.URL+"/v1/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("POST /v1/verify: %v", err)
	}
	defer resp.Body.Close()
	var ans verifyAnswer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		tb.Fatalf("POST /v1/verify = %s with a body that is not JSON: %v", resp.Status, err)
	}
	ans.Status = resp.StatusCode
	return ans
}

// TestUsageSurvivesGracefulRestart counts verifications with a flush
// interval of an hour, so that only the flush of the graceful stop can save
// them, and checks that the next run goes on from there.
func TestUsageSurvivesGracefulRestart(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"KEYHOLD_USAGE_FLUSH_INTERVAL": "1h"}
			if db == "postgres" {
				env["KEYHOLD_DATABASE_URL"] = testenv.Postgres(t)
			}
			env = testEnv(t, env)
			first := MustRun(t, env)
			c := first.Client(t)
			c.MustSignup("ada@example.com")
			key := c.MustCreateKey("Production", "read")

			const n = 5
			var last verifyAnswer
			for i := range n {
				last = verifyKey(t, first, key)
				if last.Status != http.StatusOK || !last.Valid || last.Code != "VALID" {
					t.Fatalf("verification %d = %d %s, want 200 VALID", i+1, last.Status, last.Code)
				}
			}
			if last.Quota.Limit == 0 || last.Quota.Remaining != last.Quota.Limit-n {
				t.Fatalf("after %d verifications the quota is %+v, want %d used", n, last.Quota, n)
			}
			first.MustStop(t)

			second := MustRun(t, env)
			ans := verifyKey(t, second, key)
			if ans.Status != http.StatusOK || !ans.Valid {
				t.Fatalf("after the restart the key verifies as %d %s, want 200 VALID", ans.Status, ans.Code)
			}
			if want := last.Quota.Remaining - 1; ans.Quota.Remaining != want {
				t.Errorf("after the restart the quota has %d left, want %d: the graceful stop lost usage", ans.Quota.Remaining, want)
			}
		})
	}
}
