package verify_test

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/testenv"
	"github.com/keyhold/keyhold/internal/verify"
)

var replaySecret = []byte("replay-tests-secret-0123456789abcdef")

// idemHeader is a request's headers with Idempotency-Key k.
func idemHeader(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

// idemRun runs one request as the handlers do: Begin, and unless it
// answers, Verify, then Finish with the answer it writes.
func idemRun(v *verify.Verifier, p *verify.Replays, h http.Header, route verify.Route, req verify.Request, params string) *verify.Answer {
	ctx := context.Background()
	claim, ans := p.Begin(ctx, h, route, &req, params)
	if ans != nil {
		return ans
	}
	var res verify.Result
	v.Verify(ctx, &req, &res)
	out := http.Header{}
	if res.Entry != nil {
		out["Ratelimit-Limit"] = []string{strconv.FormatInt(res.Decision.RateLimit, 10)}
		out["Ratelimit-Remaining"] = []string{strconv.FormatInt(res.Decision.RateRemaining, 10)}
		out["Ratelimit-Reset"] = []string{strconv.FormatInt(res.ResetSeconds(), 10)}
	}
	if ra := res.RetryAfter(); ra > 0 {
		out["Retry-After"] = []string{strconv.FormatInt(ra, 10)}
	}
	body := verify.AppendJSON(nil, &res)
	claim.Finish(res.Code.HTTPStatus(), out, body)
	a := &verify.Answer{Status: res.Code.HTTPStatus(), Body: body, Code: res.Code}
	for i, name := range []string{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Retry-After"} {
		a.Header[i] = out.Get(name)
	}
	return a
}

func mustReplays(tb testing.TB, c verify.ReplayConfig) *verify.Replays {
	tb.Helper()
	p, err := verify.NewReplays(c)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// quotaLeft is what a cost-0 verification says remains of key's quota.
func quotaLeft(tb testing.TB, v *verify.Verifier, key string) int64 {
	tb.Helper()
	var res verify.Result
	v.Verify(context.Background(), &verify.Request{Key: key}, &res)
	if res.Code != verify.Valid {
		tb.Fatalf("reading the quota: %s", res.Code)
	}
	return res.Decision.QuotaRemaining()
}

// concurrently runs n requests at once through run and returns the
// answers.
func concurrently(n int, run func(i int) *verify.Answer) []*verify.Answer {
	out := make([]*verify.Answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = run(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// wantOneFirst checks that answers are one first answer (VALID) and its
// replays, every one the same.
func wantOneFirst(t *testing.T, answers []*verify.Answer) {
	t.Helper()
	first := 0
	for _, a := range answers {
		if !a.Replayed {
			first++
		}
		if a.Status != 200 || !bytes.Equal(a.Body, answers[0].Body) || a.Header != answers[0].Header {
			t.Fatalf("answers differ: %d %s %v and %d %s %v", a.Status, a.Body, a.Header, answers[0].Status, answers[0].Body, answers[0].Header)
		}
	}
	if first != 1 {
		t.Fatalf("%d of %d answers were not replays, want 1", first, len(answers))
	}
}

func TestReplayConcurrentIdenticalConsumeOnce(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	answers := concurrently(64, func(int) *verify.Answer {
		return idemRun(f.v, p, idemHeader("order-1"), verify.RouteVerify, verify.Request{Key: key, Cost: 1}, "")
	})
	wantOneFirst(t, answers)
	if got := quotaLeft(t, f.v, key); got != 99 {
		t.Errorf("quota left %d after 64 identical requests, want 99 (one consumption)", got)
	}
	if got := p.Replayed(verify.RouteVerify); got != 63 {
		t.Errorf("Replayed = %d, want 63", got)
	}
	// A later retry replays too; another Idempotency-Key runs.
	if a := idemRun(f.v, p, idemHeader("order-1"), verify.RouteVerify, verify.Request{Key: key, Cost: 1}, ""); !a.Replayed || !bytes.Equal(a.Body, answers[0].Body) {
		t.Errorf("retry: replayed %v, %s", a.Replayed, a.Body)
	}
	if a := idemRun(f.v, p, idemHeader("order-2"), verify.RouteVerify, verify.Request{Key: key, Cost: 1}, ""); a.Replayed || a.Status != 200 {
		t.Errorf("a new Idempotency-Key: replayed %v, %d", a.Replayed, a.Status)
	}
	if got := quotaLeft(t, f.v, key); got != 98 {
		t.Errorf("quota left %d, want 98", got)
	}
}

func TestReplayNeverAnotherKeysAnswer(t *testing.T) {
	f := MustFixture(t)
	k1, key1 := f.MustKey(keys.Settings{Name: "one"})
	k2, key2 := f.MustKey(keys.Settings{Name: "two"})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	a1 := idemRun(f.v, p, idemHeader("shared"), verify.RouteVerify, verify.Request{Key: key1, Cost: 1}, "")
	a2 := idemRun(f.v, p, idemHeader("shared"), verify.RouteVerify, verify.Request{Key: key2, Cost: 1}, "")
	if a2.Replayed || !strings.Contains(string(a2.Body), k2.ID) || strings.Contains(string(a2.Body), k1.ID) {
		t.Fatalf("the second key got %s (replayed %v), want its own answer", a2.Body, a2.Replayed)
	}
	if quotaLeft(t, f.v, key1) != 99 || quotaLeft(t, f.v, key2) != 99 {
		t.Errorf("each key must be charged once")
	}
	// And the key that sent it first still gets its own.
	if a := idemRun(f.v, p, idemHeader("shared"), verify.RouteVerify, verify.Request{Key: key1, Cost: 1}, ""); !a.Replayed || !bytes.Equal(a.Body, a1.Body) {
		t.Errorf("key one's retry: %s", a.Body)
	}
}

func TestReplayOtherParametersRefused(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{Scopes: []string{"read", "write"}})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	base := verify.Request{Key: key, Cost: 1, Scopes: []string{"read"}, IP: netip.MustParseAddr("203.0.113.7")}
	if a := idemRun(f.v, p, idemHeader("k"), verify.RouteVerify, base, ""); a.Status != 200 || a.Replayed {
		t.Fatalf("first: %d %s", a.Status, a.Body)
	}
	other := func(change func(*verify.Request)) verify.Request {
		r := base
		r.Scopes = append([]string(nil), base.Scopes...)
		change(&r)
		return r
	}
	for name, c := range map[string]struct {
		req    verify.Request
		route  verify.Route
		params string
	}{
		"cost":   {other(func(r *verify.Request) { r.Cost = 2 }), verify.RouteVerify, ""},
		"scopes": {other(func(r *verify.Request) { r.Scopes = []string{"read", "write"} }), verify.RouteVerify, ""},
		"ip":     {other(func(r *verify.Request) { r.IP = netip.MustParseAddr("203.0.113.8") }), verify.RouteVerify, ""},
		"no ip":  {other(func(r *verify.Request) { r.IP = netip.Addr{} }), verify.RouteVerify, ""},
		"route":  {base, verify.RouteTokens, ""},
		"params": {base, verify.RouteVerify, "300\x00aud"},
	} {
		a := idemRun(f.v, p, idemHeader("k"), c.route, c.req, c.params)
		if a.Status != 400 || a.Replayed || !strings.Contains(string(a.Body), `"code":"BAD_REQUEST"`) || !strings.Contains(string(a.Body), "other parameters") {
			t.Errorf("%s: %d %s, want 400 BAD_REQUEST saying other parameters", name, a.Status, a.Body)
		}
	}
	if got := quotaLeft(t, f.v, key); got != 99 {
		t.Errorf("quota left %d: a refused retry consumed", got)
	}
}

func TestReplayTokensParameters(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	req := verify.Request{Key: key, Cost: 1, Exchange: true}
	first := idemRun(f.v, p, idemHeader("t"), verify.RouteTokens, req, "300\x00api")
	if again := idemRun(f.v, p, idemHeader("t"), verify.RouteTokens, req, "300\x00api"); !again.Replayed || !bytes.Equal(again.Body, first.Body) {
		t.Errorf("same ttl and audience: replayed %v", again.Replayed)
	}
	for _, params := range []string{"301\x00api", "300\x00other"} {
		if a := idemRun(f.v, p, idemHeader("t"), verify.RouteTokens, req, params); a.Status != 400 {
			t.Errorf("params %q: %d %s, want 400", params, a.Status, a.Body)
		}
	}
	if got := quotaLeft(t, f.v, key); got != 99 {
		t.Errorf("quota left %d, want 99", got)
	}
}

func TestReplayExpiresAfterTenMinutes(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	req := verify.Request{Key: key, Cost: 1}
	idemRun(f.v, p, idemHeader("x"), verify.RouteVerify, req, "")
	f.Advance(verify.ReplayTTL - time.Second)
	if a := idemRun(f.v, p, idemHeader("x"), verify.RouteVerify, req, ""); !a.Replayed {
		t.Fatal("not replayed within the 10 minutes")
	}
	f.Advance(time.Second)
	if a := idemRun(f.v, p, idemHeader("x"), verify.RouteVerify, req, ""); a.Replayed || a.Status != 200 {
		t.Fatalf("after 10 minutes: replayed %v %d", a.Replayed, a.Status)
	}
	if got := quotaLeft(t, f.v, key); got != 98 {
		t.Errorf("quota left %d, want 98: the request after 10 minutes is a new one", got)
	}
	if n, _ := p.Records(); n != 1 {
		t.Errorf("%d records, want 1: the expired one is replaced", n)
	}
}

func TestReplayMemoryBounded(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	req := verify.Request{Key: key, Cost: 1}
	t.Run("Count", func(t *testing.T) {
		p := mustReplays(t, verify.ReplayConfig{Now: f.Now, MaxEntries: 3})
		for i := range 5 {
			idemRun(f.v, p, idemHeader("c"+strconv.Itoa(i)), verify.RouteVerify, req, "")
		}
		if n, _ := p.Records(); n != 3 || p.Evicted() != 2 {
			t.Fatalf("records %d, evicted %d; want 3 and 2", n, p.Evicted())
		}
		// The oldest is forgotten (it runs again); the newest is kept.
		if a := idemRun(f.v, p, idemHeader("c4"), verify.RouteVerify, req, ""); !a.Replayed {
			t.Error("the newest record was evicted")
		}
		if a := idemRun(f.v, p, idemHeader("c0"), verify.RouteVerify, req, ""); a.Replayed {
			t.Error("the oldest record was kept past the bound")
		}
	})
	t.Run("Bytes", func(t *testing.T) {
		one := len(idemRun(f.v, mustReplays(t, verify.ReplayConfig{}), idemHeader("probe"), verify.RouteVerify, req, "").Body) + 256
		p := mustReplays(t, verify.ReplayConfig{Now: f.Now, MaxBytes: 2*one + one/2})
		for i := range 4 {
			idemRun(f.v, p, idemHeader("b"+strconv.Itoa(i)), verify.RouteVerify, req, "")
		}
		n, b := p.Records()
		if n != 2 || b > 2*one+one/2 || p.Evicted() != 2 {
			t.Fatalf("records %d of %d bytes, evicted %d; want 2 within %d bytes", n, b, p.Evicted(), 2*one+one/2)
		}
	})
}

func TestReplayMalformedHeader(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	req := verify.Request{Key: key, Cost: 1}
	for name, h := range map[string]http.Header{
		"empty":     idemHeader(""),
		"256 bytes": idemHeader(strings.Repeat("a", 256)),
		"control":   idemHeader("abc\x01"),
		"invisible": idemHeader("abc\u200b"),
		"not UTF-8": idemHeader("abc\xff"),
		"twice":     {"Idempotency-Key": {"a", "b"}},
	} {
		a := idemRun(f.v, p, h, verify.RouteVerify, req, "")
		if a.Status != 400 || a.Code != verify.BadRequest || !strings.Contains(string(a.Body), "Idempotency-Key") {
			t.Errorf("%s: %d %s, want 400 naming Idempotency-Key", name, a.Status, a.Body)
		}
	}
	if got := quotaLeft(t, f.v, key); got != 100 {
		t.Errorf("quota left %d: a refused header consumed", got)
	}
	if a := idemRun(f.v, p, idemHeader(strings.Repeat("a", 255)), verify.RouteVerify, req, ""); a.Status != 200 {
		t.Errorf("255 bytes: %d %s", a.Status, a.Body)
	}
	if a := idemRun(f.v, p, http.Header{}, verify.RouteVerify, req, ""); a.Replayed || a.Status != 200 {
		t.Errorf("no header: %d", a.Status)
	}
}

func TestReplayKeepsOnlyValid(t *testing.T) {
	f := MustFixture(t)
	k, key := f.MustKey(keys.Settings{Scopes: []string{"read"}})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now})
	ctx := context.Background()

	// A refusal consumed nothing and is not kept: its retry is answered
	// afresh (INSUFFICIENT_SCOPE, MALFORMED), and leaves no record, so a
	// flood of random keys with Idempotency-Keys fills nothing.
	scoped := verify.Request{Key: key, Cost: 1, Scopes: []string{"write"}}
	for _, req := range []verify.Request{scoped, {Key: "kh_live_nope", Cost: 1}} {
		first := idemRun(f.v, p, idemHeader("s"+req.Key), verify.RouteVerify, req, "")
		if first.Status != 403 && first.Status != 401 {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		if a := idemRun(f.v, p, idemHeader("s"+req.Key), verify.RouteVerify, req, ""); a.Replayed || a.Status != first.Status {
			t.Errorf("refusal %d: retry replayed %v, status %d; want answered afresh", first.Status, a.Replayed, a.Status)
		}
	}
	if n, _ := p.Records(); n != 0 {
		t.Errorf("%d records kept after refusals only, want 0", n)
	}

	// UNAVAILABLE is not kept: the retry runs and succeeds.
	_, fresh := f.MustKey(keys.Settings{Name: "uncached"})
	f.db.down.Store(true)
	if a := idemRun(f.v, p, idemHeader("u"), verify.RouteVerify, verify.Request{Key: fresh, Cost: 1}, ""); a.Status != 503 {
		t.Fatalf("with the database down: %d %s", a.Status, a.Body)
	}
	f.db.down.Store(false)
	if a := idemRun(f.v, p, idemHeader("u"), verify.RouteVerify, verify.Request{Key: fresh, Cost: 1}, ""); a.Replayed || a.Status != 200 {
		t.Errorf("after UNAVAILABLE: replayed %v %d %s, want a fresh VALID", a.Replayed, a.Status, a.Body)
	}

	// QUOTA_EXCEEDED (429, Retry-After) is not kept: once the quota is
	// raised, the same request succeeds.
	if a := idemRun(f.v, p, idemHeader("q0"), verify.RouteVerify, verify.Request{Key: key, Cost: 101}, ""); a.Status != 429 {
		t.Fatalf("over the quota: %d %s", a.Status, a.Body)
	}
	quota := int64(1000)
	if err := f.db.DB.SetKeyOverrides(ctx, k.ID, nil, nil, &quota); err != nil {
		t.Fatal(err)
	}
	f.v.InvalidateKey(k.ID)
	if a := idemRun(f.v, p, idemHeader("q0"), verify.RouteVerify, verify.Request{Key: key, Cost: 101}, ""); a.Replayed || a.Status != 200 {
		t.Errorf("after the quota was raised: replayed %v %d %s", a.Replayed, a.Status, a.Body)
	}
}

// TestReplayConcurrentTimesOut: a duplicate waits for the first request
// only so long, then is told to retry, and the first's answer is still
// kept for that retry.
func TestReplayConcurrentTimesOut(t *testing.T) {
	f := MustFixture(t)
	_, key := f.MustKey(keys.Settings{})
	p := mustReplays(t, verify.ReplayConfig{Now: f.Now, Wait: 50 * time.Millisecond})
	req := verify.Request{Key: key, Cost: 1}
	claim, ans := p.Begin(context.Background(), idemHeader("slow"), verify.RouteVerify, &req, "")
	if claim == nil || ans != nil {
		t.Fatal("the first request must run")
	}
	_, waited := p.Begin(context.Background(), idemHeader("slow"), verify.RouteVerify, &req, "")
	if waited == nil || waited.Status != 503 || waited.Header[3] != "1" || !strings.Contains(string(waited.Body), "still being answered") {
		t.Fatalf("the duplicate: %+v", waited)
	}
	claim.Finish(200, http.Header{"Ratelimit-Remaining": {"7"}}, []byte(`{"valid":true}`))
	if _, a := p.Begin(context.Background(), idemHeader("slow"), verify.RouteVerify, &req, ""); a == nil || !a.Replayed || a.Header[1] != "7" || string(a.Body) != `{"valid":true}` {
		t.Fatalf("the retry: %+v", a)
	}
}

// sharedPair is two instances on one Redis, each with its Replays.
func sharedPair(t *testing.T, redisURL string, wait time.Duration) (*fixture, [2]*instance, [2]*verify.Replays) {
	f, a, b := twoInstances(t, redisURL)
	var ps [2]*verify.Replays
	for i := range ps {
		ps[i] = mustReplays(t, verify.ReplayConfig{Redis: mustRedis(t, redisURL), Secret: replaySecret, Now: f.Now, Wait: wait})
	}
	return f, [2]*instance{a, b}, ps
}

func TestReplayAcrossInstances(t *testing.T) {
	f, in, ps := sharedPair(t, testenv.Redis(t), 0)
	_, key := f.MustKey(keys.Settings{})
	req := verify.Request{Key: key, Cost: 1}
	answers := concurrently(64, func(i int) *verify.Answer {
		return idemRun(in[i%2].v, ps[i%2], idemHeader("across"), verify.RouteVerify, req, "")
	})
	wantOneFirst(t, answers)
	if got := quotaLeft(t, in[0].v, key); got != 99 {
		t.Errorf("quota left %d after 64 identical requests on two instances, want 99", got)
	}
	if got := ps[0].Replayed(verify.RouteVerify) + ps[1].Replayed(verify.RouteVerify); got != 63 {
		t.Errorf("replays %d, want 63", got)
	}

	// Another key with the same Idempotency-Key, on the other instance.
	_, other := f.MustKey(keys.Settings{Name: "other"})
	if a := idemRun(in[1].v, ps[1], idemHeader("across"), verify.RouteVerify, verify.Request{Key: other, Cost: 1}, ""); a.Replayed || a.Status != 200 {
		t.Errorf("another key: replayed %v %d", a.Replayed, a.Status)
	}
	// Other parameters on the other instance.
	if a := idemRun(in[1].v, ps[1], idemHeader("across"), verify.RouteVerify, verify.Request{Key: key, Cost: 2}, ""); a.Status != 400 {
		t.Errorf("other cost across instances: %d %s", a.Status, a.Body)
	}
	// A request answered on A, retried on B (B has nothing in memory).
	first := idemRun(in[0].v, ps[0], idemHeader("a-then-b"), verify.RouteVerify, req, "")
	if a := idemRun(in[1].v, ps[1], idemHeader("a-then-b"), verify.RouteVerify, req, ""); !a.Replayed || !bytes.Equal(a.Body, first.Body) || a.Header != first.Header {
		t.Errorf("retry on B: replayed %v %s %v, want %s %v", a.Replayed, a.Body, a.Header, first.Body, first.Header)
	}
	// Ten minutes later (the instances' clock) it runs again, on either.
	f.Advance(verify.ReplayTTL)
	if a := idemRun(in[1].v, ps[1], idemHeader("a-then-b"), verify.RouteVerify, req, ""); a.Replayed || a.Status != 200 {
		t.Errorf("after 10 minutes: replayed %v %d", a.Replayed, a.Status)
	}
	if got := quotaLeft(t, in[0].v, key); got != 97 {
		t.Errorf("quota left %d, want 97", got)
	}
}

func TestReplayRedisRecordSealed(t *testing.T) {
	url := testenv.PrivateRedis(t).URL() // alone, so that its records can be listed
	f, in, ps := sharedPair(t, url, 100*time.Millisecond)
	k, key := f.MustKey(keys.Settings{Name: "sealed-name"})
	req := verify.Request{Key: key, Cost: 1}
	idemRun(in[0].v, ps[0], idemHeader("seal"), verify.RouteVerify, req, "")

	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	names, err := rdb.Keys(ctx, "kh:idem:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var mine string
	for _, n := range names {
		v, _ := rdb.Get(ctx, n).Result()
		if strings.Contains(v, key) || strings.Contains(n, key) {
			t.Fatal("the API key is in Redis")
		}
		if strings.Contains(v, k.ID) || strings.Contains(v, "sealed-name") {
			t.Fatalf("the answer is in Redis in clear: %q", v)
		}
		if strings.HasPrefix(v, "D") {
			mine = n
		}
	}
	if mine == "" {
		t.Fatalf("no answer in Redis among %v", names)
	}
	// Copied under another API key's record, it does not open: that key
	// is answered UNAVAILABLE, not with this key's answer.
	_, other := f.MustKey(keys.Settings{Name: "thief"})
	idemRun(in[1].v, ps[1], idemHeader("seal-2"), verify.RouteVerify, verify.Request{Key: other, Cost: 1}, "")
	v, _ := rdb.Get(ctx, mine).Result()
	var target string
	for _, n := range mustKeys(t, rdb) {
		if n != mine {
			target = n
		}
	}
	if err := rdb.Set(ctx, target, v, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := mustReplays(t, verify.ReplayConfig{Redis: mustRedis(t, url), Secret: replaySecret, Now: f.Now})
	a := idemRun(in[1].v, fresh, idemHeader("seal-2"), verify.RouteVerify, verify.Request{Key: other, Cost: 1}, "")
	if a.Status != 503 || strings.Contains(string(a.Body), k.ID) {
		t.Errorf("a record moved under another key: %d %s, want 503 without the first key's answer", a.Status, a.Body)
	}
	// Under another instance secret nothing opens either.
	wrong := mustReplays(t, verify.ReplayConfig{Redis: mustRedis(t, url), Secret: []byte("another-instance-secret-0123456789ab"), Now: f.Now})
	if a := idemRun(in[0].v, wrong, idemHeader("seal"), verify.RouteVerify, req, ""); a.Status != 503 || a.Replayed {
		t.Errorf("another secret: %d %s", a.Status, a.Body)
	}
}

func mustKeys(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	names, err := rdb.Keys(context.Background(), "kh:idem:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestReplayAcrossInstancesAbandoned: a claim whose instance never
// answers makes the others wait a bounded time and say so; once it is
// abandoned, the request runs.
func TestReplayAcrossInstancesAbandoned(t *testing.T) {
	f, in, ps := sharedPair(t, testenv.Redis(t), 100*time.Millisecond)
	_, key := f.MustKey(keys.Settings{})
	req := verify.Request{Key: key, Cost: 1}
	claim, ans := ps[0].Begin(context.Background(), idemHeader("lost"), verify.RouteVerify, &req, "")
	if claim == nil || ans != nil {
		t.Fatal("A must hold the claim")
	}
	// A dies here. B waits, then answers UNAVAILABLE with Retry-After.
	start := time.Now()
	a := idemRun(in[1].v, ps[1], idemHeader("lost"), verify.RouteVerify, req, "")
	if a.Status != 503 || a.Header[3] == "" || !strings.Contains(string(a.Body), "still being answered") {
		t.Fatalf("B while A holds the claim: %d %s", a.Status, a.Body)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("B waited %v, want about the 100ms bound", d)
	}
	// Other parameters are refused at once, even while pending.
	if a := idemRun(in[1].v, ps[1], idemHeader("lost"), verify.RouteVerify, verify.Request{Key: key, Cost: 3}, ""); a.Status != 400 {
		t.Errorf("other cost while pending: %d %s", a.Status, a.Body)
	}
	f.Advance(verify.DefaultReplayAbandon)
	if a := idemRun(in[1].v, ps[1], idemHeader("lost"), verify.RouteVerify, req, ""); a.Status != 200 || a.Replayed {
		t.Errorf("after the claim was abandoned: %d replayed %v", a.Status, a.Replayed)
	}
	if got := quotaLeft(t, in[1].v, key); got != 99 {
		t.Errorf("quota left %d, want 99", got)
	}
}

// BenchmarkReplayNoHeader is what a request without Idempotency-Key pays:
// nothing (0 allocs).
func BenchmarkReplayNoHeader(b *testing.B) {
	p := mustReplays(b, verify.ReplayConfig{})
	h := http.Header{"Content-Type": {"application/json"}}
	req := verify.Request{Key: "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb", Cost: 1}
	b.ReportAllocs()
	for b.Loop() {
		if c, a := p.Begin(context.Background(), h, verify.RouteVerify, &req, ""); c != nil || a != nil {
			b.Fatal("a claim without the header")
		}
	}
}

// BenchmarkReplayHit is a replay from memory.
func BenchmarkReplayHit(b *testing.B) {
	p := mustReplays(b, verify.ReplayConfig{})
	h := idemHeader("bench")
	req := verify.Request{Key: "kh_live_o5s5Cs1tsXQvRBDF2DYwqBlnq5XzHVPE2gqtfb", Cost: 1, Scopes: []string{"read"}}
	c, _ := p.Begin(context.Background(), h, verify.RouteVerify, &req, "")
	c.Finish(200, http.Header{"Ratelimit-Remaining": {"9"}}, bytes.Repeat([]byte("x"), 400))
	b.ReportAllocs()
	for b.Loop() {
		if _, a := p.Begin(context.Background(), h, verify.RouteVerify, &req, ""); a == nil || !a.Replayed {
			b.Fatal("not a replay")
		}
	}
}
