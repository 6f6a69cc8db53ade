package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestScaleOutSuspension suspends an account in A's console while B has
// its key cached: B answers DISABLED, then VALID again once A lifts the
// suspension. The change travels the way plan changes do: through Redis
// (change counters: B's next verify sees it) or, without Redis, through
// PostgreSQL NOTIFY (delivered in the background, so B is polled).
func TestScaleOutSuspension(t *testing.T) {
	t.Parallel()
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: 1000, MaxKeys: 3})
	tests := []struct {
		name  string
		redis bool
	}{
		{"Redis", true},
		{"NOTIFY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra := map[string]string{"KEYHOLD_REDIS_URL": ""}
			redisURL := ""
			if tt.redis {
				redisURL, extra = testenv.PrivateRedis(t).URL(), nil
			}
			env := scaleEnv(t, redisURL, plansFile, extra)
			const ops = "ops@example.com"
			if r := runCommand(t, env, testPassword+"\n", "admin", "create-user", "--email", ops, "--password-stdin", "--admin"); r.Err != nil {
				t.Fatalf("create-user: %v\n%s", r.Err, r.Stderr)
			}
			a, b := startPair(t, env)
			_, key := newAccountWithKey(t, a, "dev@example.com")
			ans := mustVerify(t, b, key)
			wantCode(t, "B before the suspension (now cached)", ans, http.StatusOK, "VALID")
			console := a.Client(t)
			console.MustLogin(ops, testPassword)
			page := "/admin/accounts/" + ans.OwnerID

			step := func(action, want string, status int) {
				t.Helper()
				if p := console.Submit(page, page+"/"+action, nil); p.StatusCode != http.StatusSeeOther {
					t.Fatalf("%s on A: %s", action, p.Status)
				}
				if tt.redis {
					wantCode(t, "B's next verify after "+action+" on A", mustVerify(t, b, key), status, want)
					return
				}
				eventually(t, 10*time.Second, "B answers "+want+" after "+action+" on A", func() (bool, string) {
					got := mustVerify(t, b, key)
					return got.Status == status && got.Code == want, got.String()
				})
			}
			step("suspend", "DISABLED", http.StatusForbidden)
			wantCode(t, "A after the suspension", mustVerify(t, a, key), http.StatusForbidden, "DISABLED")
			step("unsuspend", "VALID", http.StatusOK)
			wantCode(t, "A after the suspension is lifted", mustVerify(t, a, key), http.StatusOK, "VALID")
		})
	}
}
