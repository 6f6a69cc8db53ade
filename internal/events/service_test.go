package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// TestCreateEndpointRefuses: a bad URL, description or event type is an
// EINVALID naming its field, and saves nothing.
func TestCreateEndpointRefuses(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	strict, err := events.NewService(events.Config{Store: db, Secret: secret}) // insecure not allowed
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    events.EndpointInput
		field string
	}{
		{"no URL", events.EndpointInput{}, "url"},
		{"http", events.EndpointInput{URL: "http://example.com/hook"}, "url"},
		{"loopback without insecure", events.EndpointInput{URL: "http://127.0.0.1:9/hook"}, "url"},
		{"private address", events.EndpointInput{URL: "https://10.0.0.1/hook"}, "url"},
		{"metadata", events.EndpointInput{URL: "https://169.254.169.254/latest"}, "url"},
		{"unknown type", events.EndpointInput{URL: "https://example.com/hook", Events: []string{"key.created", "key.exploded"}}, "events"},
		{"the test type", events.EndpointInput{URL: "https://example.com/hook", Events: []string{events.TestType}}, "events"},
		{"long description", events.EndpointInput{URL: "https://example.com/hook", Description: strings.Repeat("x", events.MaxDescription+1)}, "description"},
		{"control characters", events.EndpointInput{URL: "https://example.com/hook", Description: "a\x00b"}, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sec, err := strict.CreateEndpoint(context.Background(), operator, tt.in)
			var ke *keyhold.Error
			if !errors.As(err, &ke) || ke.Code != keyhold.EINVALID || !ke.Fields.Has(tt.field) {
				t.Fatalf("err %v, want EINVALID naming %s", err, tt.field)
			}
			if sec != "" {
				t.Error("a secret came with the error")
			}
		})
	}
	list, err := strict.Endpoints(context.Background(), events.Page{})
	if err != nil || len(list) != 0 {
		t.Errorf("endpoints after refusals: %v, %v", list, err)
	}
	if n := count(t, db, "SELECT count(*) FROM audit_log"); n != 0 {
		t.Errorf("%d audit entries after refusals", n)
	}
}

// TestEndpointLifecycle: create (secret shown once, stored sealed),
// list, get, update, roll the secret, delete; each write audited without
// the URL's path or the secret.
func TestEndpointLifecycle(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	svc := newService(t, db)
	ctx := context.Background()
	e, sec, err := svc.CreateEndpoint(ctx, operator, events.EndpointInput{URL: "https://hooks.example.com/in?token=abc", Description: "CRM",
		Events: []string{events.KeyRevoked, events.KeyCreated, events.KeyRevoked}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sec, "whsec_") || !strings.HasPrefix(e.ID, "we_") {
		t.Errorf("secret %q id %q", sec[:6], e.ID)
	}
	if got := strings.Join(e.Events, ","); got != "key.revoked,key.created" {
		t.Errorf("events %s, want the repeat dropped", got)
	}
	var stored string
	if err := db.SQL().QueryRow(q(db, "SELECT secret FROM webhook_endpoints WHERE id = ?"), e.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, strings.TrimPrefix(sec, "whsec_")) || stored == sec {
		t.Error("the secret is stored in the clear")
	}
	second, _, err := svc.CreateEndpoint(ctx, operator, events.EndpointInput{URL: "https://b.example.com/", Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	if second.Enabled || second.DisabledReason != events.DisabledOperator {
		t.Errorf("created disabled: %+v", second)
	}
	list, err := svc.Endpoints(ctx, events.Page{Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != second.ID {
		t.Fatalf("first page %+v, %v; want the newest", list, err)
	}
	list, err = svc.Endpoints(ctx, events.Page{Limit: 1, StartingAfter: second.ID})
	if err != nil || len(list) != 1 || list[0].ID != e.ID {
		t.Fatalf("second page %+v, %v", list, err)
	}
	got, err := svc.Endpoint(ctx, e.ID)
	if err != nil || got.URL != e.URL || got.Description != "CRM" || len(got.Events) != 2 {
		t.Errorf("get %+v, %v", got, err)
	}
	var ke *keyhold.Error
	if _, err := svc.Endpoint(ctx, "we_nope"); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("get of none: %v", err)
	}

	desc, off, all := "CRM sync", false, []string{}
	up, err := svc.UpdateEndpoint(ctx, operator, e.ID, events.EndpointPatch{Description: &desc, Enabled: &off, Events: &all})
	if err != nil || up.Description != desc || up.Enabled || up.DisabledReason != events.DisabledOperator || len(up.Events) != 0 {
		t.Errorf("update %+v, %v", up, err)
	}
	bad := "ftp://x"
	if _, err := svc.UpdateEndpoint(ctx, operator, e.ID, events.EndpointPatch{URL: &bad, Description: &desc}); !errors.As(err, &ke) || !ke.Fields.Has("url") {
		t.Errorf("update to a bad URL: %v", err)
	}
	if got, _ := svc.Endpoint(ctx, e.ID); got.URL != e.URL {
		t.Errorf("a refused update changed the URL to %s", got.URL)
	}
	if _, err := svc.UpdateEndpoint(ctx, operator, "we_nope", events.EndpointPatch{Description: &desc}); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("update of none: %v", err)
	}

	rolled, err := svc.RollSecret(ctx, operator, e.ID)
	if err != nil || rolled == sec || !strings.HasPrefix(rolled, "whsec_") {
		t.Errorf("roll: %v (same secret: %v)", err, rolled == sec)
	}
	if err := svc.DeleteEndpoint(ctx, operator, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Endpoint(ctx, e.ID); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("get after delete: %v", err)
	}
	if err := svc.DeleteEndpoint(ctx, operator, e.ID); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}

	rows, err := db.SQL().Query("SELECT action, target_id, actor_id, ip, detail FROM audit_log ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var actions []string
	for rows.Next() {
		var action, target, actor, ip, detail string
		if err := rows.Scan(&action, &target, &actor, &ip, &detail); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, action)
		if actor != operator.UserID || ip != operator.IP {
			t.Errorf("%s by %q from %q", action, actor, ip)
		}
		if strings.Contains(detail, "token=abc") || strings.Contains(detail, "/in") || strings.Contains(detail, "whsec_") {
			t.Errorf("%s detail %q shows the URL's path or a secret", action, detail)
		}
	}
	want := []string{audit.WebhookEndpointCreated, audit.WebhookEndpointCreated, audit.WebhookEndpointUpdated,
		audit.WebhookEndpointSecretRolled, audit.WebhookEndpointDeleted}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

// TestRollResendAndTest: after a roll, messages verify only with the new
// secret; Resend sends a delivered message again with the same webhook-id;
// SendTest sends the test type to one endpoint whatever its filter; both
// refuse a disabled endpoint.
func TestRollResendAndTest(t *testing.T) {
	db := storetest.New(t, storetest.SQLite)
	instance(t, db, events.DeliveryConfig{})
	svc := newService(t, db)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	ep, oldKey := endpoint(t, svc, rc.URL, events.KeyRevoked)
	all := newReceiver(t, nil)
	endpoint(t, svc, all.URL)
	test, err := svc.SendTest(ctx, operator, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the test event", func() bool { return len(rc.requests()) == 1 })
	r := rc.requests()[0]
	if r.Header.Get("webhook-id") != test.EventID || !strings.Contains(string(r.Body), `"type":"webhook.test"`) ||
		!strings.Contains(string(r.Body), ep.ID) {
		t.Errorf("test message %s %s", r.Header.Get("webhook-id"), r.Body)
	}
	if err := events.Verify(oldKey, r.Header, r.Body, time.Now(), 0); err != nil {
		t.Error(err)
	}

	sec, err := svc.RollSecret(ctx, operator, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := events.ParseSecret(sec)
	waitFor(t, 5*time.Second, "the test delivery recorded", func() bool {
		d, err := db.Delivery(ctx, test.ID)
		return err == nil && d.Status == events.StatusDelivered
	})
	again, err := svc.Resend(ctx, operator, test.ID)
	if err != nil || again.Seq != 2 || again.Status != events.StatusPending {
		t.Fatalf("resend %+v, %v", again, err)
	}
	waitFor(t, 10*time.Second, "the resent message", func() bool { return len(rc.requests()) == 2 })
	r2 := rc.requests()[1]
	if r2.Header.Get("webhook-id") != test.EventID || string(r2.Body) != string(r.Body) {
		t.Errorf("resent %s %s, want the same id and body", r2.Header.Get("webhook-id"), r2.Body)
	}
	if err := events.Verify(newKey, r2.Header, r2.Body, time.Now(), 0); err != nil {
		t.Errorf("the resent message does not verify with the new secret: %v", err)
	}
	if err := events.Verify(oldKey, r2.Header, r2.Body, time.Now(), 0); err == nil {
		t.Error("the old secret still signs after the roll")
	}
	waitFor(t, 5*time.Second, "the resend recorded", func() bool {
		d, err := db.Delivery(ctx, test.ID)
		return err == nil && d.Status == events.StatusDelivered && d.Attempts == 2
	})
	log, _ := svc.Attempts(ctx, ep.ID, 10, "")
	if len(log) != 2 || log[0].Attempt != 2 || log[1].Attempt != 1 {
		t.Errorf("log %+v", log)
	}

	off := false
	if _, err := svc.UpdateEndpoint(ctx, operator, ep.ID, events.EndpointPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	var ke *keyhold.Error
	if _, err := svc.SendTest(ctx, operator, ep.ID); !errors.As(err, &ke) || ke.Code != keyhold.EINVALID {
		t.Errorf("test to a disabled endpoint: %v", err)
	}
	if _, err := svc.Resend(ctx, operator, test.ID); !errors.As(err, &ke) || ke.Code != keyhold.EINVALID {
		t.Errorf("resend to a disabled endpoint: %v", err)
	}
	if _, err := svc.Resend(ctx, operator, "nope"); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("resend of none: %v", err)
	}
	if _, err := svc.SendTest(ctx, operator, "we_nope"); !errors.As(err, &ke) || ke.Code != keyhold.ENOTFOUND {
		t.Errorf("test to none: %v", err)
	}
	// The test messages went to their endpoint only, not to the one
	// that wants every type.
	if n := len(all.requests()); n != 0 {
		t.Errorf("an endpoint for every type got %d messages", n)
	}
}
