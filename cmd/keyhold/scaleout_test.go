package main

// End-to-end tests of DESIGN.md "Scale-out": two instances started through
// run, as main starts them, on one PostgreSQL database and one Redis, must
// give the same answers as one — and keep answering while Redis is away.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// scaleSecret is the KEYHOLD_SECRET every instance of a cluster shares, so
// that a session made on one is good on the other.
const scaleSecret = "scale-out-shared-secret-0123456789abcdef"

// testWebhookSigningSecret is STRIPE_WEBHOOK_SECRET of the billing tests.
const testWebhookSigningSecret = "whsec_keyhold_e2e_0123456789"

// writePlansFile writes a KEYHOLD_PLANS_FILE with list and returns its path.
func writePlansFile(tb testing.TB, list ...plans.Plan) string {
	tb.Helper()
	b, err := json.Marshal(list)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "plans.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// scaleEnv is the environment of the instances of one cluster: a new
// PostgreSQL database, the Redis at redisURL, the shared secret, usage
// flushed every 100 ms and the plans file; extra overrides it.
func scaleEnv(tb testing.TB, redisURL, plansFile string, extra map[string]string) map[string]string {
	tb.Helper()
	env := map[string]string{
		"KEYHOLD_DATABASE_URL":         testenv.Postgres(tb),
		"KEYHOLD_REDIS_URL":            redisURL,
		"KEYHOLD_SECRET":               scaleSecret,
		"KEYHOLD_USAGE_FLUSH_INTERVAL": "100ms",
		"KEYHOLD_PLANS_FILE":           plansFile,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startPair starts instances A and B with the same environment.
func startPair(tb testing.TB, env map[string]string) (a, b *app) {
	tb.Helper()
	return MustRun(tb, env), MustRun(tb, env)
}

// scaleAnswer is a /v1/verify answer with everything these tests read.
type scaleAnswer struct {
	Status     int    `json:"-"`
	RetryAfter string `json:"-"`
	Raw        string `json:"-"`

	Valid     bool   `json:"valid"`
	Code      string `json:"code"`
	KeyID     string `json:"key_id"`
	OwnerID   string `json:"owner_id"`
	Name      string `json:"name"`
	Plan      string `json:"plan"`
	RateLimit struct {
		Limit     int64 `json:"limit"`
		Remaining int64 `json:"remaining"`
	} `json:"ratelimit"`
	Quota struct {
		Limit     int64     `json:"limit"`
		Remaining int64     `json:"remaining"`
		Reset     time.Time `json:"reset"`
		Scope     string    `json:"scope"`
	} `json:"quota"`
}

func (a scaleAnswer) String() string { return fmt.Sprintf("%d %s", a.Status, a.Raw) }

// verifyHTTP keeps enough idle connections for the concurrent calls of
// these tests, so they measure Keyhold rather than TCP handshakes.
var verifyHTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
	MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second,
}}

// tryVerify asks base's /v1/verify about key, requiring scopes; safe in
// any goroutine.
func tryVerify(base, key string, scopes ...string) (scaleAnswer, error) {
	req := map[string]any{"key": key}
	if len(scopes) > 0 {
		req["scopes"] = scopes
	}
	body, _ := json.Marshal(req)
	resp, err := verifyHTTP.Post(base+"/v1/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		return scaleAnswer{}, err
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(resp.Body); err != nil {
		return scaleAnswer{}, err
	}
	var ans scaleAnswer
	if err := json.Unmarshal(raw.Bytes(), &ans); err != nil {
		return scaleAnswer{}, fmt.Errorf("POST /v1/verify = %s with a body that is not JSON: %q", resp.Status, raw.String())
	}
	ans.Status, ans.RetryAfter, ans.Raw = resp.StatusCode, resp.Header.Get("Retry-After"), raw.String()
	return ans, nil
}

// mustVerify is tryVerify against a that fails the test on a transport
// error.
func mustVerify(tb testing.TB, a *app, key string, scopes ...string) scaleAnswer {
	tb.Helper()
	ans, err := tryVerify(a.URL, key, scopes...)
	if err != nil {
		tb.Fatalf("POST %s/v1/verify: %v", a.URL, err)
	}
	return ans
}

// wantCode fails the test unless ans has status and code.
func wantCode(tb testing.TB, what string, ans scaleAnswer, status int, code string) {
	tb.Helper()
	if ans.Status != status || ans.Code != code {
		tb.Fatalf("%s: got %s, want %d %s", what, ans, status, code)
	}
}

// newAccountWithKey signs up email on a and creates a key with scope
// "read" through the forms; it returns the client and the key.
func newAccountWithKey(tb testing.TB, a *app, email string) (*client, string) {
	tb.Helper()
	c := a.Client(tb)
	c.MustSignup(email)
	key := c.MustCreateKey("Production", "read")
	return c, key
}

// metric returns the value of an unlabelled metric on a's /metrics.
func metric(a *app, name string) (float64, error) {
	resp, err := verifyHTTP.Get(a.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics = %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// readiness returns a's /readyz status and body.
func readiness(a *app) (int, map[string]string, error) {
	resp, err := verifyHTTP.Get(a.URL + "/readyz")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET /readyz = %s with a body that is not JSON: %v", resp.Status, err)
	}
	return resp.StatusCode, body, nil
}

// eventually polls cond every 50 ms until it reports true or timeout
// passes, then fails the test with what and cond's last word.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not so after %v; last: %s", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFallback waits until keyhold_redis_fallback is want on every app.
func waitFallback(tb testing.TB, want float64, timeout time.Duration, apps ...*app) {
	tb.Helper()
	for i, x := range apps {
		eventually(tb, timeout, fmt.Sprintf("keyhold_redis_fallback = %v on instance %d", want, i+1), func() (bool, string) {
			v, err := metric(x, "keyhold_redis_fallback")
			if err != nil {
				return false, err.Error()
			}
			return v == want, fmt.Sprint(v)
		})
	}
}

// stripeEventJSON renders one of internal/billing's Stripe-shaped event
// fixtures with data, as Stripe would send it.
func stripeEventJSON(tb testing.TB, file string, data map[string]any) []byte {
	tb.Helper()
	tpl, err := template.ParseFiles(filepath.Join("..", "..", "internal", "billing", "testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	vals := map[string]any{"CanceledAt": "null", "CancelAtPeriodEnd": "false", "SubCreated": time.Now().Unix(),
		"PeriodStart": time.Now().Add(-24 * time.Hour).Unix(), "PeriodEnd": time.Now().Add(29 * 24 * time.Hour).Unix(), "Account": ""}
	for k, v := range data {
		vals[k] = v
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, vals); err != nil {
		tb.Fatal(err)
	}
	if !json.Valid(b.Bytes()) {
		tb.Fatalf("%s rendered to JSON that is not valid:\n%s", file, b.String())
	}
	return b.Bytes()
}

// postStripeWebhook posts body to a's /webhooks/stripe, signed with
// testWebhookSigningSecret as Stripe signs it, and returns the answer.
func postStripeWebhook(tb testing.TB, a *app, body []byte) (int, string) {
	tb.Helper()
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: testWebhookSigningSecret, Timestamp: time.Now()}).Header
	req, err := http.NewRequest(http.MethodPost, a.URL+"/webhooks/stripe", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", sig)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := verifyHTTP.Do(req)
	if err != nil {
		tb.Fatalf("POST /webhooks/stripe: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// stripeCustomerOf returns the Stripe customer that Checkout created for
// accountID (stripe-mock makes a new id each time, and no page shows it).
func stripeCustomerOf(tb testing.TB, databaseURL, accountID string) string {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	cus, err := db.Customer(ctx, accountID)
	if err != nil {
		tb.Fatalf("customer of account %s: %v", accountID, err)
	}
	if cus.CustomerID == "" {
		tb.Fatalf("account %s has no Stripe customer after Checkout", accountID)
	}
	return cus.CustomerID
}

// mustCheckout posts the upgrade form of /billing for plan and checks that
// it redirects (303) to Stripe Checkout.
func mustCheckout(tb testing.TB, c *client, plan string) string {
	tb.Helper()
	r := c.Submit("/billing", "/billing/checkout", url.Values{"plan": {plan}})
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://checkout.stripe.com/") {
		tb.Fatalf("upgrade to %s = %s to %q, want 303 to https://checkout.stripe.com/…; alert %q", plan, r.Status, loc, alert(r))
	}
	return loc
}

// monthBounds is the calendar month in UTC holding now.
func monthBounds(now time.Time) (start, end time.Time) {
	now = now.UTC()
	start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// TestScaleOutShared runs two instances that share PostgreSQL and Redis,
// with a quota of 50 and a rate limit too high to matter: on a Redis and
// on a Redis Cluster.
func TestScaleOutShared(t *testing.T) {
	t.Parallel()
	eachScaleRedis(t, scaleOutShared)
}

func scaleOutShared(t *testing.T, redisURL string) {
	const quota = 50
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	a, b := startPair(t, scaleEnv(t, redisURL, plansFile, nil))

	t.Run("KeyCreatedOnAVerifiesOnB", func(t *testing.T) {
		t.Parallel()
		c, key := newAccountWithKey(t, a, "create@example.com")
		ans := mustVerify(t, b, key)
		wantCode(t, "the key created on A, verified on B", ans, http.StatusOK, "VALID")
		if !ans.Valid || ans.Name != "Production" || ans.Plan != "free" || ans.KeyID == "" || ans.OwnerID == "" ||
			ans.Quota.Limit != quota || ans.Quota.Remaining != quota-1 {
			t.Errorf("B's answer = %s, want the key Production on plan free with %d of %d left", ans, quota-1, quota)
		}
		// The same secret signs sessions on both: A's session opens B's
		// pages, which list the key.
		ck := c.SessionCookie()
		if ck == nil {
			t.Fatal("no session cookie after sign-up")
		}
		onB := b.Client(t)
		u, _ := url.Parse(b.URL)
		onB.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
		p := onB.Get("/keys")
		if p.StatusCode != http.StatusOK {
			t.Fatalf("GET /keys on B with A's session = %s (Location %q), want 200", p.Status, p.Header.Get("Location"))
		}
		if n := p.Doc.Find(`[data-testid="key-row"][data-key-id="` + ans.KeyID + `"]`).Length(); n != 1 {
			t.Errorf("B's key list has %d rows for the key, want 1", n)
		}
		// And A agrees with B on the count.
		if ans := mustVerify(t, a, key); ans.Status != http.StatusOK || ans.Quota.Remaining != quota-2 {
			t.Errorf("A after B: %s, want %d left", ans, quota-2)
		}
	})

	t.Run("QuotaExactOverBoth", func(t *testing.T) {
		t.Parallel()
		_, key := newAccountWithKey(t, a, "quota@example.com")
		const extra = 60
		type out struct {
			ans scaleAnswer
			err error
		}
		results := make(chan out, quota+extra)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range quota + extra {
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			wg.Go(func() {
				<-start
				ans, err := tryVerify(base, key)
				results <- out{ans, err}
			})
		}
		close(start)
		wg.Wait()
		close(results)
		codes := map[string]int{}
		for o := range results {
			if o.err != nil {
				t.Errorf("a verification failed: %v", o.err)
				continue
			}
			codes[o.ans.Code]++
			switch o.ans.Code {
			case "VALID":
				if o.ans.Status != http.StatusOK {
					t.Errorf("VALID with status %d", o.ans.Status)
				}
			case "QUOTA_EXCEEDED":
				if o.ans.Status != http.StatusTooManyRequests || o.ans.RetryAfter == "" || o.ans.Quota.Remaining != 0 {
					t.Errorf("QUOTA_EXCEEDED answer %s (Retry-After %q), want 429 with Retry-After and 0 left", o.ans, o.ans.RetryAfter)
				}
			default:
				t.Errorf("unexpected answer %s", o.ans)
			}
		}
		if codes["VALID"] != quota || codes["QUOTA_EXCEEDED"] != extra {
			t.Errorf("%d concurrent calls over A and B with a quota of %d gave %v, want exactly %d VALID and %d QUOTA_EXCEEDED",
				quota+extra, quota, codes, quota, extra)
		}
		for i, x := range []*app{a, b} {
			ans := mustVerify(t, x, key)
			wantCode(t, fmt.Sprintf("the next call on instance %d", i+1), ans, http.StatusTooManyRequests, "QUOTA_EXCEEDED")
			if ans.Quota.Limit != quota || ans.Quota.Remaining != 0 {
				t.Errorf("instance %d after the quota: %s, want 0 of %d left", i+1, ans, quota)
			}
		}
	})

	t.Run("RevokeOnAIsSeenByBAtOnce", func(t *testing.T) {
		t.Parallel()
		c, key := newAccountWithKey(t, a, "revoke@example.com")
		var id string
		for i := range 2 { // cached on B
			ans := mustVerify(t, b, key)
			wantCode(t, fmt.Sprintf("verification %d on B", i+1), ans, http.StatusOK, "VALID")
			id = ans.KeyID
		}
		p := c.Submit("/keys/"+id, "/keys/"+id+"/revoke", url.Values{})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoking on A = %s, want 303; alert %q", p.Status, alert(p))
		}
		// The very next call on B, with no wait for any broadcast.
		ans := mustVerify(t, b, key)
		wantCode(t, "B's next call after the revoke on A", ans, http.StatusUnauthorized, "REVOKED")
		if ans.Valid || ans.KeyID != id {
			t.Errorf("B's answer %s, want valid false for key %s", ans, id)
		}
		wantCode(t, "A's next call after its revoke", mustVerify(t, a, key), http.StatusUnauthorized, "REVOKED")
		// Revoked calls took nothing: the key used 2 of its quota.
		if ans.Quota.Remaining != quota-2 {
			t.Errorf("quota after the revoke: %s, want %d left", ans, quota-2)
		}
	})
}

// TestScaleOutRateLimitAndUpgrade runs two instances with Stripe (against
// stripe-mock) on a catalog whose free plan allows 3 calls a second with a
// burst of 3.
func TestScaleOutRateLimitAndUpgrade(t *testing.T) {
	t.Parallel()
	const freeQuota, proQuota = 1000, 100_000
	plansFile := writePlansFile(t,
		plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 3, Burst: 3, MonthlyQuota: freeQuota, MaxKeys: 3},
		plans.Plan{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_pro", RatePerSecond: 100, Burst: 200, MonthlyQuota: proQuota, MaxKeys: 10},
	)
	r := testenv.PrivateRedis(t)
	env := scaleEnv(t, r.URL(), plansFile, map[string]string{
		"STRIPE_SECRET_KEY":     "sk_test_123",
		"STRIPE_API_BASE":       testenv.StripeMock(t),
		"STRIPE_WEBHOOK_SECRET": testWebhookSigningSecret,
	})
	a, b := startPair(t, env)

	t.Run("RateLimitSharedNotDoubled", func(t *testing.T) {
		t.Parallel()
		_, key := newAccountWithKey(t, a, "rate@example.com")
		// Cache the key and open a connection on both instances without
		// taking anything: a call that lacks a scope takes nothing.
		for i, x := range []*app{a, b} {
			wantCode(t, fmt.Sprintf("warm-up on instance %d", i+1), mustVerify(t, x, key, "admin"), http.StatusForbidden, "INSUFFICIENT_SCOPE")
		}
		spent := int64(0) // quota taken by attempts given up on
		for attempt := 1; ; attempt++ {
			var answers [10]scaleAnswer
			began := time.Now()
			for i := range answers {
				x := a
				if i%2 == 1 {
					x = b
				}
				answers[i] = mustVerify(t, x, key)
			}
			// 3/s refills one call every 333 ms: only a burst that fits in
			// well under that is exact. A loaded machine gets a second try
			// once the limiter is full again.
			if took := time.Since(began); took > 250*time.Millisecond && attempt < 3 {
				t.Logf("attempt %d: 10 calls took %v; the limiter refilled meanwhile, trying again", attempt, took)
				for _, ans := range answers {
					if ans.Code == "VALID" {
						spent++
					}
				}
				time.Sleep(1200 * time.Millisecond)
				continue
			}
			quotaLeft := freeQuota - spent
			for i, ans := range answers {
				what := fmt.Sprintf("call %d of 10 (instance %d)", i+1, i%2+1)
				if ans.RateLimit.Limit != 3 {
					t.Errorf("%s: %s, want a rate limit of 3", what, ans)
				}
				if i < 3 {
					wantCode(t, what, ans, http.StatusOK, "VALID")
					if ans.RateLimit.Remaining != int64(2-i) || ans.Quota.Remaining != quotaLeft-1-int64(i) {
						t.Errorf("%s: %s, want %d calls and %d quota left", what, ans, 2-i, quotaLeft-1-int64(i))
					}
					continue
				}
				wantCode(t, what, ans, http.StatusTooManyRequests, "RATE_LIMITED")
				if ans.RetryAfter == "" || ans.RateLimit.Remaining != 0 || ans.Quota.Remaining != quotaLeft-3 {
					t.Errorf("%s: %s (Retry-After %q), want Retry-After, 0 calls left and the quota untouched (%d left)",
						what, ans, ans.RetryAfter, quotaLeft-3)
				}
			}
			break
		}
	})

	t.Run("UpgradeWebhookOnAReachesB", func(t *testing.T) {
		t.Parallel()
		c, key := newAccountWithKey(t, a, "upgrade@example.com")
		var owner string
		for i := range 2 { // cached on B, with the free plan
			ans := mustVerify(t, b, key)
			wantCode(t, fmt.Sprintf("verification %d on B", i+1), ans, http.StatusOK, "VALID")
			if ans.Plan != "free" || ans.RateLimit.Limit != 3 || ans.Quota.Limit != freeQuota || ans.Quota.Remaining != int64(freeQuota-1-i) {
				t.Fatalf("before the upgrade B answers %s, want plan free, burst 3, %d of %d left", ans, freeQuota-1-i, freeQuota)
			}
			owner = ans.OwnerID
		}
		// Checkout on A creates the Stripe customer and links it.
		mustCheckout(t, c, "pro")
		customer := stripeCustomerOf(t, env["KEYHOLD_DATABASE_URL"], owner)

		// Stripe tells A that the subscription is active. Its period is the
		// calendar month, so the quota window stays the same and the usage
		// so far carries over.
		start, end := monthBounds(time.Now())
		now := time.Now().Unix()
		body := stripeEventJSON(t, "customer.subscription.json", map[string]any{
			"ID": "evt_scaleout_up", "Type": "customer.subscription.created", "Created": now,
			"Customer": customer, "Subscription": "sub_scaleout", "Status": "active", "Price": "price_pro",
			"Account": owner, "SubCreated": now, "PeriodStart": start.Unix(), "PeriodEnd": end.Unix(),
		})
		if code, resp := postStripeWebhook(t, a, body); code != http.StatusOK {
			t.Fatalf("webhook on A = %d %s, want 200", code, resp)
		}

		// B's very next answer has Pro's limits and the usage so far.
		ans := mustVerify(t, b, key)
		wantCode(t, "B's next call after the upgrade on A", ans, http.StatusOK, "VALID")
		if ans.Plan != "pro" || ans.RateLimit.Limit != 200 || ans.Quota.Limit != proQuota || ans.Quota.Remaining != proQuota-3 {
			t.Errorf("after the upgrade B answers %s, want plan pro, burst 200, %d of %d left", ans, proQuota-3, proQuota)
		}
		if !ans.Quota.Reset.Equal(end) {
			t.Errorf("quota reset %v, want the period end %v", ans.Quota.Reset, end)
		}
		ans = mustVerify(t, a, key)
		if ans.Plan != "pro" || ans.Quota.Remaining != proQuota-4 {
			t.Errorf("after the upgrade A answers %s, want plan pro with %d left", ans, proQuota-4)
		}
	})
}

// TestScaleOutRedisOutage takes Redis away under traffic on both
// instances, killed (back empty: no persistence) or stalled (SIGSTOP: back
// with its data, running the commands whose replies timed out): they must
// keep answering, say so in /metrics and /readyz, share counts again once
// Redis is back, and have counted every call exactly once, in Redis and in
// the database.
func TestScaleOutRedisOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		out, back func(*testenv.RedisServer)
	}{
		{"Killed", (*testenv.RedisServer).Stop, (*testenv.RedisServer).Start},
		{"Stalled", (*testenv.RedisServer).Stall, (*testenv.RedisServer).Resume},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redisOutageUnderTraffic(t, tc.out, tc.back)
		})
	}
}

func redisOutageUnderTraffic(t *testing.T, out, back func(*testenv.RedisServer)) {
	const quota = 1_000_000
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 100_000, Burst: 100_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	env := scaleEnv(t, r.URL(), plansFile, nil)
	a, b := startPair(t, env)
	_, key := newAccountWithKey(t, a, "outage@example.com")
	apps := []*app{a, b}
	waitFallback(t, 0, 5*time.Second, apps...)

	var (
		mu    sync.Mutex
		valid int
		bad   []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		x := apps[i%2]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ans, err := tryVerify(x.URL, key)
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, err.Error())
				case ans.Status == http.StatusOK && ans.Code == "VALID":
					valid++
				default:
					bad = append(bad, ans.String())
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	stopTraffic := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopTraffic()

	time.Sleep(300 * time.Millisecond)
	out(r)
	// Both notice (their own calls fail over to local counting) and say so.
	waitFallback(t, 1, 5*time.Second, apps...)
	for i, x := range apps {
		status, body, err := readiness(x)
		if err != nil || status != http.StatusOK || body["redis"] != "down" || body["database"] != "ok" {
			t.Errorf("instance %d /readyz during the outage = %d %v (%v), want 200 with \"redis\":\"down\"", i+1, status, body, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // traffic on local counting
	back(r)
	waitFallback(t, 0, 5*time.Second, apps...)
	for i, x := range apps {
		status, body, err := readiness(x)
		if err != nil || status != http.StatusOK || body["redis"] != "ok" {
			t.Errorf("instance %d /readyz after the outage = %d %v (%v), want 200 with \"redis\":\"ok\"", i+1, status, body, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // traffic on shared counting again
	stopTraffic()

	mu.Lock()
	if len(bad) > 0 {
		t.Errorf("%d of %d answers during the outage were not 200 VALID; the first: %s", len(bad), len(bad)+valid, bad[0])
	}
	total := valid
	mu.Unlock()
	if total == 0 {
		t.Fatal("no verification succeeded")
	}
	for i, x := range apps {
		// At least this outage (a reply slower than the 250 ms timeout on a
		// loaded machine counts as one more).
		if v, err := metric(x, "keyhold_redis_outages_total"); err != nil || v < 1 {
			t.Errorf("instance %d: keyhold_redis_outages_total = %v (%v), want at least 1", i+1, v, err)
		}
		if v, err := metric(x, "keyhold_redis_fallback_verifications_total"); err != nil || v < 1 {
			t.Errorf("instance %d: keyhold_redis_fallback_verifications_total = %v (%v), want the calls it counted alone", i+1, v, err)
		}
	}

	// Shared counting resumed: calls alternating between the instances
	// count down one quota unit each, as on one instance.
	prev := mustVerify(t, a, key)
	wantCode(t, "first call after the outage", prev, http.StatusOK, "VALID")
	for i := 1; i <= 6; i++ {
		x := apps[i%2]
		ans := mustVerify(t, x, key)
		wantCode(t, fmt.Sprintf("call %d after the outage", i+1), ans, http.StatusOK, "VALID")
		if ans.Quota.Remaining != prev.Quota.Remaining-1 {
			t.Errorf("call %d after the outage (instance %d): %d left, want %d: the instances do not share counts",
				i+1, i%2+1, ans.Quota.Remaining, prev.Quota.Remaining-1)
		}
		prev = ans
	}
	// Every call granted, on either instance, shared or counted alone, is
	// in the shared count once: no quota given away, none counted twice.
	granted := int64(total + 7)
	if want := quota - granted; prev.Quota.Remaining != want {
		t.Errorf("after %d valid calls the quota shows %d left, want exactly %d (off by %d)",
			granted, prev.Quota.Remaining, want, prev.Quota.Remaining-want)
	}
	// And in the database once, after the next flushes (every 100 ms).
	db, err := store.Open(context.Background(), env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start, _ := monthBounds(time.Now())
	eventually(t, 5*time.Second, fmt.Sprintf("usage in the database = the %d calls granted", granted), func() (bool, string) {
		used, err := db.QuotaUsed(context.Background(), prev.KeyID, start)
		if err != nil {
			return false, err.Error()
		}
		return used == granted, fmt.Sprint(used)
	})
}

// verifyShared verifies key on x until one call is counted in Redis
// rather than locally (a call that meets a pooled connection to the Redis
// that is gone falls back to local counting until the instance's probe
// finds Redis again). It returns the last answer and how many calls it
// made, all of which must be VALID.
func verifyShared(tb testing.TB, x *app, key string) (scaleAnswer, int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for calls := 1; ; calls++ {
		waitFallback(tb, 0, 5*time.Second, x)
		before, err := metric(x, "keyhold_redis_fallback_verifications_total")
		if err != nil {
			tb.Fatal(err)
		}
		ans := mustVerify(tb, x, key)
		wantCode(tb, "a call after Redis restarted", ans, http.StatusOK, "VALID")
		after, err := metric(x, "keyhold_redis_fallback_verifications_total")
		if err != nil {
			tb.Fatal(err)
		}
		if after == before {
			return ans, calls
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no call was counted in Redis within 10s after it came back")
		}
	}
}

// TestScaleOutRedisDataLossReseed restarts Redis with its data lost while
// both instances run. Instance A last saw the shared count when it was 1;
// B then counted 20 more, which reached the database. The window missing
// from Redis must be re-seeded with the count of every instance (README:
// "A quota window missing from Redis is seeded from the database"), not
// with what A alone last knew.
func TestScaleOutRedisDataLossReseed(t *testing.T) {
	t.Parallel()
	const quota = 1000
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	a, b := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))
	_, key := newAccountWithKey(t, a, "reseed@example.com")

	n := 0
	wantCode(t, "the call on A", mustVerify(t, a, key), http.StatusOK, "VALID")
	n++
	const onB = 20
	for range onB {
		wantCode(t, "a call on B", mustVerify(t, b, key), http.StatusOK, "VALID")
		n++
	}
	time.Sleep(500 * time.Millisecond) // several flushes: the database has all 21

	r.Stop()
	r.Start() // empty: no persistence
	// A reaches the empty Redis first, then B, then each once more.
	_, calls := verifyShared(t, a, key)
	n += calls
	_, calls = verifyShared(t, b, key)
	n += calls
	var last scaleAnswer
	for _, x := range []*app{a, b} {
		last = mustVerify(t, x, key)
		wantCode(t, "a call after Redis restarted", last, http.StatusOK, "VALID")
		n++
	}
	if want := int64(quota - n); last.Quota.Remaining != want {
		t.Errorf("after %d valid calls and a Redis restart that lost its data, the quota shows %d left, want %d",
			n, last.Quota.Remaining, want)
	}
}

// TestScaleOutRedisDataLossLocalCountsOnce: both instances count calls
// alone while Redis is down, and these reach the database (flushed every
// 100 ms). Redis comes back empty; A re-seeds the window from the
// database, which holds every call, B's too. B's calls counted alone must
// then not be added to Redis a second time.
func TestScaleOutRedisDataLossLocalCountsOnce(t *testing.T) {
	t.Parallel()
	const quota, onA, onB = 1000, 5, 10
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	a, b := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))
	_, key := newAccountWithKey(t, a, "alone@example.com")

	n := 0
	for _, x := range []*app{a, b} {
		wantCode(t, "a call before the outage", mustVerify(t, x, key), http.StatusOK, "VALID")
		n++
	}
	r.Stop()
	for i, x := range []*app{a, b} {
		for range []int{onA, onB}[i] {
			wantCode(t, "a call while Redis is down", mustVerify(t, x, key), http.StatusOK, "VALID")
			n++
		}
	}
	waitFallback(t, 1, 5*time.Second, a, b)
	time.Sleep(500 * time.Millisecond) // several flushes: the database has every call
	r.Start()                          // empty: no persistence

	// A reaches the empty Redis first and seeds it, then B.
	_, calls := verifyShared(t, a, key)
	n += calls
	_, calls = verifyShared(t, b, key)
	n += calls
	var last scaleAnswer
	for _, x := range []*app{a, b} {
		last = mustVerify(t, x, key)
		wantCode(t, "a call after Redis came back", last, http.StatusOK, "VALID")
		n++
	}
	want := int64(quota - n)
	if last.Quota.Remaining != want {
		t.Errorf("after %d valid calls (%d and %d counted alone by A and B) and a Redis restart that lost its data, "+
			"the quota shows %d left, want %d", n, onA, onB, last.Quota.Remaining, want)
	}
}

// TestScaleOutRedisRecoveryNoDoubleCount counts calls on local fallback
// while Redis is down, then sends concurrent calls when it is back (with
// its data lost): the calls counted alone must be added back once, never
// twice ("Usage is never double counted").
func TestScaleOutRedisRecoveryNoDoubleCount(t *testing.T) {
	t.Parallel()
	const quota, alone, burst = 100_000, 30, 40
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	a, _ := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))
	_, key := newAccountWithKey(t, a, "double@example.com")

	n := 0
	wantCode(t, "the first call", mustVerify(t, a, key), http.StatusOK, "VALID")
	n++
	r.Stop()
	for range alone {
		wantCode(t, "a call while Redis is down", mustVerify(t, a, key), http.StatusOK, "VALID")
		n++
	}
	r.Start()
	waitFallback(t, 0, 5*time.Second, a)

	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	start := make(chan struct{})
	for range burst {
		wg.Go(func() {
			<-start
			ans, err := tryVerify(a.URL, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || ans.Status != http.StatusOK || ans.Code != "VALID" {
				t.Errorf("a concurrent call after Redis came back: %v %v", ans, err)
				return
			}
			n++
		})
	}
	close(start)
	wg.Wait()
	last, calls := verifyShared(t, a, key)
	n += calls

	if fallback, err := metric(a, "keyhold_redis_fallback_verifications_total"); err != nil || fallback == 0 {
		t.Fatalf("no verification was counted locally (%v, %v): the outage did not happen", fallback, err)
	}
	want := int64(quota - n)
	if last.Quota.Remaining != want {
		t.Errorf("after %d valid calls (%d counted while Redis was down) the quota shows %d left, want %d",
			n, alone, last.Quota.Remaining, want)
	}
}

// TestScaleOutRestart stops both instances gracefully and starts two new
// ones on the same database and Redis: usage goes on exactly. Usage is
// flushed every hour, so only the flush of the graceful stop saves it.
func TestScaleOutRestart(t *testing.T) {
	t.Parallel()
	const quota, n = 1000, 7
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	for _, redisLost := range []bool{false, true} {
		name := "RedisKept"
		if redisLost {
			name = "RedisRestartedEmpty"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := testenv.PrivateRedis(t)
			env := scaleEnv(t, r.URL(), plansFile, map[string]string{"KEYHOLD_USAGE_FLUSH_INTERVAL": "1h"})
			a, b := startPair(t, env)
			_, key := newAccountWithKey(t, a, "restart@example.com")
			for i := range n {
				x := a
				if i%2 == 1 {
					x = b
				}
				ans := mustVerify(t, x, key)
				wantCode(t, fmt.Sprintf("call %d", i+1), ans, http.StatusOK, "VALID")
				if ans.Quota.Remaining != int64(quota-1-i) {
					t.Fatalf("call %d: %s, want %d left", i+1, ans, quota-1-i)
				}
			}
			a.MustStop(t)
			b.MustStop(t)
			if redisLost {
				// The window must come back from the database.
				r.Stop()
				r.Start()
			}

			a2, b2 := startPair(t, env)
			for i, x := range []*app{b2, a2} {
				ans := mustVerify(t, x, key)
				wantCode(t, fmt.Sprintf("call %d after the restart", i+1), ans, http.StatusOK, "VALID")
				if want := int64(quota - n - 1 - i); ans.Quota.Remaining != want {
					t.Errorf("call %d after the restart: %d left, want %d: usage was lost or counted twice", i+1, ans.Quota.Remaining, want)
				}
			}
		})
	}
}

// TestScaleOutPooledQuota: on a plan whose quota is one pool per account,
// two instances sharing PostgreSQL and Redis (single and cluster) grant
// exactly the pool to the pool + 60 concurrent calls spread over three
// keys of the account and both instances; every answer shows the pool,
// and another account's pool is untouched.
func TestScaleOutPooledQuota(t *testing.T) {
	t.Parallel()
	eachScaleRedis(t, scaleOutPooledQuota)
}

func scaleOutPooledQuota(t *testing.T, redisURL string) {
	const pool = 60
	plansFile := writePlansFile(t, plans.Plan{ID: "team", Name: "Team", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: pool, MaxKeys: 5, QuotaScope: plans.ScopeAccount})
	a, b := startPair(t, scaleEnv(t, redisURL, plansFile, nil))
	c, first := newAccountWithKey(t, a, "pool@example.com")
	secrets := []string{first, c.MustCreateKey("Staging", "read"), c.MustCreateKey("CI", "read")}
	_, other := newAccountWithKey(t, b, "other@example.com")

	const extra = 60
	type out struct {
		ans scaleAnswer
		err error
	}
	results := make(chan out, pool+extra)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pool + extra {
		base := []string{a.URL, b.URL}[i%2]
		key := secrets[i%3]
		wg.Go(func() {
			<-start
			ans, err := tryVerify(base, key)
			results <- out{ans, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	codes := map[string]int{}
	for o := range results {
		if o.err != nil {
			t.Errorf("a verification failed: %v", o.err)
			continue
		}
		codes[o.ans.Code]++
		if o.ans.Quota.Limit != pool || o.ans.Quota.Scope != "account" {
			t.Errorf("answer %s, want the pool of %d with scope account", o.ans, pool)
		}
	}
	if codes["VALID"] != pool || codes["QUOTA_EXCEEDED"] != extra {
		t.Errorf("%d concurrent calls over 3 keys and 2 instances with a pool of %d gave %v, want exactly %d VALID", pool+extra, pool, codes, pool)
	}
	for i, x := range []*app{a, b} {
		for j, key := range secrets {
			ans := mustVerify(t, x, key)
			wantCode(t, fmt.Sprintf("key %d on instance %d after the pool", j+1, i+1), ans, http.StatusTooManyRequests, "QUOTA_EXCEEDED")
		}
	}
	ans := mustVerify(t, a, other)
	wantCode(t, "another account's key", ans, http.StatusOK, "VALID")
	if ans.Quota.Remaining != pool-1 || ans.Quota.Scope != "account" {
		t.Errorf("another account's pool: %s, want %d left of its own", ans, pool-1)
	}
}
