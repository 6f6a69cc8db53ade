package verify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

// lateClock is the fixture's clock, except that the next reading can be
// set: the time a call began, read before it waited.
type lateClock struct {
	f    *fixture
	mu   sync.Mutex
	next []time.Time
}

func (c *lateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.next) > 0 {
		t := c.next[0]
		c.next = c.next[1:]
		return t
	}
	return c.f.Now()
}

// began makes the next call read t as its start, and the clock as it is
// for every reading after.
func (c *lateClock) began(t time.Time) {
	c.mu.Lock()
	c.next = []time.Time{t}
	c.mu.Unlock()
}

// TestLateCallIsNotRefusedOnItsOldClock: a call that waited after reading
// the clock (behind a reconciliation after a Redis outage, a stalled
// batch, a starved process) meets the rate state of calls that began
// after it. Refused on its start time, with a Retry-After that has
// already passed, it must be asked again on the current clock, and pass;
// a refusal that still stands must stand, and take nothing. It failed in
// CI as TestScaleOutRedisOutage/Stalled: a 100 000/s key refused after
// 551 calls.
func TestLateCallIsNotRefusedOnItsOldClock(t *testing.T) {
	limits := []struct {
		name string
		make func(t *testing.T, f *fixture) verify.Limits
	}{
		{"Memory", func(*testing.T, *fixture) verify.Limits { return nil }},
		{"Redis", func(t *testing.T, f *fixture) verify.Limits {
			rl, err := verify.NewRedisLimits(mustRedis(t, testenv.Redis(t)), verify.Seeds{Key: f.db.QuotaUsed, Pool: f.db.PoolUsed})
			if err != nil {
				t.Fatal(err)
			}
			return rl
		}},
	}
	for _, l := range limits {
		t.Run(l.name, func(t *testing.T) {
			f := MustFixture(t)
			f.setPlan("slow") // 10/s, burst 10: 100 ms a call, 900 ms of tolerance
			_, key := f.MustKey(keys.Settings{})
			clock := &lateClock{f: f}
			v, err := verify.New(verify.Config{Loader: f.db, Secrets: f.db, Limits: l.make(t, f), Plans: f.catalog, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			call := func(began time.Time) verify.Result {
				clock.began(began)
				var res verify.Result
				v.Verify(context.Background(), &verify.Request{Key: key, Cost: 1}, &res)
				return res
			}
			now := f.Now()
			if res := call(now); res.Code != verify.Valid {
				t.Fatalf("first call: %s", res.Code)
			}

			// Began 2 s ago: on that clock the rate state is 2.1 s ahead,
			// past the tolerance; on the current one a call is due.
			res := call(now.Add(-2 * time.Second))
			if res.Code != verify.Valid || res.Decision.RateRemaining != 8 || res.Decision.QuotaUsed != 2 {
				t.Fatalf("call begun 2 s ago: %s, %d left in the burst, %d used; want VALID, 8, 2",
					res.Code, res.Decision.RateRemaining, res.Decision.QuotaUsed)
			}
			if !res.Now.Equal(now) {
				t.Errorf("answer's time %v, want the clock it was decided on, %v", res.Now, now)
			}

			// The burst spent now: the next call is due in 100 ms.
			for i := range 8 {
				if res := call(now); res.Code != verify.Valid {
					t.Fatalf("burst call %d: %s", i, res.Code)
				}
			}
			for _, tc := range []struct {
				name   string
				waited time.Duration
				want   verify.Code
			}{
				{"no wait", 0, verify.RateLimited},
				{"less than Retry-After", 50 * time.Millisecond, verify.RateLimited},
				{"Retry-After passed", 100 * time.Millisecond, verify.Valid},
			} {
				began := f.Now()
				f.Advance(tc.waited)
				res := call(began)
				if res.Code != tc.want {
					t.Errorf("%s: %s, want %s", tc.name, res.Code, tc.want)
				}
				if tc.want == verify.RateLimited && (res.Decision.RetryAfter <= 0 || res.Decision.QuotaUsed != 10) {
					t.Errorf("%s: Retry-After %v, %d used; want a wait, and 10 used (a refusal takes nothing)",
						tc.name, res.Decision.RetryAfter, res.Decision.QuotaUsed)
				}
			}
		})
	}
}
