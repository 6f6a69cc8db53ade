package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhold/keyhold/internal/plans"
)

// TestDatabaseOutageThroughProxy runs keyhold serve on PostgreSQL behind a
// TCP proxy and, while a client keeps verifying, takes the database away
// (every connection cut, new ones refused) and then makes it slow (every
// round trip held for seconds). What DESIGN.md promises must hold with real
// connections, not a store that fails on command: cached keys keep
// verifying; a key that is not cached is answered 503 UNAVAILABLE with
// Retry-After, not a hang and not a guess; usage waits in memory and is
// written exactly once when the database is back, so after the graceful
// stop the database holds exactly the calls that were granted.
func TestDatabaseOutageThroughProxy(t *testing.T) {
	t.Parallel()
	direct, viaProxy, proxy := postgresBehindProxy(t)

	// A high rate limit: the traffic below must be granted, not limited.
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 100_000, Burst: 100_000,
		MonthlyQuota: 10_000_000, MaxKeys: 3})
	a := MustRun(t, map[string]string{
		"KEYHOLD_DATABASE_URL":         viaProxy.String(),
		"KEYHOLD_PLANS_FILE":           plansFile,
		"KEYHOLD_USAGE_FLUSH_INTERVAL": "100ms",
	})
	c := a.Client(t)
	c.MustSignup("ada@example.com")
	cached := c.MustCreateKey("cached", "read")
	uncachedInOutage := c.MustCreateKey("first seen in the outage", "read")
	uncachedWhenSlow := c.MustCreateKey("first seen while slow", "read")

	var granted atomic.Int64 // VALID answers: the usage the database must end up with
	check := func(what, key string, status int, code string) scaleAnswer {
		t.Helper()
		ans := mustVerify(t, a, key)
		wantCode(t, what, ans, status, code)
		if ans.Valid {
			granted.Add(1)
		}
		if status == http.StatusServiceUnavailable && ans.RetryAfter == "" {
			t.Errorf("%s: 503 without Retry-After", what)
		}
		return ans
	}
	check("the cached key before the outage", cached, http.StatusOK, "VALID")

	// Traffic on the cached key all through the outage and the slow
	// database, a few hundred calls a second; every answer must be VALID.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var traffic atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ans, err := tryVerify(a.URL, cached)
				if err != nil {
					t.Errorf("verify during the outage: %v", err)
					return
				}
				if ans.Status != http.StatusOK || ans.Code != "VALID" {
					t.Errorf("the cached key during the outage: %s, want 200 VALID", ans)
					return
				}
				granted.Add(1)
				traffic.Add(1)
				time.Sleep(5 * time.Millisecond) // pacing: the machine is shared
			}
		}()
	}
	stopTraffic := func() {
		if stop != nil {
			close(stop)
			wg.Wait()
			stop = nil
		}
	}
	defer stopTraffic()
	// waitTraffic waits for n more granted calls from the traffic, so each
	// phase is crossed by live requests.
	waitTraffic := func(what string, n int64) {
		t.Helper()
		from := traffic.Load()
		eventually(t, 30*time.Second, what, func() (bool, string) {
			return traffic.Load() >= from+n, ""
		})
	}
	waitTraffic("traffic before the outage", 50)

	// PostgreSQL gone.
	proxy.Down()
	waitTraffic("traffic at the start of the outage", 50)
	check("a key first seen in the outage", uncachedInOutage, http.StatusServiceUnavailable, "UNAVAILABLE")
	// Without Redis, PostgreSQL instances read unknown keys (serve.go): one
	// that is not cached cannot be told from a real key, so it fails closed.
	check("a key no one created", randomKeys(t, 1)[0], http.StatusServiceUnavailable, "UNAVAILABLE")
	eventually(t, 30*time.Second, "a failed usage flush is logged", func() (bool, string) {
		return strings.Contains(a.Stderr.String(), "usage flush failed"), ""
	})
	if st, _, err := readiness(a); err != nil || st != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz in the outage = %d (%v), want 503", st, err)
	}
	if p := c.Get("/healthz"); p.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz in the outage = %s, want 200: liveness must not depend on the database", p.Status)
	}
	if p := c.Get("/dashboard"); p.StatusCode < 500 || strings.Contains(p.Body, "goroutine ") {
		t.Errorf("GET /dashboard in the outage = %s, want an error page without a stack trace", p.Status)
	}
	waitTraffic("traffic after the failed flush", 50)

	// verifiesAgain waits until key, refused while the database was away,
	// verifies; its granted calls count like the traffic's.
	verifiesAgain := func(what, key string) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() (bool, string) {
			ans := mustVerify(t, a, key)
			if ans.Valid {
				granted.Add(1)
			}
			return ans.Status == http.StatusOK && ans.Code == "VALID", ans.String()
		})
	}

	// PostgreSQL back: the key that was refused verifies (once the pool has
	// reconnected), and the usage kept in memory is written.
	proxy.Up()
	verifiesAgain("the key refused in the outage verifies after it", uncachedInOutage)
	eventually(t, 30*time.Second, "the usage of the outage is written", func() (bool, string) {
		return strings.Contains(a.Stderr.String(), "usage flush recovered"), ""
	})

	// A slow database: every round trip takes seconds, longer than a key
	// lookup may wait.
	proxy.Slow(1500 * time.Millisecond)
	waitTraffic("traffic with a slow database", 50)
	check("a key first seen while the database is slow", uncachedWhenSlow, http.StatusServiceUnavailable, "UNAVAILABLE")
	if st, _, err := readiness(a); err != nil || st != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with a slow database = %d (%v), want 503", st, err)
	}
	waitTraffic("more traffic with a slow database", 50)
	proxy.Up()
	verifiesAgain("the key refused while slow verifies after it", uncachedWhenSlow)

	stopTraffic()
	a.MustStop(t) // the graceful stop flushes what is left
	if strings.Contains(a.Stderr.String(), "final usage flush failed") {
		t.Fatalf("the final flush failed:\n%s", a.Stderr)
	}
	valid, used := usageInDatabase(t, direct)
	t.Logf("%d calls granted, %d of them by the traffic; the database holds %d valid and %d quota units", granted.Load(), traffic.Load(), valid, used)
	if valid != granted.Load() || used != granted.Load() {
		t.Errorf("the database holds %d valid calls and %d quota units; %d calls were granted (%d of them by the traffic)",
			valid, used, granted.Load(), traffic.Load())
	}
}

// TestDatabaseOutageAtCommit cuts the connection of a usage flush right
// after its COMMIT has reached PostgreSQL, before the answer comes back:
// the flush is written, yet Keyhold sees an error. The retry must not add
// the same usage again (it did before usage batches had ids).
func TestDatabaseOutageAtCommit(t *testing.T) {
	t.Parallel()
	direct, viaProxy, proxy := postgresBehindProxy(t)
	a := MustRun(t, map[string]string{"KEYHOLD_DATABASE_URL": viaProxy.String(), "KEYHOLD_USAGE_FLUSH_INTERVAL": "100ms"})
	c := a.Client(t)
	c.MustSignup("ada@example.com")
	key := c.MustCreateKey("Production", "read")

	granted := 0
	verify := func() {
		t.Helper()
		ans := mustVerify(t, a, key)
		wantCode(t, "the key", ans, http.StatusOK, "VALID")
		granted++
	}
	// pgx sends COMMIT as a simple query: 'Q', its length, "commit\0".
	// The cut waits for the commit of a usage flush, the only transaction
	// that writes usage_batches: another one (the start-up sweep's, say)
	// may commit meanwhile, and cutting it would fail the key's first read.
	cut := proxy.CutAfter([]byte("usage_batches"), []byte("commit\x00"))
	eventually(t, 30*time.Second, "a usage flush commits", func() (bool, string) {
		select {
		case <-cut:
			return true, ""
		default:
			verify()
			return false, ""
		}
	})
	proxy.Up()
	verify()
	eventually(t, 30*time.Second, "the usage flush recovers", func() (bool, string) {
		return strings.Contains(a.Stderr.String(), "usage flush recovered"), ""
	})
	a.MustStop(t)
	if valid, used := usageInDatabase(t, direct); valid != int64(granted) || used != int64(granted) {
		t.Errorf("the database holds %d valid calls and %d quota units; %d calls were granted", valid, used, granted)
	}
}

// usageInDatabase returns the valid calls and the quota units written to
// the database at databaseURL, read on a connection of its own.
func usageInDatabase(tb testing.TB, databaseURL string) (valid, used int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT COALESCE(SUM(valid), 0) FROM usage_hourly`).Scan(&valid); err != nil {
		tb.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT COALESCE(SUM(used), 0) FROM key_quota`).Scan(&used); err != nil {
		tb.Fatal(err)
	}
	return valid, used
}
