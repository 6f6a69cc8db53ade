package billing_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const whsec = "whsec_test_keyhold"

// stripeMockPrice is the price of the one subscription stripe-mock lists.
const stripeMockPrice = "price_1PgafmB7WZ01zgkW6dKueIc5"

var testPlans = []plans.Plan{
	{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10, Burst: 20, MonthlyQuota: 1000, MaxKeys: 3},
	{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_pro", RatePerSecond: 100, Burst: 200, MonthlyQuota: 100000, MaxKeys: 10},
	{ID: "business", Name: "Business", Price: "$249/mo", StripePriceID: stripeMockPrice, RatePerSecond: 1000, Burst: 2000, MonthlyQuota: 5000000, MaxKeys: 100},
}

// failing wraps the real store and makes SaveSubscription fail on demand,
// standing for a database failure inside the webhook's transaction, for
// the operator's tests (TestHandlerFailureIsRetried fails the real one).
type failing struct {
	*store.DB
	fail atomic.Bool
}

type failingTx struct {
	billing.Tx
	fail bool
}

var errInjected = errors.New("injected database failure")

func (t failingTx) SaveSubscription(s *billing.Subscription, plan string) error {
	if t.fail {
		return errInjected
	}
	return t.Tx.SaveSubscription(s, plan)
}

func (f *failing) ApplyEvent(ctx context.Context, ev billing.EventRecord, fn func(billing.Tx, string) (string, string, error)) error {
	fail := f.fail.Load()
	return f.DB.ApplyEvent(ctx, ev, func(tx billing.Tx, prior string) (string, string, error) { return fn(failingTx{tx, fail}, prior) })
}

type fixture struct {
	t       testing.TB
	db      *failing
	svc     *billing.Service
	account string
	changed atomic.Int64
	clock   *clock // the service's clock; it stands still until a test moves it
	kind    string // "sqlite" or "postgres"
	dsn     string // the database's URL, for tests that write to it by hand
}

// clock is a clock a test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// MustFixture builds a billing service over a fresh database (SQLite, or
// PostgreSQL when kind says so) and stripe-mock, with one account.
func MustFixture(t testing.TB, kind string, enabled bool) *fixture {
	t.Helper()
	dsn := storetest.URL(t, kind)
	db := storetest.Open(t, dsn)
	cat, err := plans.New(testPlans)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: &failing{DB: db}, clock: &clock{t: time.Now()}, kind: kind, dsn: dsn}
	base, _ := url.Parse("http://localhost:8080")
	cfg := billing.Config{Store: f.db, Plans: cat, BaseURL: base, WebhookSecret: whsec, Now: f.clock.Now}
	if enabled {
		cfg.SecretKey, cfg.APIBase = "sk_test_123", testenv.StripeMock(t)
	}
	f.svc, err = billing.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Subscribe(func(string) { f.changed.Add(1) })
	f.account = mustAccount(t, db, "ada@example.com")
	return f
}

// mustAccount creates a user with a personal account, which shares the
// user's id, and returns that id.
func mustAccount(t testing.TB, db *store.DB, email string) string {
	t.Helper()
	now := time.Now()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// as is the fixture's account's owner, or a member with another role,
// acting in it.
func (f *fixture) as(role team.Role) audit.Actor {
	return audit.Actor{UserID: f.account, AccountID: f.account, Role: string(role), IP: "127.0.0.1"}
}

// event is the data a testdata template is filled with.
type event struct {
	ID, Type, Customer, Subscription, Status, Price, Account string
	Created, SubCreated, PeriodStart, PeriodEnd              int64
	CanceledAt, CancelAtPeriodEnd                            string
	// CancelAt, EndedAt and PreviousAttributes are raw JSON; empty: null,
	// CanceledAt, and {} (what a plain update carries).
	CancelAt, EndedAt, PreviousAttributes string
}

var templates = template.Must(template.ParseGlob("testdata/*.json"))

// payload renders an event shaped as Stripe sends it.
func payload(t testing.TB, e event) []byte {
	t.Helper()
	if e.CanceledAt == "" {
		e.CanceledAt = "null"
	}
	if e.CancelAtPeriodEnd == "" {
		e.CancelAtPeriodEnd = "false"
	}
	if e.SubCreated == 0 {
		e.SubCreated = 1_700_000_000
	}
	if e.PeriodStart == 0 {
		e.PeriodStart, e.PeriodEnd = 1_764_547_200, 1_767_225_600 // 2025-12-01 .. 2026-01-01
	}
	name := e.Type + ".json"
	switch {
	case strings.HasPrefix(e.Type, "customer.subscription."):
		name = "customer.subscription.json"
	case strings.HasPrefix(e.Type, "invoice."):
		name = "invoice.json"
	case e.Type == "product.updated":
		name = "unknown.json"
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, e); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sign signs a payload as Stripe does, at time at.
func sign(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func (f *fixture) deliver(e event) error {
	body := payload(f.t, e)
	return f.svc.HandleWebhook(context.Background(), body, sign(body, whsec, time.Now()))
}

func (f *fixture) mustDeliver(e event) {
	f.t.Helper()
	if err := f.deliver(e); err != nil {
		f.t.Fatalf("deliver %s: %v", e.Type, err)
	}
}

func (f *fixture) state() (plan string, sub *billing.Subscription) {
	f.t.Helper()
	o, err := f.svc.Overview(context.Background(), f.account)
	if err != nil {
		f.t.Fatal(err)
	}
	return o.Plan.ID, o.Subscription
}

// link gives the account a Stripe customer, as Checkout would.
func (f *fixture) link(customer string) {
	f.t.Helper()
	if _, err := f.db.SetCustomerID(context.Background(), f.account, customer); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) events() map[string]string {
	f.t.Helper()
	rows, err := f.db.StripeEvents(context.Background(), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.ID] = r.Outcome
	}
	return out
}

func TestCheckoutAndPortal(t *testing.T) {
	f := MustFixture(t, "sqlite", true)
	ctx := context.Background()
	if _, err := f.svc.Portal(ctx, f.as(team.Owner)); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("portal without a customer: %v", err)
	}
	for _, plan := range []string{"free", "nope", ""} {
		if _, err := f.svc.Checkout(ctx, f.as(team.Owner), plan); keyhold.ErrorCode(err) != keyhold.EINVALID {
			t.Errorf("checkout for %q: %v", plan, err)
		}
	}
	u, err := f.svc.Checkout(ctx, f.as(team.Owner), "pro")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "https://checkout.stripe.com/") {
		t.Errorf("checkout URL %q", u)
	}
	c1, _ := f.db.Customer(ctx, f.account)
	if !strings.HasPrefix(c1.CustomerID, "cus_") {
		t.Fatalf("customer not linked: %+v", c1)
	}
	if _, err := f.svc.Checkout(ctx, f.as(team.Owner), "business"); err != nil {
		t.Fatal(err)
	}
	c2, _ := f.db.Customer(ctx, f.account)
	if c2.CustomerID != c1.CustomerID {
		t.Errorf("a second customer was made: %s then %s", c1.CustomerID, c2.CustomerID)
	}
	if plan, _ := f.state(); plan != "free" {
		t.Errorf("the plan changed before Stripe said so: %s", plan)
	}
	p, err := f.svc.Portal(ctx, f.as(team.Owner))
	if err != nil || !strings.HasPrefix(p, "https://") {
		t.Errorf("portal: %q %v", p, err)
	}
	// Subscribed accounts change plans in the portal.
	f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.created", Customer: c1.CustomerID, Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
	if _, err := f.svc.Checkout(ctx, f.as(team.Owner), "business"); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("checkout while subscribed: %v", err)
	}
}

// TestCheckoutRoles holds Checkout and Portal to team.Rules: a role that
// may not manage billing is refused before Stripe is asked, so no customer
// is made for it; one that may gets its URLs.
func TestCheckoutRoles(t *testing.T) {
	f := MustFixture(t, "sqlite", true)
	ctx := context.Background()
	for _, role := range team.Roles {
		t.Run(string(role), func(t *testing.T) {
			_, cerr := f.svc.Checkout(ctx, f.as(role), "pro")
			_, perr := f.svc.Portal(ctx, f.as(role))
			if team.Can(role, team.ManageBilling) {
				if cerr != nil || perr != nil {
					t.Fatalf("checkout %v, portal %v", cerr, perr)
				}
				return
			}
			for what, err := range map[string]error{"checkout": cerr, "portal": perr} {
				if !errors.Is(err, team.ErrForbidden) || keyhold.ErrorCode(err) != keyhold.EFORBIDDEN {
					t.Errorf("%s as %s: %v", what, role, err)
				}
			}
		})
	}
	// The allowed roles made a customer above; a fresh account that only
	// refused roles tried has none: the refusal came before Stripe.
	g := MustFixture(t, "sqlite", true)
	for _, role := range []team.Role{team.Developer, team.Viewer, ""} {
		if _, err := g.svc.Checkout(ctx, g.as(role), "pro"); keyhold.ErrorCode(err) != keyhold.EFORBIDDEN {
			t.Errorf("checkout as %q: %v", role, err)
		}
	}
	if c, err := g.db.Customer(ctx, g.account); err != nil || c.CustomerID != "" {
		t.Errorf("a refused checkout made a customer: %+v %v", c, err)
	}
}

func TestBillingOff(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	if f.svc.Enabled() {
		t.Fatal("enabled without a key")
	}
	if _, err := f.svc.Checkout(context.Background(), f.as(team.Owner), "pro"); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("checkout with billing off: %v", err)
	}
	if _, err := f.svc.Portal(context.Background(), f.as(team.Owner)); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("portal with billing off: %v", err)
	}
}

func TestStripeUnreachable(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	base, _ := url.Parse("http://localhost:8080")
	cat, _ := plans.New(testPlans)
	svc, err := billing.New(billing.Config{Store: f.db, Plans: cat, BaseURL: base, SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Checkout(context.Background(), f.as(team.Owner), "pro"); keyhold.ErrorCode(err) != keyhold.EUNAVAILABLE {
		t.Errorf("checkout with Stripe down: %v", err)
	}
}

func TestSignatures(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	body := payload(t, event{ID: "evt_sig", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
	oneOff := bytes.Replace(body, []byte(`"active"`), []byte(`"activf"`), 1)
	tests := map[string]struct {
		body []byte
		sig  string
	}{
		"payload one byte off": {oneOff, sign(body, whsec, time.Now())},
		"wrong secret":         {body, sign(body, "whsec_other", time.Now())},
		"six minutes old":      {body, sign(body, whsec, time.Now().Add(-6*time.Minute))},
		"no signature":         {body, ""},
		"garbage signature":    {body, "t=1,v1=abc"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := f.svc.HandleWebhook(context.Background(), tt.body, tt.sig)
			if keyhold.ErrorCode(err) != keyhold.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
	if plan, sub := f.state(); plan != "free" || sub != nil {
		t.Errorf("refused deliveries changed state: %s %+v", plan, sub)
	}
	if len(f.events()) != 0 {
		t.Errorf("refused deliveries were recorded: %v", f.events())
	}
	if err := f.svc.HandleWebhook(context.Background(), body, sign(body, whsec, time.Now().Add(-4*time.Minute))); err != nil {
		t.Errorf("a four-minute-old signature: %v", err)
	}
	if plan, _ := f.state(); plan != "pro" {
		t.Errorf("the good delivery did not apply: %s", plan)
	}
}

func TestWebhooksRefusedWithoutSecret(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	base, _ := url.Parse("http://localhost:8080")
	cat, _ := plans.New(testPlans)
	svc, _ := billing.New(billing.Config{Store: f.db, Plans: cat, BaseURL: base})
	body := payload(t, event{ID: "evt_x", Type: "product.updated", Created: 1})
	if err := svc.HandleWebhook(context.Background(), body, sign(body, whsec, time.Now())); keyhold.ErrorCode(err) != keyhold.EINVALID {
		t.Errorf("webhook without a configured secret: %v", err)
	}
}

// permutations returns every ordering of events.
func permutations(evs []event) [][]event {
	if len(evs) <= 1 {
		return [][]event{evs}
	}
	var out [][]event
	for i := range evs {
		rest := append(append([]event{}, evs[:i]...), evs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]event{evs[i]}, p...))
		}
	}
	return out
}

func TestOrderDoesNotMatter(t *testing.T) {
	completed := event{ID: "evt_c", Type: "checkout.session.completed", Customer: "cus_1", Subscription: "sub_1", Created: 100}
	created := event{ID: "evt_cr", Type: "customer.subscription.created", Customer: "cus_1", Subscription: "sub_1", Status: "incomplete", Price: "price_pro", Created: 101}
	active := event{ID: "evt_u", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 200}
	deleted := event{ID: "evt_d", Type: "customer.subscription.deleted", Customer: "cus_1", Subscription: "sub_1", Status: "canceled", Price: "price_pro", Created: 300, CanceledAt: "300"}
	cases := []struct {
		name       string
		events     []event
		wantPlan   string
		wantStatus string
	}{
		{"completed, created, updated", []event{completed, created, active}, "pro", "active"},
		{"completed, updated, deleted", []event{completed, active, deleted}, "free", "canceled"},
		{"all four", []event{completed, created, active, deleted}, "free", "canceled"},
	}
	for _, tc := range cases {
		for _, order := range permutations(tc.events) {
			var names []string
			for _, e := range order {
				names = append(names, strings.TrimPrefix(e.ID, "evt_"))
			}
			t.Run(tc.name+"/"+strings.Join(names, ","), func(t *testing.T) {
				f := MustFixture(t, "sqlite", false)
				for _, e := range order {
					e.Account = f.account
					f.mustDeliver(e)
				}
				plan, sub := f.state()
				if plan != tc.wantPlan || sub == nil || sub.Status != tc.wantStatus || sub.ID != "sub_1" {
					t.Errorf("got plan %s, subscription %+v; want %s/%s", plan, sub, tc.wantPlan, tc.wantStatus)
				}
			})
		}
	}
}

func TestStaleEventsChangeNothing(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	f.mustDeliver(event{ID: "evt_1", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 200})
	f.mustDeliver(event{ID: "evt_old", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "past_due", Price: "price_pro", Created: 150})
	if _, sub := f.state(); sub.Status != "active" {
		t.Errorf("an older event overwrote newer state: %s", sub.Status)
	}
	f.mustDeliver(event{ID: "evt_del", Type: "customer.subscription.deleted", Customer: "cus_1", Subscription: "sub_1", Status: "canceled", Price: "price_pro", Created: 300, CanceledAt: "300"})
	// A stale (or even later-stamped) updated after deleted changes nothing:
	// Stripe never reactivates a canceled subscription.
	for i, at := range []int64{250, 400} {
		f.mustDeliver(event{ID: fmt.Sprintf("evt_late%d", i), Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: at})
	}
	if plan, sub := f.state(); plan != "free" || sub.Status != "canceled" {
		t.Errorf("after deleted: %s %s", plan, sub.Status)
	}
	if got := f.events(); got["evt_old"] != billing.OutcomeIgnored || got["evt_late0"] != billing.OutcomeIgnored || got["evt_del"] != billing.OutcomeApplied {
		t.Errorf("outcomes: %v", got)
	}
	// A new subscription after a canceled one applies.
	f.mustDeliver(event{ID: "evt_new", Type: "customer.subscription.created", Customer: "cus_1", Subscription: "sub_2", Status: "active", Price: stripeMockPrice, Created: 500, SubCreated: 1_800_000_000})
	if plan, sub := f.state(); plan != "business" || sub.ID != "sub_2" {
		t.Errorf("new subscription: %s %+v", plan, sub)
	}
	// And late events of the old one stay ignored.
	f.mustDeliver(event{ID: "evt_old2", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "past_due", Price: "price_pro", Created: 600})
	if plan, sub := f.state(); plan != "business" || sub.ID != "sub_2" {
		t.Errorf("late event of the old subscription: %s %+v", plan, sub)
	}
}

func TestStatuses(t *testing.T) {
	for status, want := range map[string]string{
		"active": "pro", "trialing": "pro", "past_due": "pro",
		"canceled": "free", "unpaid": "free", "incomplete_expired": "free", "incomplete": "free",
	} {
		t.Run(status, func(t *testing.T) {
			f := MustFixture(t, "sqlite", false)
			f.link("cus_1")
			f.mustDeliver(event{ID: "evt_1", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: status, Price: "price_pro", Created: 100})
			if plan, _ := f.state(); plan != want {
				t.Errorf("status %s: plan %s, want %s", status, plan, want)
			}
		})
	}
}

func TestUnknownPriceAndEventType(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	f.mustDeliver(event{ID: "evt_price", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_unknown", Created: 100})
	if plan, sub := f.state(); plan != "free" || sub.Status != "active" {
		t.Errorf("unknown price: %s %+v", plan, sub)
	}
	f.mustDeliver(event{ID: "evt_product", Type: "product.updated", Created: 100})
	// An event for a customer no account has is acknowledged, not retried.
	f.mustDeliver(event{ID: "evt_stranger", Type: "customer.subscription.updated", Customer: "cus_stranger", Subscription: "sub_9", Status: "active", Price: "price_pro", Created: 100})
	if got := f.events(); got["evt_product"] != billing.OutcomeIgnored || got["evt_stranger"] != billing.OutcomeIgnored {
		t.Errorf("outcomes: %v", got)
	}
}

func TestInvoices(t *testing.T) {
	f := MustFixture(t, "sqlite", false)
	f.link("cus_1")
	f.mustDeliver(event{ID: "evt_sub", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
	f.mustDeliver(event{ID: "evt_fail", Type: "invoice.payment_failed", Customer: "cus_1", Subscription: "sub_1", Created: 300})
	f.mustDeliver(event{ID: "evt_paid_old", Type: "invoice.paid", Customer: "cus_1", Subscription: "sub_1", Created: 200})
	if _, sub := f.state(); sub.PaymentState != billing.PaymentFailed {
		t.Errorf("payment state %q, want failed", sub.PaymentState)
	}
	f.mustDeliver(event{ID: "evt_past_due", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "past_due", Price: "price_pro", Created: 301})
	if plan, sub := f.state(); plan != "pro" || sub.PaymentState != billing.PaymentFailed {
		t.Errorf("past_due keeps the plan and the payment state: %s %+v", plan, sub)
	}
	f.mustDeliver(event{ID: "evt_paid", Type: "invoice.paid", Customer: "cus_1", Subscription: "sub_1", Created: 400})
	if _, sub := f.state(); sub.PaymentState != billing.PaymentPaid {
		t.Errorf("payment state %q, want paid", sub.PaymentState)
	}
}

func TestDuplicateDeliveriesHaveOneEffect(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := MustFixture(t, kind, false)
			f.link("cus_1")
			body := payload(t, event{ID: "evt_dup", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100})
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.svc.HandleWebhook(context.Background(), body, sign(body, whsec, time.Now()))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a delivery failed: %v", err)
				}
			}
			if n := f.changed.Load(); n != 1 {
				t.Errorf("the event took effect %d times", n)
			}
			if got := f.events(); len(got) != 1 || got["evt_dup"] != billing.OutcomeApplied {
				t.Errorf("events: %v", got)
			}
		})
	}
}

// unwritable makes the subscriptions table refuse every write, on each
// database: a real failure inside the webhook's transaction (PostgreSQL
// aborts the whole transaction on it, SQLite only the statement).
var unwritable = map[string]struct{ on, off []string }{
	"sqlite": {
		on: []string{
			"CREATE TRIGGER subscriptions_no_insert BEFORE INSERT ON subscriptions BEGIN SELECT RAISE(ABORT, 'subscriptions are unwritable'); END",
			"CREATE TRIGGER subscriptions_no_update BEFORE UPDATE ON subscriptions BEGIN SELECT RAISE(ABORT, 'subscriptions are unwritable'); END",
		},
		off: []string{"DROP TRIGGER subscriptions_no_insert", "DROP TRIGGER subscriptions_no_update"},
	},
	"postgres": {
		on: []string{
			"CREATE FUNCTION subscriptions_unwritable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'subscriptions are unwritable'; END $$",
			"CREATE TRIGGER subscriptions_unwritable BEFORE INSERT OR UPDATE ON subscriptions FOR EACH ROW EXECUTE FUNCTION subscriptions_unwritable()",
		},
		off: []string{"DROP TRIGGER subscriptions_unwritable ON subscriptions"},
	},
}

// exec runs statements on the fixture's database through a connection of
// its own, as a failing disk or an operator would change it.
func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	driver, dsn := "sqlite", "file:"+strings.TrimPrefix(f.dsn, "sqlite://")+"?_pragma=busy_timeout(5000)"
	if f.kind == "postgres" {
		driver, dsn = "pgx", f.dsn // registered by gorm's PostgreSQL driver (pgx/v5/stdlib)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestHandlerFailureIsRetried: when the database refuses the event's
// write, HandleWebhook returns an internal error (5xx: Stripe retries),
// nothing of the event's effect is kept, the event is recorded as failed
// with its payload, and Stripe's retries after recovery apply it once.
func TestHandlerFailureIsRetried(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := MustFixture(t, kind, false)
			f.link("cus_1")
			ev := event{ID: "evt_retry", Type: "customer.subscription.updated", Customer: "cus_1", Subscription: "sub_1", Status: "active", Price: "price_pro", Created: 100}
			f.exec(unwritable[kind].on...)
			err := f.deliver(ev)
			if err == nil || keyhold.ErrorCode(err) != keyhold.EINTERNAL {
				t.Fatalf("a failing database must answer an internal error (5xx), got %v", err)
			}
			if plan, sub := f.state(); plan != "free" || sub != nil {
				t.Errorf("a failed event left an effect: %s %+v", plan, sub)
			}
			rows, _ := f.db.StripeEvents(context.Background(), 10)
			if len(rows) != 1 || rows[0].Outcome != billing.OutcomeFailed || rows[0].Payload == "" || !strings.Contains(rows[0].Detail, "unwritable") {
				t.Fatalf("the failure is not recorded for a retry: %+v", rows)
			}
			if n := f.changed.Load(); n != 0 {
				t.Errorf("plan-changed listeners ran %d times for a failed event", n)
			}
			// Stripe retries, twice; now the database works.
			f.exec(unwritable[kind].off...)
			f.mustDeliver(ev)
			f.mustDeliver(ev)
			if plan, _ := f.state(); plan != "pro" {
				t.Errorf("the retry did not apply: %s", plan)
			}
			if got := f.events(); got["evt_retry"] != billing.OutcomeApplied {
				t.Errorf("outcome after retry: %v", got)
			}
			if n := f.changed.Load(); n != 1 {
				t.Errorf("the retried event took effect %d times, want once", n)
			}
		})
	}
}

// reconcileRecords returns the records reconcile runs left, by id.
func (f *fixture) reconcileRecords() map[string]billing.EventRecord {
	f.t.Helper()
	rows, err := f.db.StripeEvents(context.Background(), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]billing.EventRecord{}
	for _, r := range rows {
		if r.Type == "reconcile" {
			out[r.ID] = r
		}
	}
	return out
}

// TestReconcile runs reconcile twice. stripe-mock lists one active
// subscription of customer cus_QXg1o8vcGmoR32 on stripeMockPrice (the
// business plan here): the first run applies it, as for a webhook we
// never received. The second run must compare what is stored with what
// Stripe says, whatever happened in between: report nothing to repair when
// they agree, and repair what changed locally.
func TestReconcile(t *testing.T) {
	const customer, sub = "cus_QXg1o8vcGmoR32", "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
	cases := []struct {
		name    string
		between func(f *fixture) // what happens between the runs
		want    int              // accounts the second run changes
		detail  string           // what the second run records
	}{
		{"unchanged, an hour later", func(f *fixture) { f.clock.Add(time.Hour) }, 0, "no change"},
		{"unchanged, in the same second", func(f *fixture) {}, 0, "no change"},
		{"a later event left it past_due", func(f *fixture) {
			f.mustDeliver(event{ID: "evt_past_due", Type: "customer.subscription.updated", Customer: customer, Subscription: sub,
				Status: "past_due", Price: stripeMockPrice, Created: f.clock.Now().Unix() + 1})
			f.clock.Add(time.Hour)
		}, 1, "active → plan business"},
		{"an event in the same second left it past_due", func(f *fixture) {
			f.mustDeliver(event{ID: "evt_past_due", Type: "customer.subscription.updated", Customer: customer, Subscription: sub,
				Status: "past_due", Price: stripeMockPrice, Created: f.clock.Now().Unix()})
		}, 1, "active → plan business"},
		{"the plan was changed under it", func(f *fixture) {
			// As a hand edit, or a plans file whose prices moved, would:
			// the subscription is Stripe's, the account's plan is not.
			e := audit.Entry{ID: keyhold.NewID(), AccountID: f.account, Action: audit.PlanAssigned, CreatedAt: f.clock.Now()}
			if err := f.db.AssignPlan(context.Background(), f.account, "pro", e); err != nil {
				f.t.Fatal(err)
			}
			f.clock.Add(time.Hour)
		}, 1, "active → plan business"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t, "sqlite", true)
			f.link(customer)
			var out bytes.Buffer
			n, err := f.svc.Reconcile(context.Background(), &out)
			if err != nil {
				t.Fatal(err)
			}
			if plan, s := f.state(); n != 1 || plan != "business" || s.Status != "active" || s.ID != sub {
				t.Fatalf("first reconcile: %d changed, plan %s, %+v\n%s", n, plan, s, out.String())
			}
			if !strings.Contains(out.String(), "1 subscriptions read from Stripe, 1 applied") {
				t.Errorf("output: %q", out.String())
			}
			first := f.reconcileRecords()

			tc.between(f)
			f.changed.Store(0)
			out.Reset()
			n, err = f.svc.Reconcile(context.Background(), &out)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want || f.changed.Load() != int64(tc.want) {
				t.Errorf("second reconcile changed %d accounts (%d announced), want %d\n%s", n, f.changed.Load(), tc.want, out.String())
			}
			if want := fmt.Sprintf("1 subscriptions read from Stripe, %d applied", tc.want); !strings.Contains(out.String(), want) {
				t.Errorf("second reconcile's output %q does not say %q", out.String(), want)
			}
			if plan, s := f.state(); plan != "business" || s.Status != "active" {
				t.Errorf("after the second reconcile: plan %s, status %s; want Stripe's business/active", plan, s.Status)
			}
			// The second run compared, and says what it found: a record
			// of its own, not the first run's taken for a duplicate.
			var second []billing.EventRecord
			for id, r := range f.reconcileRecords() {
				if _, ok := first[id]; !ok {
					second = append(second, r)
				}
			}
			if len(second) != 1 || !strings.Contains(second[0].Detail, tc.detail) {
				t.Errorf("second reconcile recorded %+v, want one record saying %q", second, tc.detail)
			}
		})
	}
}

// TestCheckoutForAnotherAccountsCustomer: a completed Checkout whose
// client_reference_id names one account but whose customer is already
// another account's (a forged or replayed session, a customer reused by
// hand in Stripe) must change neither account: the customer's owner keeps
// its plan and gets no subscription, the named account is not linked.
func TestCheckoutForAnotherAccountsCustomer(t *testing.T) {
	cases := []struct {
		name string
		// setup links customers; owner is the fixture's account, other a
		// second one. It returns the session's customer and account.
		setup      func(f *fixture, other string) (customer, reference string)
		wantDetail string
	}{
		{
			name: "customer linked to another account",
			setup: func(f *fixture, other string) (string, string) {
				f.link("cus_owner")
				return "cus_owner", other
			},
			wantDetail: "customer belongs to another account",
		},
		{
			name: "account linked to another customer",
			setup: func(f *fixture, other string) (string, string) {
				f.link("cus_owner")
				if _, err := f.db.SetCustomerID(context.Background(), other, "cus_other"); err != nil {
					t.Fatal(err)
				}
				return "cus_stranger", f.account
			},
			wantDetail: "customer is not linked to any account",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := MustFixture(t, "sqlite", false)
			ctx := context.Background()
			other := mustAccount(t, f.db.DB, "eve@example.com")
			// The owner is on a plan an operator gave it: a checkout
			// applied to it would put it back on the free plan.
			if err := f.svc.SetPlanManually(ctx, audit.Actor{}, f.account, "business"); err != nil {
				t.Fatal(err)
			}
			customer, reference := tc.setup(f, other)
			before := map[string]*billing.Customer{}
			for _, id := range []string{f.account, other} {
				c, err := f.db.Customer(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				before[id] = c
			}
			f.changed.Store(0)
			f.mustDeliver(event{ID: "evt_cs", Type: "checkout.session.completed", Customer: customer, Subscription: "sub_x", Account: reference, Created: 100})

			rec, err := f.db.StripeEvent(ctx, "evt_cs")
			if err != nil || rec.Outcome != billing.OutcomeIgnored || rec.Detail != tc.wantDetail {
				t.Errorf("event recorded as %+v (%v), want ignored: %s", rec, err, tc.wantDetail)
			}
			for id, want := range before {
				got, err := f.db.Customer(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if *got != *want {
					t.Errorf("account %s changed: %+v, was %+v", id, got, want)
				}
				if sub, err := f.db.Subscription(ctx, id); !errors.Is(err, billing.ErrNotFound) {
					t.Errorf("account %s got a subscription: %+v (%v)", id, sub, err)
				}
			}
			if n := f.changed.Load(); n != 0 {
				t.Errorf("plan-changed listeners ran %d times", n)
			}
		})
	}
}
