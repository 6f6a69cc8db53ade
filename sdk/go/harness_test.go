package keyhold_test

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keyholdURL is the Keyhold that TestMain started for this test binary;
// keyholdBin and keyholdEnv are its binary and environment, for the
// admin commands of the tests.
var (
	keyholdURL string
	keyholdBin string
	keyholdEnv []string
)

// testPlans is the plan catalog of that Keyhold: a rate of 1 per second
// with a burst of 10, so that two calls of cost 8 in a row are rate
// limited however slow the machine (the second fits only 6 s later), and a
// quota of 8 below the burst, so that one call of cost 9 exceeds the quota
// and not the rate limit.
const testPlans = `[{"id":"free","name":"Free","price":"$0","stripe_price_id":"",
 "rate_per_second":1,"burst":10,"monthly_quota":8,"max_keys":20}]`

// TestMain builds cmd/keyhold from the repository this module sits in,
// starts it on a loopback port with a temporary SQLite database, runs the
// tests against it and stops it.
func TestMain(m *testing.M) {
	os.Exit(runWithKeyhold(m))
}

func runWithKeyhold(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keyhold-sdk-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, err := startKeyhold(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting Keyhold for the SDK tests:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

func startKeyhold(dir string) (stop func(), err error) {
	bin := filepath.Join(dir, "keyhold")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keyhold")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/keyhold: %v\n%s", err, out)
	}
	plans := filepath.Join(dir, "plans.json")
	if err := os.WriteFile(plans, []byte(testPlans), 0o600); err != nil {
		return nil, err
	}
	keyholdBin = bin
	// A clean environment: a developer's KEYHOLD_* or STRIPE_* must not
	// reach this server.
	keyholdEnv = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir,
		"KEYHOLD_ADDR=127.0.0.1:0",
		"KEYHOLD_DATABASE_URL=sqlite://" + filepath.Join(dir, "keyhold.db"),
		"KEYHOLD_PLANS_FILE=" + plans,
		"KEYHOLD_LOG_LEVEL=warn",
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = keyholdEnv
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	orphanProof(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Keyhold is running at "); ok {
				found <- strings.Fields(u)[0]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case keyholdURL = <-found:
		return stop, nil
	case <-time.After(60 * time.Second): // a start-up bound, not an assertion of speed
		stop()
		return nil, fmt.Errorf("keyhold printed no 'Keyhold is running at' line in 60 s")
	}
}

// portal is a browser session on the test Keyhold.
type portal struct {
	t     testing.TB
	http  *http.Client
	email string
}

var accounts atomic.Int64

// newPortal signs up a new account through the sign-up form.
func newPortal(t testing.TB) *portal {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{t: t, http: &http.Client{
		Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	p.email = fmt.Sprintf("sdk%d-%d@example.com", accounts.Add(1), time.Now().UnixNano())
	status, _ := p.submit("/signup", "/signup", url.Values{"email": {p.email}, "password": {"correct-horse-battery-staple"}})
	if status != http.StatusSeeOther {
		t.Fatalf("sign-up = %d, want 303", status)
	}
	return p
}

var newKeyPattern = regexp.MustCompile(`data-testid="new-key">([^<]+)<`)

// createKey creates a key through the new-key form (scopes as the form
// takes them, comma-separated) and returns its secret, shown once.
func (p *portal) createKey(name, scopes string) string {
	p.t.Helper()
	status, body := p.submit("/keys/new", "/keys", url.Values{"name": {name}, "scopes": {scopes}})
	m := newKeyPattern.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		p.t.Fatalf("creating key %q = %d with no new-key, want 200 and the key", name, status)
	}
	return html.UnescapeString(strings.TrimSpace(m[1]))
}

// revokeKey revokes key id through the revoke form of its page.
func (p *portal) revokeKey(id string) {
	p.t.Helper()
	status, _ := p.submit("/keys/"+id, "/keys/"+id+"/revoke", nil)
	if status != http.StatusSeeOther {
		p.t.Fatalf("revoking key %s = %d, want 303", id, status)
	}
}

// suspend suspends the portal's account with keyhold admin suspend, on
// the server's database: its keys answer DISABLED from their first
// verification (one already cached could answer from the cache for a
// while, so suspend before verifying).
func (p *portal) suspend() {
	p.t.Helper()
	cmd := exec.Command(keyholdBin, "admin", "suspend", "--email", p.email)
	cmd.Env = keyholdEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("keyhold admin suspend: %v\n%s", err, out)
	}
}

// submit loads page, takes the CSRF token of its form that posts to
// action, and posts form with it, as a browser does.
func (p *portal) submit(page, action string, form url.Values) (int, string) {
	p.t.Helper()
	_, body := p.do(http.MethodGet, page, nil)
	re := regexp.MustCompile(`<form[^>]*action="` + regexp.QuoteMeta(action) + `"[^>]*>\s*<input type="hidden" name="_csrf" value="([^"]+)"`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		p.t.Fatalf("GET %s has no form posting to %s with a _csrf field", page, action)
	}
	v := url.Values{"_csrf": {m[1]}}
	for k, vs := range form {
		v[k] = vs
	}
	return p.do(http.MethodPost, action, v)
}

func (p *portal) do(method, path string, form url.Values) (int, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, keyholdURL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}
