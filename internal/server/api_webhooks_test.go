package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
)

// apiEndpoint is a webhook endpoint as the API answers it; Secret only in
// the answers of create and roll.
type apiEndpoint struct {
	ID, Object, URL, Description string
	Events                       []string
	Enabled                      bool
	DisabledReason               *string    `json:"disabled_reason"`
	FailingSince                 *time.Time `json:"failing_since"`
	CreatedAt                    time.Time  `json:"created_at"`
	UpdatedAt                    time.Time  `json:"updated_at"`
	Secret                       *string
}

func (c apiCall) endpoint(t testing.TB) apiEndpoint {
	t.Helper()
	var e apiEndpoint
	if err := json.Unmarshal(c.Body, &e); err != nil {
		t.Fatalf("endpoint %s: %v", c.Body, err)
	}
	return e
}

// withWebhookWorkers runs the webhook delivery jobs on a job queue over
// the server's database for the test, so that a test event or a resend
// reaches its receiver; a failed attempt is retried an hour later (after
// the test).
func withWebhookWorkers(tb testing.TB) option {
	return func(c *server.Config, db *store.DB) {
		secret := c.Secret
		d, err := events.NewDeliverer(events.DeliveryConfig{Store: db, Secret: secret, Sender: events.SenderConfig{AllowInsecure: true},
			Schedule: []time.Duration{time.Hour, time.Hour, time.Hour}, Busy: 50 * time.Millisecond, Logger: c.Logger})
		if err != nil {
			tb.Fatal(err)
		}
		workers := river.NewWorkers()
		sweep, n := d.Register(workers)
		pg := ""
		if db.Postgres() {
			pg = db.URL()
		}
		q, err := jobs.New(context.Background(), jobs.Config{DB: db.SQL(), PostgresURL: pg, Workers: workers, Logger: c.Logger,
			PollInterval: 100 * time.Millisecond, Queues: map[string]int{events.Queue: n}, PeriodicJobs: []*river.PeriodicJob{sweep}})
		if err != nil {
			tb.Fatal(err)
		}
		db.SetEventQueue(events.NewJobs(q))
		if err := q.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := q.Stop(ctx); err != nil {
				tb.Error(err)
			}
		})
	}
}

// receiver is a webhook receiver on loopback that answers status and
// counts what it got.
type receiver struct {
	*httptest.Server
	got    atomic.Int32
	status atomic.Int32
	types  chan string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{types: make(chan string, 16)}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Type string }
		_ = json.NewDecoder(req.Body).Decode(&body)
		r.got.Add(1)
		select {
		case r.types <- body.Type:
		default:
		}
		w.WriteHeader(int(r.status.Load()))
		_, _ = w.Write([]byte(`<b>thanks</b>`))
	}))
	t.Cleanup(r.Close)
	return r
}

// TestAPIWebhookEndpoints: the whole life of an endpoint through the API:
// create (secret once), list, get (no secret), update, roll (a new
// secret), delete; and the writes audited with the root key as actor.
func TestAPIWebhookEndpoints(t *testing.T) { onBoth(t, testAPIWebhookEndpoints) }

func testAPIWebhookEndpoints(t *testing.T, h *harness) {
	root := h.mustRootKey("webhooks.write")

	c := h.call("POST", "/v1/webhook_endpoints", root, map[string]any{"url": "https://example.com/hooks",
		"description": "CRM sync", "events": []string{"key.created", "key.revoked"}})
	if c.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", c.Status, c.Body)
	}
	e := c.endpoint(t)
	if !strings.HasPrefix(e.ID, "we_") || e.Object != "webhook_endpoint" || e.URL != "https://example.com/hooks" || e.Description != "CRM sync" ||
		strings.Join(e.Events, ",") != "key.created,key.revoked" || !e.Enabled || e.DisabledReason != nil || e.FailingSince != nil ||
		e.CreatedAt.IsZero() || e.UpdatedAt.IsZero() {
		t.Errorf("created %+v", e)
	}
	if e.Secret == nil || !strings.HasPrefix(*e.Secret, "whsec_") {
		t.Fatalf("create's secret: %v", e.Secret)
	}
	secret := *e.Secret
	if _, err := events.ParseSecret(secret); err != nil {
		t.Errorf("the secret does not parse: %v", err)
	}

	// Defaults: no events is every event, enabled.
	c = h.call("POST", "/v1/webhook_endpoints", root, map[string]any{"url": "https://example.org/all"})
	all := c.endpoint(t)
	if c.Status != http.StatusCreated || all.Events == nil || len(all.Events) != 0 || !all.Enabled {
		t.Errorf("defaults: %d %s", c.Status, c.Body)
	}
	// enabled false: disabled by the operator.
	c = h.call("POST", "/v1/webhook_endpoints", root, map[string]any{"url": "https://example.net/off", "enabled": false})
	if off := c.endpoint(t); c.Status != 201 || off.Enabled || off.DisabledReason == nil || *off.DisabledReason != "operator" {
		t.Errorf("disabled at birth: %d %s", c.Status, c.Body)
	}

	// List: newest first, paged, no secret anywhere.
	c = h.call("GET", "/v1/webhook_endpoints?limit=2", root, nil)
	var list struct {
		Object  string
		Data    []apiEndpoint
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal(c.Body, &list); err != nil || c.Status != 200 {
		t.Fatalf("list: %d %s", c.Status, c.Body)
	}
	if list.Object != "list" || len(list.Data) != 2 || !list.HasMore || list.Data[1].ID != all.ID {
		t.Errorf("first page: %s", c.Body)
	}
	if strings.Contains(string(c.Body), "whsec_") || strings.Contains(string(c.Body), `"secret"`) {
		t.Errorf("the list shows a secret: %s", c.Body)
	}
	c = h.call("GET", "/v1/webhook_endpoints?limit=2&starting_after="+list.Data[1].ID, root, nil)
	if err := json.Unmarshal(c.Body, &list); err != nil || len(list.Data) != 1 || list.Data[0].ID != e.ID || list.HasMore {
		t.Errorf("second page: %s", c.Body)
	}

	// Get: the same endpoint, no secret.
	c = h.call("GET", "/v1/webhook_endpoints/"+e.ID, root, nil)
	if got := c.endpoint(t); c.Status != 200 || got.ID != e.ID || got.Secret != nil || strings.Contains(string(c.Body), "whsec_") {
		t.Errorf("get: %d %s", c.Status, c.Body)
	}

	// Patch: only the fields given change.
	c = h.call("PATCH", "/v1/webhook_endpoints/"+e.ID, root, map[string]any{"description": "Billing sync"})
	if got := c.endpoint(t); c.Status != 200 || got.Description != "Billing sync" || got.URL != e.URL || len(got.Events) != 2 || !got.Enabled {
		t.Errorf("patch description: %d %s", c.Status, c.Body)
	}
	c = h.call("PATCH", "/v1/webhook_endpoints/"+e.ID, root, map[string]any{"events": []string{}, "enabled": false})
	if got := c.endpoint(t); c.Status != 200 || len(got.Events) != 0 || got.Enabled || got.DisabledReason == nil || *got.DisabledReason != "operator" ||
		got.Description != "Billing sync" {
		t.Errorf("patch events and enabled: %d %s", c.Status, c.Body)
	}
	c = h.call("PATCH", "/v1/webhook_endpoints/"+e.ID, root, map[string]any{"enabled": true, "url": "https://example.com/v2"})
	if got := c.endpoint(t); c.Status != 200 || !got.Enabled || got.DisabledReason != nil || got.URL != "https://example.com/v2" {
		t.Errorf("patch enable and url: %d %s", c.Status, c.Body)
	}
	if c = h.call("PATCH", "/v1/webhook_endpoints/"+e.ID, root, nil); c.Status != 200 || c.endpoint(t).URL != "https://example.com/v2" {
		t.Errorf("patch without a body: %d %s", c.Status, c.Body)
	}

	// Roll: a new secret, once.
	c = h.call("POST", "/v1/webhook_endpoints/"+e.ID+"/roll_secret", root, nil)
	rolled := c.endpoint(t)
	if c.Status != 200 || rolled.ID != e.ID || rolled.Secret == nil || !strings.HasPrefix(*rolled.Secret, "whsec_") || *rolled.Secret == secret {
		t.Errorf("roll: %d %s", c.Status, c.Body)
	}
	if c = h.call("GET", "/v1/webhook_endpoints/"+e.ID, root, nil); strings.Contains(string(c.Body), "whsec_") {
		t.Errorf("get after roll shows a secret: %s", c.Body)
	}

	// Delete, then it is gone.
	c = h.call("DELETE", "/v1/webhook_endpoints/"+e.ID, root, nil)
	if c.Status != 200 || strings.TrimSpace(string(c.Body)) != `{"id":"`+e.ID+`","object":"webhook_endpoint","deleted":true}` {
		t.Errorf("delete: %d %s", c.Status, c.Body)
	}
	if c = h.call("GET", "/v1/webhook_endpoints/"+e.ID, root, nil); c.Status != 404 {
		t.Errorf("get after delete: %d", c.Status)
	}

	// Every write is audited with the root key as actor, naming the host
	// only.
	var n int
	if err := h.queryRow(`SELECT COUNT(*) FROM audit_log WHERE target_id = ? AND root_key_id <> ''`, e.ID).Scan(&n); err != nil || n != 6 {
		t.Errorf("audit entries of the endpoint by the root key: %d, %v; want 6 (create, 3 updates, roll, delete)", n, err)
	}
	if strings.Contains(h.log.String(), "whsec_") {
		t.Error("a secret is in the log")
	}
}

// TestAPIWebhookRefusals: no root key, a root key without webhooks.write
// (for reads too), bad URLs, unknown event types and fields, unknown ids.
func TestAPIWebhookRefusals(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("webhooks.write")
	other := h.mustRootKey("keys.read", "keys.write", "accounts.read", "audit.read")
	e := h.call("POST", "/v1/webhook_endpoints", root, map[string]any{"url": "https://example.com/hooks"}).endpoint(t)
	id := e.ID

	ops := []struct{ method, path string }{
		{"POST", "/v1/webhook_endpoints"}, {"GET", "/v1/webhook_endpoints"}, {"GET", "/v1/webhook_endpoints/" + id},
		{"PATCH", "/v1/webhook_endpoints/" + id}, {"DELETE", "/v1/webhook_endpoints/" + id},
		{"POST", "/v1/webhook_endpoints/" + id + "/roll_secret"}, {"GET", "/v1/webhook_endpoints/" + id + "/attempts"},
		{"POST", "/v1/webhook_endpoints/" + id + "/test"},
	}
	body := map[string]any{"url": "https://example.com/other"}
	for _, op := range ops {
		if c := h.call(op.method, op.path, "", body); c.Status != 401 {
			t.Errorf("%s %s without a root key: %d", op.method, op.path, c.Status)
		}
		c := h.call(op.method, op.path, other, body)
		if c.Status != 403 || !strings.Contains(c.problem(t).Detail, "webhooks.write") {
			t.Errorf("%s %s without webhooks.write: %d %s", op.method, op.path, c.Status, c.Body)
		}
		if op.path != "/v1/webhook_endpoints" {
			path := strings.Replace(op.path, id, "we_nope", 1)
			if c := h.call(op.method, path, root, map[string]any{}); c.Status != 404 {
				t.Errorf("%s %s: %d, want 404", op.method, path, c.Status)
			}
		}
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		location, detail   string
	}{
		{"private address", "POST", "/v1/webhook_endpoints", map[string]any{"url": "https://10.0.0.1/x"}, "body.url", "private"},
		{"metadata address", "POST", "/v1/webhook_endpoints", map[string]any{"url": "https://169.254.169.254/latest"}, "body.url", ""},
		{"plain http", "POST", "/v1/webhook_endpoints", map[string]any{"url": "http://example.com/x"}, "body.url", "https"},
		{"no url", "POST", "/v1/webhook_endpoints", map[string]any{"description": "x"}, "body", "property url"},
		{"unknown type", "POST", "/v1/webhook_endpoints", map[string]any{"url": "https://example.com/y", "events": []string{"key.exploded"}}, "body.events", "key.exploded"},
		{"unknown field", "POST", "/v1/webhook_endpoints", map[string]any{"url": "https://example.com/y", "colour": "red"}, "body.colour", ""},
		{"patch private", "PATCH", "/v1/webhook_endpoints/" + id, map[string]any{"url": "https://192.168.1.1/"}, "body.url", ""},
		{"patch unknown type", "PATCH", "/v1/webhook_endpoints/" + id, map[string]any{"events": []string{"nope"}}, "body.events", ""},
		{"patch unknown field", "PATCH", "/v1/webhook_endpoints/" + id, map[string]any{"secret": "whsec_x"}, "body.secret", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.call(tc.method, tc.path, root, tc.body)
			if c.Status != 422 {
				t.Fatalf("%d %s", c.Status, c.Body)
			}
			p := c.problem(t)
			found := false
			for _, fe := range p.Errors {
				if strings.HasPrefix(fe.Location, tc.location) && strings.Contains(fe.Message+p.Detail, tc.detail) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s mentioning %q: %s", tc.location, tc.detail, c.Body)
			}
		})
	}
	// Nothing the refusals asked for happened.
	c := h.call("GET", "/v1/webhook_endpoints", root, nil)
	var list struct{ Data []apiEndpoint }
	_ = json.Unmarshal(c.Body, &list)
	if len(list.Data) != 1 || list.Data[0].URL != "https://example.com/hooks" || len(list.Data[0].Events) != 0 {
		t.Errorf("after the refusals: %s", c.Body)
	}
}

// TestAPIWebhookIdempotency: a retried create with the same
// Idempotency-Key answers the same endpoint (and secret) and makes no
// second one.
func TestAPIWebhookIdempotency(t *testing.T) {
	h := MustServer(t)
	root := h.mustRootKey("webhooks.write")
	body := map[string]any{"url": "https://example.com/once"}
	first := h.call("POST", "/v1/webhook_endpoints", root, body, "Idempotency-Key: wh-1")
	again := h.call("POST", "/v1/webhook_endpoints", root, body, "Idempotency-Key: wh-1")
	if first.Status != 201 || again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d, again %d %q", first.Status, again.Status, again.Header.Get("Idempotent-Replayed"))
	}
	a, b := first.endpoint(t), again.endpoint(t)
	if a.ID != b.ID || a.Secret == nil || b.Secret == nil || *a.Secret != *b.Secret {
		t.Errorf("the replay differs: %s vs %s", first.Body, again.Body)
	}
	var n int
	if err := h.queryRow(`SELECT COUNT(*) FROM webhook_endpoints`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d endpoints, %v; want 1", n, err)
	}
}

// TestAPIWebhookTestAndAttempts: a test event is queued (202), reaches a
// receiver on loopback, and its attempt is in the log; a disabled endpoint
// refuses a test (422).
func TestAPIWebhookTestAndAttempts(t *testing.T) {
	onBoth(t, testAPIWebhookTestAndAttempts, withWebhookWorkers(t))
}

func testAPIWebhookTestAndAttempts(t *testing.T, h *harness) {
	root := h.mustRootKey("webhooks.write")
	rcv := newReceiver(t)
	e := h.call("POST", "/v1/webhook_endpoints", root, map[string]any{"url": rcv.URL + "/hook", "events": []string{"key.revoked"}}).endpoint(t)

	if c := h.call("GET", "/v1/webhook_endpoints/"+e.ID+"/attempts", root, nil); c.Status != 200 ||
		strings.TrimSpace(string(c.Body)) != `{"object":"list","data":[],"has_more":false}` {
		t.Errorf("empty log: %d %s", c.Status, c.Body)
	}
	c := h.call("POST", "/v1/webhook_endpoints/"+e.ID+"/test", root, nil)
	var d struct {
		ID, Object, Status string
		EventType          string `json:"event_type"`
		EndpointID         string `json:"endpoint_id"`
		EventID            string `json:"event_id"`
	}
	if err := json.Unmarshal(c.Body, &d); err != nil || c.Status != 202 || d.Object != "webhook_delivery" || d.EventType != "webhook.test" ||
		d.EndpointID != e.ID || !strings.HasPrefix(d.EventID, "msg_") || d.Status != "pending" {
		t.Fatalf("test: %d %s", c.Status, c.Body)
	}
	if typ := <-rcv.types; typ != "webhook.test" {
		t.Errorf("the receiver got %q", typ)
	}
	var log struct {
		Data []struct {
			Object     string
			DeliveryID string `json:"delivery_id"`
			EventID    string `json:"event_id"`
			EventType  string `json:"event_type"`
			Attempt    int
			StatusCode *int `json:"status_code"`
			Response   string
			LatencyMS  *int64     `json:"latency_ms"`
			Next       *time.Time `json:"next_retry_at"`
		}
	}
	waitFor(t, 10*time.Second, "the attempt in the log", func() bool {
		c = h.call("GET", "/v1/webhook_endpoints/"+e.ID+"/attempts", root, nil)
		return json.Unmarshal(c.Body, &log) == nil && len(log.Data) == 1
	})
	a := log.Data[0]
	if a.Object != "webhook_attempt" || a.DeliveryID != d.ID || a.EventID != d.EventID || a.EventType != "webhook.test" || a.Attempt != 1 ||
		a.StatusCode == nil || *a.StatusCode != 200 || a.Response != "<b>thanks</b>" || a.LatencyMS == nil || a.Next != nil {
		t.Errorf("attempt: %s", c.Body)
	}

	// A second test event: the log pages newest first.
	if c := h.call("POST", "/v1/webhook_endpoints/"+e.ID+"/test", root, nil); c.Status != 202 {
		t.Fatalf("second test: %d %s", c.Status, c.Body)
	}
	waitFor(t, 10*time.Second, "the second attempt in the log", func() bool {
		c = h.call("GET", "/v1/webhook_endpoints/"+e.ID+"/attempts", root, nil)
		return json.Unmarshal(c.Body, &log) == nil && len(log.Data) == 2
	})
	var paged struct {
		Data []struct {
			ID         string
			DeliveryID string `json:"delivery_id"`
		}
		HasMore bool `json:"has_more"`
	}
	c = h.call("GET", "/v1/webhook_endpoints/"+e.ID+"/attempts?limit=1", root, nil)
	if err := json.Unmarshal(c.Body, &paged); err != nil || len(paged.Data) != 1 || !paged.HasMore || paged.Data[0].DeliveryID == d.ID {
		t.Fatalf("first page of the log: %s", c.Body)
	}
	c = h.call("GET", "/v1/webhook_endpoints/"+e.ID+"/attempts?limit=1&starting_after="+paged.Data[0].ID, root, nil)
	if err := json.Unmarshal(c.Body, &paged); err != nil || len(paged.Data) != 1 || paged.HasMore || paged.Data[0].DeliveryID != d.ID {
		t.Errorf("second page of the log: %s", c.Body)
	}

	h.call("PATCH", "/v1/webhook_endpoints/"+e.ID, root, map[string]any{"enabled": false})
	if c := h.call("POST", "/v1/webhook_endpoints/"+e.ID+"/test", root, nil); c.Status != 422 || !strings.Contains(c.problem(t).Detail, "disabled") {
		t.Errorf("test of a disabled endpoint: %d %s", c.Status, c.Body)
	}
}
