package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestKeyTargets checks that verify and tokens send the same bodies to
// their own path, alternating over the instances with each key going to
// every instance in turn.
func TestKeyTargets(t *testing.T) {
	bases := []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}
	bodies := [][]byte{[]byte(`{"key":"a"}`), []byte(`{"key":"b"}`)}
	for path, tg := range map[string]target{"/v1/verify": verifyTarget(bases, bodies), "/v1/tokens": tokensTarget(bases, bodies)} {
		if tg.name != "POST "+path {
			t.Errorf("name %q", tg.name)
		}
		for i, want := range []string{"1" + path + ` {"key":"a"}`, "2" + path + ` {"key":"a"}`, "1" + path + ` {"key":"b"}`, "2" + path + ` {"key":"b"}`} {
			r := tg.make(context.Background(), uint64(i))
			b, _ := io.ReadAll(r.Body)
			got := strings.TrimPrefix(r.URL.String(), "http://127.0.0.1:") + " " + string(b)
			if r.Method != "POST" || got != want || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s request %d: %s %q, want %q", path, i, r.Method, got, want)
			}
		}
	}
}

// TestPrintTokens compares the exchange with verify, and says nothing
// without both phases.
func TestPrintTokens(t *testing.T) {
	var out []string
	p := printf(func(format string, args ...any) { out = append(out, format) })
	v := &phase{ReqPerSec: 1000, Answered: 1000, ServerCPU: 20 * time.Millisecond}
	printTokens(p, v, nil)
	if len(out) != 0 {
		t.Fatalf("printed without a tokens phase: %q", out)
	}
	var line string
	p = func(format string, args ...any) { line = fmt.Sprintf(format, args...) }
	printTokens(p, v, &phase{ReqPerSec: 800, Answered: 800, ServerCPU: 40 * time.Millisecond})
	if !strings.Contains(line, "800 vs 1000 req/s (0.800 of verify), server 50.0 vs 20.0 µs/req (+30.0 µs") {
		t.Errorf("line %q", line)
	}
}
