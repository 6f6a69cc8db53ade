package keyhold_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEShowsTheExampleProgram checks that the README's "Integrate
// your API" section shows examples/middleware/main.go as it is, so the copy
// people paste is the one the next test runs.
func TestREADMEShowsTheExampleProgram(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("examples", "middleware", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Integrate your API\n")
	if !ok {
		t.Fatal(`README.md has no "## Integrate your API" section`)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, closed := strings.Cut(block, "```\n")
	if !ok || !closed {
		t.Fatal("the section has no ```go block")
	}
	if block != string(src) {
		t.Fatalf("the README's Go block is not examples/middleware/main.go; copy the file into it.\nREADME:\n%s", block)
	}
}

// TestExampleProgram builds examples/middleware, runs it against the test
// Keyhold as its comment says, and calls it with a key of scope read,
// with one without, and with none.
func TestExampleProgram(t *testing.T) {
	p := newPortal(t)
	read := p.createKey("reader", "read")
	other := p.createKey("other", "")

	bin := filepath.Join(t.TempDir(), "api")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/middleware").CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/middleware: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "KEYHOLD_BASE_URL=" + keyholdURL, "ADDR=" + addr}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	orphanProof(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() || !strings.Contains(sc.Text(), "listening on "+addr) {
		t.Fatalf("the program's first line %q, want it listening on %s", sc.Text(), addr)
	}
	go func() {
		for sc.Scan() { // drain, so the program never blocks on its log
		}
	}()

	base := "http://" + addr + "/hello"
	// The log line comes just before ListenAndServe binds: wait for it
	// to answer (a start-up bound, not a timing assertion).
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program does not answer on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		body    string
	}{
		{"key with scope read", map[string]string{"Authorization": "Bearer " + read}, http.StatusOK, "hello, key 01"},
		{"key without it", map[string]string{"X-API-Key": other}, http.StatusForbidden, `"code":"INSUFFICIENT_SCOPE"`},
		{"no key", nil, http.StatusUnauthorized, `"code":"BAD_REQUEST"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, base, tc.headers)
			if a.status != tc.status || !strings.Contains(a.body, tc.body) {
				t.Fatalf("%d %q, want %d with %q", a.status, a.body, tc.status, tc.body)
			}
		})
	}
}
