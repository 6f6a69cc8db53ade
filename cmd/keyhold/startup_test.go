package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestStartLine checks that serve's start-up line shows the address it is
// bound to, whatever KEYHOLD_BASE_URL says, and that a base URL that does
// not point at it is mentioned in one line (as information: behind a proxy
// it legitimately differs).
func TestStartLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		addr     string // KEYHOLD_ADDR; PORT is replaced by a free port
		base     string // KEYHOLD_BASE_URL, likewise
		wantURL  string // the start-up line's URL, likewise
		wantNote bool
	}{
		{"base URL is the bound address", "127.0.0.1:PORT", "http://127.0.0.1:PORT", "http://127.0.0.1:PORT", false},
		{"localhost is loopback", "127.0.0.1:PORT", "http://localhost:PORT", "http://127.0.0.1:PORT", false},
		{"no base URL: the address bound", "127.0.0.1:PORT", "", "http://127.0.0.1:PORT", false},
		{"no base URL, port 0: the port bound", "127.0.0.1:0", "", "http://127.0.0.1:", false},
		{"no base URL, all interfaces", ":PORT", "", "http://localhost:PORT", false},
		{"base URL on another port", "127.0.0.1:PORT", "http://127.0.0.1:1", "http://127.0.0.1:PORT", true},
		{"behind a proxy", "127.0.0.1:PORT", "https://keys.example.com", "http://127.0.0.1:PORT", true},
		{"all interfaces", ":PORT", "http://localhost:PORT", "http://localhost:PORT", false},
		{"all interfaces, public name", ":PORT", "http://keys.example.com:PORT", "http://localhost:PORT", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := strconv.Itoa(freePort(t))
			fill := func(s string) string { return strings.ReplaceAll(s, "PORT", port) }
			a := MustRun(t, map[string]string{"KEYHOLD_ADDR": fill(tc.addr), "KEYHOLD_BASE_URL": fill(tc.base)})
			a.MustStop(t)
			if want := "Keyhold is running at " + fill(tc.wantURL); !strings.HasPrefix(a.StartLine, want) {
				t.Errorf("start-up line %q, want it to begin %q", a.StartLine, want)
			}
			if strings.Contains(a.StartLine, "8080") {
				t.Errorf("start-up line %q names a port nothing listens on", a.StartLine)
			}
			base := fill(tc.base)
			out := strings.TrimSpace(a.Stdout.String())
			if !tc.wantNote {
				if out != "" {
					t.Errorf("printed %q besides the start-up line, want nothing", out)
				}
				return
			}
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, "KEYHOLD_BASE_URL is "+base) || !strings.Contains(out, "links and Stripe redirects") {
				t.Errorf("note %q, want one line saying KEYHOLD_BASE_URL is %s and what it is used for", out, base)
			}
		})
	}
}
