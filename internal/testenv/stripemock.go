package testenv

import (
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StripeMockVersion is the stripe-mock release the tests are written for.
const StripeMockVersion = "v0.203.0"

var stripeMockOnce once[string]

// StripeMock returns the base URL (http://127.0.0.1:PORT, no trailing slash)
// of the stripe-mock process of this test binary, started on first use and
// stopped by Main. Point the Stripe client at it (STRIPE_API_BASE) and use
// any test key, such as sk_test_123. stripe-mock keeps no state and sends no
// webhooks, so tests may share it freely.
func StripeMock(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	u, err := stripeMockOnce.get(startStripeMock)
	if err != nil {
		fail(tb, err)
	}
	return u
}

// stripeMockListening matches the line in which stripe-mock names the address
// it listens on for HTTP.
var stripeMockListening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

func startStripeMock() (string, error) {
	bin := findStripeMock()
	if bin == "" {
		return "", notInstalled("stripe-mock",
			"go install github.com/stripe/stripe-mock@"+StripeMockVersion+", with $(go env GOPATH)/bin on PATH")
	}
	// Empty ports let stripe-mock pick free ones, and it prints them: no race
	// for a port. Both listeners are on loopback; without -https-addr it
	// would also listen for HTTPS on every interface, on port 12112.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	p, err := startProc("stripe-mock", cmd)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var base string
	err = p.waitReady(func() error {
		if base == "" {
			m := stripeMockListening.FindStringSubmatch(p.out.String())
			if m == nil {
				return errors.New("no address printed yet")
			}
			base = "http://" + m[1]
		}
		req, err := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer sk_test_123")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v1/customers answered %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		p.stop(syscall.SIGKILL)
		return "", fmt.Errorf("stripe-mock: %w", err)
	}
	onStop(func() { p.stop(syscall.SIGTERM) })
	return base, nil
}

// findStripeMock looks on PATH, in $GOBIN and in each $GOPATH/bin, asking the
// go command for GOBIN and GOPATH when it is on PATH.
func findStripeMock() string {
	if p := lookFor("stripe-mock"); p != "" {
		return p
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if goCmd := lookFor("go"); goCmd != "" {
		if out, err := exec.Command(goCmd, "env", "GOBIN", "GOPATH").Output(); err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 2 {
				if gobin := strings.TrimSpace(lines[0]); gobin != "" {
					dirs = append(dirs, gobin)
				}
				for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
					dirs = append(dirs, filepath.Join(gp, "bin"))
				}
			}
		}
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "stripe-mock"); isExecutable(p) {
			return p
		}
	}
	return ""
}
