package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestScaleOutIdempotencyKey: identical requests with one Idempotency-Key
// spread over two instances consume once and all get the first answer.
func TestScaleOutIdempotencyKey(t *testing.T) {
	t.Parallel()
	const quota = 100
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: quota, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	a, b := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))
	_, key := newAccountWithKey(t, a, "idem@example.com")

	type out struct {
		status         int
		body, replayed string
		err            error
	}
	post := func(base, path, idem string) out {
		body, _ := json.Marshal(map[string]any{"key": key})
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
		resp, err := verifyHTTP.Do(req)
		if err != nil {
			return out{err: err}
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return out{status: resp.StatusCode, body: string(raw), replayed: resp.Header.Get("Idempotent-Replayed"), err: err}
	}
	for _, c := range []struct{ path, idem string }{{"/v1/verify", "spread-1"}, {"/v1/tokens", "spread-2"}} {
		const n = 64
		answers := make([]out, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			wg.Go(func() {
				<-start
				answers[i] = post(base, c.path, c.idem)
			})
		}
		close(start)
		wg.Wait()
		replays := 0
		for _, ans := range answers {
			if ans.err != nil {
				t.Fatal(ans.err)
			}
			if ans.status != http.StatusOK || ans.body != answers[0].body {
				t.Fatalf("%s: answers differ: %d %s and %d %s", c.path, ans.status, ans.body, answers[0].status, answers[0].body)
			}
			if ans.replayed == "true" {
				replays++
			}
		}
		if replays != n-1 {
			t.Errorf("%s: %d replays of %d, want %d", c.path, replays, n, n-1)
		}
	}
	// One verification and one exchange were charged, on either instance.
	if ans := mustVerify(t, a, key); ans.Status != http.StatusOK || ans.Quota.Remaining != quota-3 {
		t.Fatalf("A after both: %s, want %d left", ans, quota-3)
	}
	if ans := mustVerify(t, b, key); ans.Quota.Remaining != quota-4 {
		t.Errorf("B: %s, want %d left", ans, quota-4)
	}
}
