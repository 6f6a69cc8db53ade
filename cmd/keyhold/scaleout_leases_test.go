package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/plans"
)

// TestScaleOutLeases runs two instances with KEYHOLD_REDIS_LEASES=true:
// busy keys take their units from Redis a few at a time. A quota is still
// spent exactly over both under concurrency, and a key revoked on A is
// refused by B's very next call though B was granting it from a lease.
func TestScaleOutLeases(t *testing.T) {
	t.Parallel()
	eachScaleRedis(t, scaleOutLeases)
}

func scaleOutLeases(t *testing.T, redisURL string) {
	const quota = 3000
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 100_000, Burst: 100_000, MonthlyQuota: quota, MaxKeys: 3})
	a, b := startPair(t, scaleEnv(t, redisURL, plansFile, map[string]string{"KEYHOLD_REDIS_LEASES": "true"}))

	t.Run("QuotaExactOverBoth", func(t *testing.T) {
		t.Parallel()
		_, key := newAccountWithKey(t, a, "lease-quota@example.com")
		var mu sync.Mutex
		codes := map[string]int{}
		var wg sync.WaitGroup
		for i := range 32 {
			base := []string{a.URL, b.URL}[i%2]
			wg.Go(func() {
				for {
					ans, err := tryVerify(base, key)
					if err != nil {
						t.Errorf("a verification failed: %v", err)
						return
					}
					mu.Lock()
					codes[ans.Code]++
					mu.Unlock()
					if ans.Code != "VALID" {
						return
					}
				}
			})
		}
		wg.Wait()
		if codes["VALID"] != quota || codes["QUOTA_EXCEEDED"] != 32 {
			t.Errorf("32 callers over A and B until refused, quota %d: %v; want exactly %d VALID and one QUOTA_EXCEEDED each", quota, codes, quota)
		}
	})

	t.Run("RevokeOnAIsSeenByBAtOnce", func(t *testing.T) {
		t.Parallel()
		c, key := newAccountWithKey(t, a, "lease-revoke@example.com")
		var id string
		for i := range 100 { // B grants from a lease by now
			ans := mustVerify(t, b, key)
			wantCode(t, fmt.Sprintf("verification %d on B", i+1), ans, http.StatusOK, "VALID")
			id = ans.KeyID
		}
		p := c.Submit("/keys/"+id, "/keys/"+id+"/revoke", url.Values{})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoking on A = %s, want 303; alert %q", p.Status, alert(p))
		}
		wantCode(t, "B's next call after the revoke on A", mustVerify(t, b, key), http.StatusUnauthorized, "REVOKED")
	})
}
