package main

import (
	"encoding/json"
	"testing"
	"time"
)

// TestBareBody: the bare server's answer is JSON of exactly the size asked.
func TestBareBody(t *testing.T) {
	for _, n := range []int{23, 24, 300, 4096} {
		b := bareBody(n)
		var v map[string]any
		if len(b) != n || json.Unmarshal(b, &v) != nil || v["valid"] != true {
			t.Errorf("size %d: %d bytes %q", n, len(b), b)
		}
	}
}

// TestCompareBare: the ratios are verify over bare, and nothing is
// compared against a bare phase that answered nothing.
func TestCompareBare(t *testing.T) {
	v := &phase{ReqPerSec: 800, Answered: 8000, ServerCPU: 8 * time.Second, P99: 4 * time.Millisecond}
	b := &phase{ReqPerSec: 1000, Answered: 10000, ServerCPU: 5 * time.Second, P99: time.Millisecond}
	c := compareBare(v, b, 300)
	if c == nil || c.Throughput != 0.8 || c.CPU != 1000.0/500 || c.P99 != 4 || c.AnswerBytes != 300 {
		t.Fatalf("%+v", c)
	}
	if compareBare(v, &phase{}, 300) != nil || compareBare(nil, b, 300) != nil {
		t.Error("compared against nothing")
	}
}
