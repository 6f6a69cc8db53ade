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

// crossings records what a verifier reports to its ThresholdSink.
type crossings struct {
	mu  sync.Mutex
	got map[int][]int64 // percent → used at each report
}

func (c *crossings) QuotaCrossed(keyID, accountID string, percent int, used, limit int64, w verify.Window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[int][]int64{}
	}
	c.got[percent] = append(c.got[percent], used)
}

func (c *crossings) count(percent int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got[percent])
}

// hammer sends n concurrent verifications of cost 1, spread over vs.
func hammer(n int, key string, vs ...func(string, int64) verify.Result) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			vs[i%len(vs)](key, 1)
		})
	}
	close(start)
	wg.Wait()
}

// thresholdVerifier is a verifier of f that reports to sink, counting
// in Redis at redisURL ("": in memory).
func (f *fixture) thresholdVerifier(sink verify.ThresholdSink, redisURL string) *verify.Verifier {
	f.t.Helper()
	c := verify.Config{Loader: f.db, Plans: f.catalog, Now: f.Now, Thresholds: sink}
	if redisURL != "" {
		conn := mustRedis(f.t, redisURL)
		rl, err := verify.NewRedisLimits(conn, f.db)
		if err != nil {
			f.t.Fatal(err)
		}
		c.Limits, c.Invalidator = rl, verify.NewRedisInvalidator(conn)
	}
	v, err := verify.New(c)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func verifierFunc(v *verify.Verifier) func(string, int64) verify.Result {
	return func(key string, cost int64) verify.Result {
		var res verify.Result
		v.Verify(context.Background(), &verify.Request{Key: key, Cost: cost}, &res)
		return res
	}
}

// The free plan's quota is 100: 70 used, then 64 at once cross 80 (the
// 80th unit) and 100 (the 100th), and 34 are refused.
func TestThresholdsReportedOnceUnderConcurrency(t *testing.T) {
	f := MustFixture(t)
	sink := &crossings{}
	v := f.thresholdVerifier(sink, "")
	_, key := f.MustKey(keys.Settings{})
	vf := verifierFunc(v)
	for range 70 {
		if r := vf(key, 1); r.Code != verify.Valid {
			t.Fatalf("warm-up: %s", r.Code)
		}
	}
	if sink.count(80)+sink.count(100) != 0 {
		t.Fatalf("reported below 80 %%: %v", sink.got)
	}
	hammer(64, key, vf)
	if sink.count(80) != 1 || sink.got[80][0] != 80 {
		t.Errorf("80 %% reports: %v; want one, at 80", sink.got[80])
	}
	if sink.count(100) != 1 || sink.got[100][0] != 100 {
		t.Errorf("100 %% reports: %v; want one, at 100", sink.got[100])
	}
	// The next window starts again.
	f.Advance(31 * 24 * time.Hour)
	for range 80 {
		vf(key, 1)
	}
	if sink.count(80) != 2 {
		t.Errorf("80 %% in the next window: %d reports in all; want 2", sink.count(80))
	}
}

// A cost that jumps over the limit is refused: the first refusal reports
// 100, once.
func TestThresholdRefusalReportsFull(t *testing.T) {
	f := MustFixture(t)
	sink := &crossings{}
	vf := verifierFunc(f.thresholdVerifier(sink, ""))
	_, key := f.MustKey(keys.Settings{})
	vf(key, 97)
	for range 3 {
		if r := vf(key, 5); r.Code != verify.QuotaExceeded {
			t.Fatalf("cost 5 at 97 of 100: %s", r.Code)
		}
	}
	if sink.count(80) != 1 || sink.count(100) != 1 || sink.got[100][0] != 97 {
		t.Errorf("reports %v; want 80 once and 100 once, at 97", sink.got)
	}
}

// One call far too big for a quota barely begun is refused, and reports
// nothing: the quota's 100 % notice is kept for when it is near.
func TestThresholdBigRefusalEarlyReportsNothing(t *testing.T) {
	f := MustFixture(t)
	sink := &crossings{}
	vf := verifierFunc(f.thresholdVerifier(sink, ""))
	_, key := f.MustKey(keys.Settings{})
	vf(key, 1)
	if r := vf(key, 500); r.Code != verify.QuotaExceeded {
		t.Fatalf("cost 500 of 100: %s", r.Code)
	}
	if sink.count(80)+sink.count(100) != 0 {
		t.Errorf("reports %v after one refused big call at 1 used; want none", sink.got)
	}
	for range 99 {
		vf(key, 1)
	}
	if sink.count(100) != 1 || sink.got[100][0] != 100 {
		t.Errorf("100 %% reports %v; want one, at 100, when it is used up", sink.got[100])
	}
}

// Two instances on one Redis: 80 % is reported by exactly one take of
// either; 100 % by the take that reached it or a refusal, at most once on
// each instance (the notices sink keeps one).
func TestThresholdsAcrossInstancesWithRedis(t *testing.T) {
	f := MustFixture(t)
	url := testenv.Redis(t)
	sa, sb := &crossings{}, &crossings{}
	a, b := f.thresholdVerifier(sa, url), f.thresholdVerifier(sb, url)
	_, key := f.MustKey(keys.Settings{})
	for range 70 {
		verifierFunc(a)(key, 1)
	}
	hammer(64, key, verifierFunc(a), verifierFunc(b))
	if n := sa.count(80) + sb.count(80); n != 1 {
		t.Errorf("80 %% reported %d times over two instances; want 1", n)
	}
	if sa.count(100) > 1 || sb.count(100) > 1 || sa.count(100)+sb.count(100) == 0 {
		t.Errorf("100 %% reported %d and %d times; want at most once each, at least once in all", sa.count(100), sb.count(100))
	}
}
