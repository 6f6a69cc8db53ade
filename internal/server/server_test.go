package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/tokens"
	"github.com/keyhold/keyhold/internal/verify"
)

// harness is a Keyhold server over a real SQLite database, with a log
// buffer tests can search.
type harness struct {
	t        testing.TB
	URL      string
	DB       *store.DB
	DBPath   string // the SQLite file, for tests that write rows by hand
	log      *testenv.LogBuffer
	Auth     *auth.Service
	Keys     *keys.Service
	Team     *team.Service
	RootKeys *rootkey.Service
	Verifier *verify.Verifier
	Billing  *billing.Service
	Tokens   *tokens.Service
	Webhooks *events.Service
	// Registry is the server's metrics registry, for tests that count
	// series; Handler serves requests in process, for tests that send
	// thousands.
	Registry *prometheus.Registry
	Handler  http.Handler
}

type option func(*server.Config, *store.DB)

func TestMain(m *testing.M) { testenv.Main(m) }

const testWebhookSecret = "whsec_keyhold_server_tests"

// withStripe turns billing on against stripe-mock.
func withStripe(tb testing.TB) option {
	return func(c *server.Config, db *store.DB) {
		b, err := billing.New(billing.Config{Store: db, Plans: c.Plans, BaseURL: c.BaseURL, SecretKey: "sk_test_123",
			APIBase: testenv.StripeMock(tb), WebhookSecret: testWebhookSecret})
		if err != nil {
			tb.Fatal(err)
		}
		b.Subscribe(c.Verifier.InvalidateAccount)
		c.Billing = b
	}
}

// withClock gives /v1/verify the clock now, so tests cross billing
// periods by moving it instead of waiting. The verifier's cache TTL is set
// past any jump such a test makes: past its TTL an entry answers while it
// is read again in the background, and a read started before a webhook
// could land after the webhook's invalidation, so what a test sees would
// depend on scheduling. Webhooks invalidate the cache themselves; the TTL
// has tests of its own.
func withClock(tb testing.TB, now func() time.Time) option {
	return func(c *server.Config, db *store.DB) {
		v, err := verify.New(verify.Config{Loader: db, Plans: c.Plans, Now: now, TTL: 10 * 365 * 24 * time.Hour})
		if err != nil {
			tb.Fatal(err)
		}
		c.Keys.Subscribe(func(e keys.Event) { v.InvalidateKey(e.KeyID) })
		c.Billing.Subscribe(v.InvalidateAccount)
		c.Auth.Subscribe(v.InvalidateAccount)
		c.Verifier = v
	}
}

// withBaseURL sets the public URL (e.g. https, for cookie names).
func withBaseURL(tb testing.TB, raw string) option {
	return func(c *server.Config, _ *store.DB) {
		u, err := url.Parse(raw)
		if err != nil {
			tb.Fatal(err)
		}
		c.BaseURL = u
	}
}

// MustServer starts a server on a fresh SQLite database.
func MustServer(tb testing.TB, opts ...option) *harness {
	tb.Helper()
	dbPath := filepath.Join(tb.TempDir(), "k.db")
	h := serverOn(tb, storetest.Open(tb, "sqlite://"+dbPath), opts...)
	h.DBPath = dbPath
	return h
}

// MustServerOnPostgres starts a server on a fresh PostgreSQL database, for
// the tests whose SQL must hold on both (DBPath is empty).
func MustServerOnPostgres(tb testing.TB, opts ...option) *harness {
	tb.Helper()
	return serverOn(tb, storetest.New(tb, storetest.Postgres), opts...)
}

func serverOn(tb testing.TB, db *store.DB, opts ...option) *harness {
	tb.Helper()
	ctx := context.Background()
	secret, err := db.Secret(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := auth.NewService(auth.Config{Store: db, Attempts: db, Secret: secret, Email: db, CheapHashing: true})
	if err != nil {
		tb.Fatal(err)
	}
	catalog, err := plans.New(plans.BuiltIn)
	if err != nil {
		tb.Fatal(err)
	}
	keySvc, err := keys.NewService(keys.Config{Store: db, Plans: catalog})
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := verify.New(verify.Config{Loader: db, Plans: catalog})
	if err != nil {
		tb.Fatal(err)
	}
	keySvc.Subscribe(func(e keys.Event) { verifier.InvalidateKey(e.KeyID) })
	base, _ := url.Parse("http://localhost:8080")
	billingSvc, err := billing.New(billing.Config{Store: db, Plans: catalog, BaseURL: base, WebhookSecret: testWebhookSecret})
	if err != nil {
		tb.Fatal(err)
	}
	billingSvc.Subscribe(verifier.InvalidateAccount)
	svc.Subscribe(verifier.InvalidateAccount) // suspensions
	teamSvc, err := team.NewService(team.Config{Store: db, Plans: catalog, NormalizeEmail: auth.NormalizeEmail})
	if err != nil {
		tb.Fatal(err)
	}
	rootKeySvc, err := rootkey.NewService(rootkey.Config{Store: db})
	if err != nil {
		tb.Fatal(err)
	}
	tokenSvc, err := tokens.New(tokens.Config{Store: db, Secret: secret, Issuer: base.String()})
	if err != nil {
		tb.Fatal(err)
	}
	noticeSvc, err := notices.New(notices.Config{Store: db})
	if err != nil {
		tb.Fatal(err)
	}
	// Insecure URLs are allowed: the tests' receivers are httptest
	// servers on loopback.
	webhookSvc, err := events.NewService(events.Config{Store: db, Secret: secret, AllowInsecure: true})
	if err != nil {
		tb.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	cfg := server.Config{Tokens: tokenSvc, Notices: noticeSvc, Webhooks: webhookSvc,
		Auth: svc, Keys: keySvc, Team: teamSvc, RootKeys: rootKeySvc, Plans: catalog, Verifier: verifier, Reads: db, APIStore: db, Billing: billingSvc, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BaseURL: base, Secret: secret, Ready: db.Ping, Registry: prometheus.NewRegistry(),
	}
	for _, o := range opts {
		o(&cfg, db)
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return &harness{t: tb, URL: ts.URL, DB: db, log: logs, Auth: cfg.Auth, Keys: cfg.Keys, Team: cfg.Team, RootKeys: cfg.RootKeys, Verifier: cfg.Verifier, Billing: cfg.Billing, Tokens: cfg.Tokens, Webhooks: cfg.Webhooks,
		Registry: cfg.Registry, Handler: srv}
}

// exec runs a statement written with ? placeholders by hand, on either
// database.
func (h *harness) exec(query string, args ...any) {
	h.t.Helper()
	if _, err := h.DB.SQL().ExecContext(context.Background(), h.rebind(query), args...); err != nil {
		h.t.Fatal(err)
	}
}

// queryRow reads one row of a query written with ? placeholders.
func (h *harness) queryRow(query string, args ...any) *sql.Row {
	return h.DB.SQL().QueryRowContext(context.Background(), h.rebind(query), args...)
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … there.
func (h *harness) rebind(query string) string {
	if !h.DB.Postgres() {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	h      *harness
	client *http.Client
	header http.Header // added to every request
}

func (h *harness) Browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, header: http.Header{}, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	*http.Response
	Body string
	Doc  *goquery.Document
}

func (b *browser) do(req *http.Request) *page {
	b.h.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
	return &page{Response: resp, Body: string(body), Doc: doc}
}

func (b *browser) Get(path string) *page {
	req, _ := http.NewRequest(http.MethodGet, b.h.URL+path, nil)
	return b.do(req)
}

// Post posts a form as is (no CSRF token added).
func (b *browser) Post(path string, form url.Values) *page {
	req, _ := http.NewRequest(http.MethodPost, b.h.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// Submit loads formPage, takes the CSRF token from its form and posts form
// to action with it, as a browser would.
func (b *browser) Submit(formPage, action string, form url.Values) *page {
	b.h.t.Helper()
	p := b.Get(formPage)
	tok, ok := p.Doc.Find(`form[action="` + action + `"] input[name="_csrf"]`).Attr("value")
	if !ok || tok == "" {
		b.h.t.Fatalf("no _csrf in the form for %s on %s (status %d)", action, formPage, p.StatusCode)
	}
	form.Set("_csrf", tok)
	return b.Post(action, form)
}

func (b *browser) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.h.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

const password = "correct horse battery"

// MustSignup signs a new account up in this browser.
func (b *browser) MustSignup(email string) {
	b.h.t.Helper()
	p := b.Submit("/signup", "/signup", url.Values{"email": {email}, "password": {password}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard" {
		b.h.t.Fatalf("signup: status %d, body %s", p.StatusCode, p.Body)
	}
}

func alert(p *page) string { return strings.TrimSpace(p.Doc.Find(`[role="alert"]`).Text()) }
