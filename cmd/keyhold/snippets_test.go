package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// snippetLang is how a user runs one tab of the dashboard's quickstart:
// the file it is saved as, what is installed first, and the command.
type snippetLang struct {
	id   string // the code element's id, the copy button's data-copy-target
	file string // the file name the snippet tells the user to save it as
	// prepare installs or builds what the snippet needs in dir and
	// returns the command that serves it on $PORT.
	prepare func(t *testing.T, dir, code string) *exec.Cmd
}

var snippetLangs = []snippetLang{
	{id: "snippet-go", file: "main.go", prepare: prepareGo},
	{id: "snippet-node", file: "server.js", prepare: prepareNode},
	{id: "snippet-python", file: "app.py", prepare: preparePython},
}

// TestSnippetsAsPasted renders the dashboard of a live Keyhold that has no
// KEYHOLD_BASE_URL, copies each snippet as its copy button does (the trimmed
// text of the element the button names), saves it, installs what it names,
// and runs it: against that Keyhold with real keys (valid in either header,
// missing, unknown, over quota), against a stub Keyhold that stalls or
// answers HTML, and after the Keyhold has stopped. The curl line and the
// example answer are checked against the same Keyhold.
func TestSnippetsAsPasted(t *testing.T) {
	t.Parallel()
	// A quota of 50 that one call of cost 50 uses up: every later call of
	// that key is refused with 429 whatever the clock does.
	const quota = 50
	plansFile := writePlansFile(t,
		plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 5, Burst: quota, MonthlyQuota: quota, MaxKeys: 3})
	a := MustRun(t, map[string]string{"KEYHOLD_BASE_URL": "", "KEYHOLD_PLANS_FILE": plansFile})
	c := a.Client(t)
	c.MustSignup("snippets@example.com")
	key := c.MustCreateKey("snippets", "")
	limited := c.MustCreateKey("limited", "")

	page := c.Get("/dashboard")
	copied := func(id string) string {
		t.Helper()
		if page.Doc.Find(`button[data-copy-target="`+id+`"]`).Length() != 1 {
			t.Fatalf("the dashboard has no copy button for #%s", id)
		}
		code := page.Doc.Find("#" + id)
		if code.Length() != 1 {
			t.Fatalf("the dashboard has %d elements #%s, want 1", code.Length(), id)
		}
		return strings.TrimSpace(code.Text()) // app.js copies textContent.trim()
	}
	verifyURL := a.URL + "/v1/verify"

	t.Run("curl", func(t *testing.T) {
		line := copied("quickstart-curl")
		if !strings.Contains(line, verifyURL) {
			t.Fatalf("curl line %q does not call %s, where Keyhold listens", line, verifyURL)
		}
		out, err := exec.Command("sh", "-c", strings.ReplaceAll(line, "kh_live_…", key)).Output()
		var ans struct{ Code string }
		if err != nil || json.Unmarshal(out, &ans) != nil || ans.Code != "VALID" {
			t.Errorf("the curl line with a real key printed %q (err %v), want a VALID answer", out, err)
		}
	})

	t.Run("example answer", func(t *testing.T) {
		// The first verification of a fresh key, as the example shows it.
		fresh := c.MustCreateKey("fresh", "")
		resp := verifyRaw(t, verifyURL, fresh, 1)
		var real struct {
			Plan      string
			Ratelimit struct{ Limit, Remaining int64 }
			Quota     struct{ Limit, Remaining int64 }
		}
		if err := json.Unmarshal(resp.body, &real); err != nil || resp.status != http.StatusOK {
			t.Fatalf("first verify = %d %s", resp.status, resp.body)
		}
		want := fmt.Sprintf(`"plan": %q, "ratelimit": { "limit": %d, "remaining": %d, … }, "quota": { "limit": %d, "remaining": %d, … }`,
			real.Plan, real.Ratelimit.Limit, real.Ratelimit.Remaining, real.Quota.Limit, real.Quota.Remaining)
		got := strings.Join(strings.Fields(page.Doc.Find("#quickstart-response").Text()), " ")
		if !strings.Contains(got, want) {
			t.Errorf("example answer %q, want it to show the first real answer: %s", got, want)
		}
	})

	// Use up the limited key's quota; its refusal is what the snippets
	// must pass on.
	if r := verifyRaw(t, verifyURL, limited, quota); r.status != http.StatusOK {
		t.Fatalf("verify of cost %d = %d %s, want 200", quota, r.status, r.body)
	}
	refusal := verifyRaw(t, verifyURL, limited, 1)
	if refusal.status != http.StatusTooManyRequests || refusal.header.Get("Retry-After") == "" {
		t.Fatalf("verify of the used-up key = %d (Retry-After %q), want 429 with Retry-After", refusal.status, refusal.header.Get("Retry-After"))
	}

	stub := stubKeyhold(t)
	var (
		mu      sync.Mutex
		running = map[string]string{} // snippet id → URL of the server as pasted
	)
	outer := t
	t.Run("up", func(t *testing.T) {
		for _, lang := range snippetLangs {
			code := copied(lang.id)
			t.Run(lang.id, func(t *testing.T) {
				t.Parallel()
				if !strings.Contains(code, `"`+verifyURL+`"`) {
					t.Fatalf("snippet does not call %s, where Keyhold listens:\n%s", verifyURL, code)
				}
				dir := t.TempDir()
				pasted := startSnippet(t, outer, lang, filepath.Join(dir, "pasted"), code)
				stubbed := startSnippet(t, outer, lang, filepath.Join(dir, "stubbed"), strings.ReplaceAll(code, verifyURL, stub+"/v1/verify"))
				mu.Lock()
				running[lang.id] = pasted
				mu.Unlock()

				for _, tc := range []struct {
					name       string
					url        string
					header     http.Header
					wantStatus int
					wantCode   string // the code of the answer's body; "" for the handler's own
				}{
					{"valid key in X-API-Key", pasted, http.Header{"X-Api-Key": {key}}, http.StatusOK, ""},
					{"valid key as Bearer", pasted, http.Header{"Authorization": {"Bearer " + key}}, http.StatusOK, ""},
					{"no key", pasted, nil, http.StatusUnauthorized, "BAD_REQUEST"},
					{"empty Bearer", pasted, http.Header{"Authorization": {"Bearer "}}, http.StatusUnauthorized, "BAD_REQUEST"},
					{"unknown key", pasted, http.Header{"X-Api-Key": {"kh_live_nosuchkey"}}, http.StatusUnauthorized, "MALFORMED"},
					{"used-up key", pasted, http.Header{"Authorization": {"Bearer " + limited}}, http.StatusTooManyRequests, "QUOTA_EXCEEDED"},
					{"Keyhold answers HTML", stubbed, http.Header{"X-Api-Key": {"html"}}, http.StatusServiceUnavailable, "UNAVAILABLE"},
					{"Keyhold stalls", stubbed, http.Header{"X-Api-Key": {"stall"}}, http.StatusServiceUnavailable, "UNAVAILABLE"},
					{"Keyhold redirects", stubbed, http.Header{"X-Api-Key": {"redirect"}}, http.StatusServiceUnavailable, "UNAVAILABLE"},
					{"a proxy says valid without VALID", stubbed, http.Header{"X-Api-Key": {"proxy-ok"}}, http.StatusServiceUnavailable, "UNAVAILABLE"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						r := getHello(t, tc.url, tc.header)
						checkSnippetAnswer(t, r, tc.wantStatus, tc.wantCode)
						switch tc.wantStatus {
						case http.StatusOK:
							var hello struct{ Hello, Plan string }
							if json.Unmarshal(r.body, &hello) != nil || hello.Hello != "snippets" || hello.Plan != "free" {
								t.Errorf("the protected handler answered %s, want the key's name and plan", r.body)
							}
							fallthrough
						case http.StatusTooManyRequests:
							for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
								if r.header.Get(h) == "" {
									t.Errorf("%s not passed on (headers %v)", h, r.header)
								}
							}
						}
						if tc.wantStatus == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
							t.Errorf("Retry-After not passed on (headers %v)", r.header)
						}
					})
				}
			})
		}
	})
	if n := redirectedTo.Load(); n != 0 {
		t.Errorf("a snippet followed Keyhold's redirect %d times, sending the key elsewhere", n)
	}
	if t.Failed() {
		return
	}

	a.MustStop(t)
	t.Run("Keyhold stopped", func(t *testing.T) {
		for _, lang := range snippetLangs {
			t.Run(lang.id, func(t *testing.T) {
				t.Parallel()
				r := getHello(t, running[lang.id], http.Header{"X-Api-Key": {key}})
				checkSnippetAnswer(t, r, http.StatusServiceUnavailable, "UNAVAILABLE")
			})
		}
	})
}

// checkSnippetAnswer checks a snippet server's status and, when wantCode
// is set, that its body is a JSON verify answer with that code, not a
// stack trace or an HTML error page.
func checkSnippetAnswer(t *testing.T, r rawAnswer, wantStatus int, wantCode string) {
	t.Helper()
	if r.status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", r.status, wantStatus, r.body)
	}
	if wantCode == "" {
		return
	}
	var ans struct {
		Valid *bool
		Code  string
	}
	if err := json.Unmarshal(r.body, &ans); err != nil || ans.Valid == nil || *ans.Valid || ans.Code != wantCode {
		t.Errorf("body %s, want a JSON answer with valid false and code %s", r.body, wantCode)
	}
	if wantStatus == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After (headers %v)", r.header)
	}
}

// rawAnswer is an HTTP answer with its body read.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// snippetClient is the client of the snippet servers: bounded, so a
// snippet that hangs fails the test instead of holding it.
var snippetClient = &http.Client{Timeout: 15 * time.Second}

func readAnswer(t *testing.T, resp *http.Response, err error) rawAnswer {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: body}
}

// getHello asks a snippet server for its protected /hello.
func getHello(t *testing.T, base string, header http.Header) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := snippetClient.Do(req)
	return readAnswer(t, resp, err)
}

// verifyRaw calls Keyhold's verify with key and cost.
func verifyRaw(t *testing.T, verifyURL, key string, cost int) rawAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"key": key, "cost": cost})
	resp, err := snippetClient.Post(verifyURL, "application/json", bytes.NewReader(body))
	return readAnswer(t, resp, err)
}

// redirectedTo counts requests that reached the stub's /elsewhere, where
// its "redirect" answer points: a snippet that followed the redirect would
// have sent the key there.
var redirectedTo atomic.Int64

// stubKeyhold is a Keyhold that cannot answer: for the key "html" it
// answers a proxy's HTML error page, for "stall" nothing until the caller
// gives up (or 10 s pass, so the test never hangs on it), for "redirect" a
// 307 to a place that would say VALID, and for "proxy-ok" a 200 that says
// valid without Keyhold's VALID code.
func stubKeyhold(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			redirectedTo.Add(1)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"valid":true,"code":"VALID"}`)
			return
		}
		var req struct{ Key string }
		_ = json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req)
		switch req.Key {
		case "redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "proxy-ok":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"valid":true}`)
		case "stall":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startSnippet saves code as lang's file in dir, prepares and starts it
// on a free port, and waits until it answers. It is killed when the test
// (the outer one: it must outlive Keyhold's stop) ends.
func startSnippet(t, outer *testing.T, lang snippetLang, dir, code string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lang.file), []byte(code+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := lang.prepare(t, dir, code)
	port := strconv.Itoa(freePort(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+port)
	out := &testenv.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", lang.file, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	outer.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // "signal: killed": the kill above, not a failure
	})
	base := "http://127.0.0.1:" + port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/hello", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited before it served (%v):\n%s", lang.file, err, out)
		case <-ctx.Done():
			t.Fatalf("%s did not serve on port %s within 30 s:\n%s", lang.file, port, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// prepareGo builds main.go as its own module, as `go mod init example &&
// go build` would. When the snippet imports the Keyhold SDK, the module
// points at the SDK of this repository, the version the dashboard shows.
func prepareGo(t *testing.T, dir, code string) *exec.Cmd {
	t.Helper()
	gomod := "module example\n\ngo 1.22\n"
	sdkDir, _ := filepath.Abs(filepath.Join("..", "..", "sdk", "go"))
	if b, err := os.ReadFile(filepath.Join(sdkDir, "go.mod")); err == nil {
		if m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(b); len(m) == 2 && strings.Contains(code, `"`+string(m[1])) {
			gomod += fmt.Sprintf("\nrequire %s v0.0.0\n\nreplace %s => %s\n", m[1], m[1], sdkDir)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", "snippet", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the Go snippet does not build as pasted: %v\n%s", err, out)
	}
	return exec.Command(filepath.Join(dir, "snippet"))
}

// npmInstall is the install line the Node snippet gives.
var npmInstall = regexp.MustCompile(`npm install ([a-z0-9@/._ -]+)`)

// prepareNode installs from the npm registry what the snippet says to
// install, then runs it with node.
func prepareNode(t *testing.T, dir, code string) *exec.Cmd {
	t.Helper()
	m := npmInstall.FindStringSubmatch(code)
	if m == nil {
		t.Fatalf("the Node snippet does not say what to npm install:\n%s", code)
	}
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-save"}, strings.Fields(m[1])...)
	install := exec.Command("npm", args...)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return exec.Command("node", "server.js")
}

// preparePython runs app.py with Debian's python3, whose Flask and
// requests are Debian's python3-flask and python3-requests (.ci/run
// installs them), as the snippet says. /usr/bin/python3 by name: a python3
// earlier on PATH (pyenv's) would not see those packages.
func preparePython(t *testing.T, dir, code string) *exec.Cmd {
	t.Helper()
	for _, pkg := range []string{"python3-flask", "python3-requests"} {
		if !strings.Contains(code, pkg) {
			t.Errorf("the Python snippet does not name %s", pkg)
		}
	}
	return exec.Command("/usr/bin/python3", "app.py")
}
