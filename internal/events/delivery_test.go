package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// TestSignedDelivery: a local receiver gets each event its endpoint
// subscribes to, once, as a Standard Webhooks message that verifies with
// the endpoint's secret, whose webhook-id is the event's id; an endpoint
// that subscribes to other types gets nothing; the log shows the attempt.
func TestSignedDelivery(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			db := storetest.New(t, kind)
			instance(t, db, events.DeliveryConfig{})
			svc := newService(t, db)
			rc := newReceiver(t, nil)
			other := newReceiver(t, nil)
			ep, sec, err := svc.CreateEndpoint(context.Background(), operator, events.EndpointInput{URL: rc.URL + "/hooks?tenant=1", Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			key, err := events.ParseSecret(sec)
			if err != nil {
				t.Fatal(err)
			}
			endpoint(t, svc, other.URL, events.KeyRevoked)
			acct := user(t, db, "ada@example.com")
			k := createKey(t, db, acct, "production")

			waitFor(t, 10*time.Second, "the delivery", func() bool { return len(rc.requests()) == 1 })
			ev := eventRows(t, db)[0]
			r := rc.requests()[0]
			if err := events.Verify(key, r.Header, r.Body, time.Now(), 0); err != nil {
				t.Fatalf("the signature does not verify: %v (headers %v)", err, r.Header)
			}
			// And with the reference implementation, as a receiver would.
			if out := referenceVerify(t, sec, r); out != ev.ID {
				t.Errorf("standardwebhooks verified the message as %q, want its id %q", out, ev.ID)
			}
			if got := r.Header.Get("webhook-id"); got != ev.ID {
				t.Errorf("webhook-id %q, want the event's id %q", got, ev.ID)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
				Data      struct {
					KeyID string `json:"key_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339, body.Timestamp); err != nil || body.Type != events.KeyCreated || body.Data.KeyID != k.ID {
				t.Errorf("body %s", r.Body)
			}
			// Signed with another endpoint's secret, it does not verify.
			_, otherKey := endpoint(t, svc, rc.URL+"/unused", events.QuotaThreshold)
			if err := events.Verify(otherKey, r.Header, r.Body, time.Now(), 0); err == nil {
				t.Error("the message verifies with another endpoint's secret")
			}

			waitFor(t, 5*time.Second, "the delivery recorded", func() bool { return deliveryStatus(t, db, ev.ID, ep.ID) == events.StatusDelivered })
			log, err := svc.Attempts(context.Background(), ep.ID, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 1 || log[0].Attempt != 1 || log[0].StatusCode != http.StatusNoContent || log[0].EventType != events.KeyCreated ||
				log[0].NextRetryAt != nil || log[0].Error != "" || log[0].EventID != ev.ID {
				t.Errorf("attempt log %+v", log)
			}
			if n := len(other.requests()); n != 0 {
				t.Errorf("an endpoint for key.revoked only got %d key.created messages", n)
			}
			if n := count(t, db, "SELECT count(*) FROM webhook_deliveries"); n != 1 {
				t.Errorf("%d deliveries, want 1", n)
			}
		})
	}
}

// TestRetries: a receiver that fails twice and then succeeds gets three
// attempts of one message, the same webhook-id and body each time, and the
// log shows all three with their statuses and, for the failures, the next
// retry; the endpoint's failing-since is set by the failures and cleared
// by the success.
func TestRetries(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{})
	svc := newService(t, db)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("not today"))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, key := endpoint(t, svc, rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "k")
	ev := eventRows(t, db)[0]
	waitFor(t, 10*time.Second, "the delivery", func() bool { return deliveryStatus(t, db, ev.ID, ep.ID) == events.StatusDelivered })
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for i, r := range got {
		if id := r.Header.Get("webhook-id"); id != ev.ID {
			t.Errorf("request %d: webhook-id %q, want %q", i+1, id, ev.ID)
		}
		if string(r.Body) != string(got[0].Body) {
			t.Errorf("request %d: body %s differs from the first %s", i+1, r.Body, got[0].Body)
		}
		if err := events.Verify(key, r.Header, r.Body, time.Now(), 0); err != nil {
			t.Errorf("request %d: %v", i+1, err)
		}
		if i > 0 && r.At.Sub(got[i-1].At) < fast[i-1] {
			t.Errorf("request %d came %v after the one before, before the schedule's %v", i+1, r.At.Sub(got[i-1].At), fast[i-1])
		}
	}
	log, err := svc.Attempts(context.Background(), ep.ID, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 {
		t.Fatalf("%d attempts in the log, want 3", len(log))
	}
	for i, want := range []struct {
		n, status int
		retry     bool
	}{{3, 200, false}, {2, 500, true}, {1, 500, true}} { // newest first
		a := log[i]
		if a.Attempt != want.n || a.StatusCode != want.status || (a.NextRetryAt != nil) != want.retry {
			t.Errorf("log[%d] = attempt %d status %d next retry %v, want %+v", i, a.Attempt, a.StatusCode, a.NextRetryAt, want)
		}
		if want.status == 500 && a.Response != "not today" {
			t.Errorf("log[%d] response %q", i, a.Response)
		}
	}
	// Paging: the attempts before the newest.
	older, err := svc.Attempts(context.Background(), ep.ID, 10, log[0].ID)
	if err != nil || len(older) != 2 || older[0].ID != log[1].ID {
		t.Errorf("attempts before %s: %+v, %v", log[0].ID, older, err)
	}
	e, err := svc.Endpoint(context.Background(), ep.ID)
	if err != nil || e.FailingSince != nil || !e.Enabled {
		t.Errorf("after the success: %+v, %v; want enabled, not failing", e, err)
	}
}

// TestGivesUpAfterEightAttempts: a receiver that always fails gets the
// schedule's eight attempts, then the delivery has failed.
func TestGivesUpAfterEightAttempts(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{})
	svc := newService(t, db)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	ep, _ := endpoint(t, svc, rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "k")
	ev := eventRows(t, db)[0]
	waitFor(t, 10*time.Second, "the delivery to fail", func() bool { return deliveryStatus(t, db, ev.ID, ep.ID) == events.StatusFailed })
	if n := len(rc.requests()); n != 8 {
		t.Errorf("%d attempts, want 8", n)
	}
	e, _ := svc.Endpoint(context.Background(), ep.ID)
	if e.FailingSince == nil || !e.Enabled {
		t.Errorf("endpoint %+v: want enabled and failing", e)
	}
}

// TestGoneDisables: an answer of 410 disables the endpoint (reason gone),
// cancels its other pending deliveries, and later events make none.
func TestGoneDisables(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{})
	svc := newService(t, db)
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			<-release // hold the first, so the second waits behind it… or fails
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	ep, _ := endpoint(t, svc, rc.URL)
	acct := user(t, db, "ada@example.com")
	createKey(t, db, acct, "one")
	waitFor(t, 10*time.Second, "the first request", func() bool { return len(rc.requests()) >= 1 })
	createKey(t, db, acct, "two")
	evs := eventRows(t, db)
	waitFor(t, 10*time.Second, "the second delivery to fail once", func() bool {
		return count(t, db, q(db, "SELECT count(*) FROM webhook_attempts WHERE event_id = ?"), evs[1].ID) >= 1
	})
	close(release)
	waitFor(t, 10*time.Second, "the endpoint disabled", func() bool {
		e, err := svc.Endpoint(context.Background(), ep.ID)
		return err == nil && !e.Enabled
	})
	e, _ := svc.Endpoint(context.Background(), ep.ID)
	if e.DisabledReason != events.DisabledGone {
		t.Errorf("disabled for %q, want %q", e.DisabledReason, events.DisabledGone)
	}
	if s := deliveryStatus(t, db, evs[0].ID, ep.ID); s != events.StatusFailed {
		t.Errorf("the 410'd delivery is %s, want failed", s)
	}
	if s := deliveryStatus(t, db, evs[1].ID, ep.ID); s != events.StatusCanceled {
		t.Errorf("the other pending delivery is %s, want canceled", s)
	}
	createKey(t, db, acct, "three")
	// The fan-out job of the third event ran once its job completed.
	waitFor(t, 10*time.Second, "the third fan-out", func() bool {
		return count(t, db, "SELECT count(*) FROM river_job WHERE kind = 'webhook.fanout' AND state = 'completed'") == 3
	})
	if n := count(t, db, "SELECT count(*) FROM webhook_deliveries"); n != 2 {
		t.Errorf("%d deliveries; a disabled endpoint got a new one", n)
	}
	before := len(rc.requests())
	time.Sleep(200 * time.Millisecond) // several retry periods: nothing more may come
	if n := len(rc.requests()); n != before {
		t.Errorf("%d more requests to a disabled endpoint", n-before)
	}
}

// TestFailingDisables: an endpoint that fails every attempt for the
// failing limit is disabled (reason failing).
func TestFailingDisables(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{FailingLimit: 120 * time.Millisecond})
	svc := newService(t, db)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	ep, _ := endpoint(t, svc, rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "k")
	waitFor(t, 10*time.Second, "the endpoint disabled", func() bool {
		e, err := svc.Endpoint(context.Background(), ep.ID)
		return err == nil && !e.Enabled
	})
	e, _ := svc.Endpoint(context.Background(), ep.ID)
	if e.DisabledReason != events.DisabledFailing || e.FailingSince == nil {
		t.Errorf("endpoint %+v, want disabled for failing", e)
	}
	got := rc.requests()
	if n := len(got); n < 2 || n >= 8 {
		t.Fatalf("%d attempts before 120 ms of failure disabled it, want 2 to 7", n)
	}
	if span := got[len(got)-1].At.Sub(got[0].At); span < 120*time.Millisecond {
		t.Errorf("disabled after failing for %v, before the limit of 120 ms", span)
	}
	if span := got[len(got)-2].At.Sub(got[0].At); span >= 140*time.Millisecond {
		t.Errorf("the attempt before the last was %v after the first failure: past the limit, it should have disabled", span)
	}
	// Enabling it again clears the reason and the failing-since.
	on := true
	e, err := svc.UpdateEndpoint(context.Background(), operator, ep.ID, events.EndpointPatch{Enabled: &on})
	if err != nil || !e.Enabled || e.DisabledReason != "" || e.FailingSince != nil {
		t.Errorf("re-enabled: %+v, %v", e, err)
	}
}

// TestSlowReceiverDoesNotBlockOthers: a receiver that never answers holds
// at most PerEndpoint deliveries at once, each until the send timeout, and
// the deliveries to another endpoint go through meanwhile.
func TestSlowReceiverDoesNotBlockOthers(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{Sender: events.SenderConfig{Timeout: 2 * time.Second}, PerEndpoint: 2, Workers: 4})
	svc := newService(t, db)
	slow := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the sender gives up
	})
	fastRc := newReceiver(t, nil)
	slowEp, _ := endpoint(t, svc, slow.URL)
	endpoint(t, svc, fastRc.URL)
	acct := user(t, db, "ada@example.com")
	start := time.Now()
	for i := range 6 {
		createKey(t, db, acct, "k"+string(rune('a'+i)))
	}
	waitFor(t, 10*time.Second, "the fast receiver's six", func() bool { return len(fastRc.requests()) == 6 })
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the fast receiver waited %v, behind the slow one's 2 s timeout", took)
	}
	waitFor(t, 10*time.Second, "the slow receiver's first timeouts", func() bool {
		return count(t, db, q(db, "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = ?"), slowEp.ID) >= 2
	})
	if n := slow.maxInFlight(); n > 2 {
		t.Errorf("the slow receiver had %d requests at once, want at most 2", n)
	}
	log, err := svc.Attempts(context.Background(), slowEp.ID, 10, "")
	if err != nil || len(log) == 0 {
		t.Fatalf("slow log %v, %v", log, err)
	}
	a := log[len(log)-1]
	if a.StatusCode != 0 || a.Error == "" || a.Latency < 2*time.Second || a.NextRetryAt == nil {
		t.Errorf("a timed-out attempt: %+v", a)
	}
}

// TestUnqueuedEventsAreSwept: events written where no queue was at hand
// (the command line) are fanned out and delivered by the server's sweep.
func TestUnqueuedEventsAreSwept(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	svc := newService(t, db)
	rc := newReceiver(t, nil)
	endpoint(t, svc, rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "from the command line")
	if n := count(t, db, "SELECT count(*) FROM events WHERE queued = FALSE"); n != 1 {
		t.Fatalf("%d unqueued events, want 1", n)
	}
	instance(t, db, events.DeliveryConfig{}) // the sweep runs on start
	waitFor(t, 10*time.Second, "the swept delivery", func() bool { return len(rc.requests()) == 1 })
	if n := count(t, db, "SELECT count(*) FROM events WHERE queued = FALSE"); n != 0 {
		t.Errorf("%d events still unqueued", n)
	}
}

// referenceVerify checks a delivered request with the npm package
// standardwebhooks (the reference implementation, in the repository's
// node_modules), checking each header is there, and returns the id it
// verified; the test fails if it does not verify.
func referenceVerify(t *testing.T, secret string, r request) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the reference check: %v", err)
	}
	script := `
const { Webhook } = require("standardwebhooks");
const h = JSON.parse(process.env.HEADERS);
for (const k of ["webhook-id", "webhook-timestamp", "webhook-signature"]) if (!h[k]) throw new Error("no " + k);
new Webhook(process.env.SECRET).verify(process.env.BODY, h);
process.stdout.write(h["webhook-id"]);
`
	h, _ := json.Marshal(map[string]string{"webhook-id": r.Header.Get("webhook-id"),
		"webhook-timestamp": r.Header.Get("webhook-timestamp"), "webhook-signature": r.Header.Get("webhook-signature")})
	cmd := exec.Command(node, "-e", script)
	cmd.Dir = filepath.Join("..", "..") // the repository root, with node_modules
	cmd.Env = append(os.Environ(), "SECRET="+secret, "BODY="+string(r.Body), "HEADERS="+string(h))
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("standardwebhooks refused the message: %v\n%s", err, stderr)
	}
	return string(out)
}

// TestScheduleIsDESIGNs: attempts at 0 s, then 5 s, 5 min, 30 min, 2 h,
// 5 h, 10 h and 10 h after the one before: eight in all.
func TestScheduleIsDESIGNs(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if len(events.Schedule) != len(want) {
		t.Fatalf("%d waits, want %d (8 attempts)", len(events.Schedule), len(want))
	}
	for i, d := range want {
		if events.Schedule[i] != d {
			t.Errorf("wait before attempt %d: %v, want %v", i+2, events.Schedule[i], d)
		}
	}
	if events.FailingLimit != 5*24*time.Hour {
		t.Errorf("FailingLimit %v, want five days", events.FailingLimit)
	}
}

// TestSecretThatDoesNotOpen: an instance whose KEYHOLD_SECRET is not the
// one an endpoint's secret was sealed under sends nothing (it cannot
// sign) and gives up on the job rather than retrying for days.
func TestSecretThatDoesNotOpen(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{Secret: []byte("another-instance-secret-0123456789abcdef")})
	svc := newService(t, db)
	rc := newReceiver(t, nil)
	ep, _ := endpoint(t, svc, rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "k")
	waitFor(t, 10*time.Second, "the delivery job cancelled", func() bool {
		return count(t, db, "SELECT count(*) FROM river_job WHERE kind = 'webhook.deliver' AND state = 'cancelled'") == 1
	})
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d requests without the endpoint's secret", n)
	}
	ev := eventRows(t, db)[0]
	if s := deliveryStatus(t, db, ev.ID, ep.ID); s != events.StatusPending {
		t.Errorf("delivery %s; want it left pending for a Resend after the secret is rolled", s)
	}
}
