package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
)

// newWebhookSecret is the secret a page shows once, or "".
func newWebhookSecret(p *page) string {
	return strings.TrimSpace(p.Doc.Find(`[data-testid="new-webhook-secret"]`).Text())
}

// TestAdminWebhooks: an operator adds an endpoint in the console; the
// answer shows its secret once (copy button, warning, address replaced)
// and the list does not; the list shows its URL, events and state; a bad
// URL or event type is shown again, 422, and saves nothing; the endpoint
// page rolls the secret (a new one, once), saves the edit form, disables
// and enables, and deletes.
func TestAdminWebhooks(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	ctx := context.Background()

	if p := ops.mustPage("/admin/webhooks"); p.Doc.Find(`[data-testid="admin-empty"]`).Length() != 1 ||
		p.Doc.Find(`[data-testid="webhook-create-form"] [data-testid="webhook-enabled"][checked]`).Length() != 1 {
		t.Error("the empty page has no empty state, or its form does not start enabled")
	}
	if ops.mustPage("/admin").Doc.Find(`[data-admin-tab="webhooks"][href="/admin/webhooks"]`).Length() != 1 {
		t.Error("the console's nav has no Webhooks tab")
	}

	// Refusals first: each field's error shown, the input kept, nothing saved.
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"private address", url.Values{"url": {"https://10.0.0.1/x"}, "description": {"kept"}}, "url"},
		{"plain http", url.Values{"url": {"http://example.com/x"}}, "url"},
		{"no url", url.Values{"url": {""}}, "url"},
		{"unknown type", url.Values{"url": {"https://example.com/x"}, "events": {"key.exploded"}}, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ops.Submit("/admin/webhooks", "/admin/webhooks", tc.form)
			if p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d %q", p.StatusCode, alert(p))
			}
			form := p.Doc.Find(`[data-testid="webhook-create-form"]`)
			if form.Find(`[name="`+tc.field+`"][aria-invalid="true"]`).Length() == 0 || form.Find(`.field-error`).Length() == 0 {
				t.Errorf("no error on %s: %s", tc.field, strings.Join(strings.Fields(form.Text()), " "))
			}
			if v, _ := form.Find(`input[name="url"]`).Attr("value"); v != tc.form.Get("url") {
				t.Errorf("the URL was not kept: %q", v)
			}
			if newWebhookSecret(p) != "" {
				t.Error("a refused form shows a secret")
			}
		})
	}
	if es, _ := h.Webhooks.Endpoints(ctx, events.Page{}); len(es) != 0 {
		t.Fatalf("refused forms saved %d endpoints", len(es))
	}

	p := ops.Submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {"https://example.com/hooks"}, "description": {"CRM <sync>"},
		"events": {"key.created", "key.revoked"}, "enabled": {"true"}})
	if p.StatusCode != http.StatusOK {
		t.Fatalf("create: %d %q", p.StatusCode, alert(p))
	}
	secret := newWebhookSecret(p)
	if _, err := events.ParseSecret(secret); err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("new-webhook-secret %q: %v", secret, err)
	}
	if p.Doc.Find(`[data-testid="copy-new-webhook-secret"][data-copy-target="new-webhook-secret"]`).Length() != 1 {
		t.Error("no copy button for the secret")
	}
	if w := p.Doc.Find(`[data-testid="copy-warning"]`).Text(); !strings.Contains(w, "You will not see it again") {
		t.Errorf("warning %q", w)
	}
	if p.Doc.Find(`[data-replace-url="/admin/webhooks"]`).Length() != 1 {
		t.Error("the answer to the POST does not replace its address")
	}
	if strings.Count(p.Body, secret) != 1 {
		t.Errorf("the secret appears %d times", strings.Count(p.Body, secret))
	}

	list := ops.mustPage("/admin/webhooks")
	if strings.Contains(list.Body, "whsec_") || newWebhookSecret(list) != "" {
		t.Fatal("the list shows the secret again")
	}
	rows := list.Doc.Find(`[data-testid="webhook-row"]`)
	if rows.Length() != 1 {
		t.Fatalf("%d rows", rows.Length())
	}
	id, _ := rows.Attr("data-webhook-id")
	if got := rows.Find(`[data-testid="webhook-url"]`).Text(); strings.TrimSpace(got) != "https://example.com/hooks" {
		t.Errorf("url %q", got)
	}
	if got := rows.Find(`[data-testid="webhook-description"]`).Text(); got != "CRM <sync>" || strings.Contains(list.Body, "CRM <sync>") {
		t.Errorf("description %q, or not escaped", got)
	}
	if got := rows.Find(`[data-testid="webhook-events"] li`).Map(func(_ int, s *goquery.Selection) string { return s.Text() }); strings.Join(got, " ") != "key.created key.revoked" {
		t.Errorf("event badges %q", got)
	}
	if st, _ := rows.Find(`[data-testid="webhook-state"]`).Attr("data-state"); st != "enabled" {
		t.Errorf("state %q", st)
	}
	page := "/admin/webhooks/" + id
	if got, _ := rows.Find(`a[data-testid="webhook-url"]`).Attr("href"); got != page {
		t.Errorf("the row links to %q", got)
	}

	// Roll: a new secret, once, on the endpoint's page.
	p = ops.Submit(page, page+"/roll-secret", url.Values{})
	rolled := newWebhookSecret(p)
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(rolled, "whsec_") || rolled == secret {
		t.Fatalf("roll: %d, secret %q", p.StatusCode, rolled)
	}
	if p.Doc.Find(`[data-replace-url="`+page+`"]`).Length() != 1 {
		t.Error("the roll's answer does not replace its address")
	}
	if strings.Contains(ops.mustPage(page).Body, "whsec_") {
		t.Error("the endpoint's page shows a secret after the roll")
	}
	if strings.Contains(h.log.String(), secret) || strings.Contains(h.log.String(), rolled) {
		t.Error("a secret is in the log")
	}

	// Edit: the form starts with the endpoint's fields; a bad URL is shown
	// again and changes nothing; a good form saves.
	edit := ops.mustPage(page).Doc.Find(`[data-testid="webhook-edit-form"]`)
	if v, _ := edit.Find(`input[name="url"]`).Attr("value"); v != "https://example.com/hooks" ||
		edit.Find(`input[name="events"][checked]`).Length() != 2 {
		t.Errorf("edit form: url %q, %d checked", v, edit.Find(`input[name="events"][checked]`).Length())
	}
	p = ops.Submit(page, page, url.Values{"url": {"https://169.254.169.254/x"}, "events": {"key.created"}})
	if p.StatusCode != http.StatusUnprocessableEntity || p.Doc.Find(`[data-testid="webhook-edit-form"] [name="url"][aria-invalid="true"]`).Length() != 1 {
		t.Errorf("bad edit: %d", p.StatusCode)
	}
	if v, _ := p.Doc.Find(`[data-testid="webhook-edit-form"] input[name="url"]`).Attr("value"); v != "https://169.254.169.254/x" {
		t.Errorf("the bad URL was not kept in the form: %q", v)
	}
	if e, _ := h.Webhooks.Endpoint(ctx, id); e.URL != "https://example.com/hooks" || len(e.Events) != 2 {
		t.Errorf("a refused edit changed the endpoint: %+v", e)
	}
	p = ops.Submit(page, page, url.Values{"url": {"https://example.com/v2"}, "description": {""}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("edit: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if e, _ := h.Webhooks.Endpoint(ctx, id); e.URL != "https://example.com/v2" || len(e.Events) != 0 || e.Description != "" || !e.Enabled {
		t.Errorf("after the edit: %+v", e)
	}

	// Disable, then enable.
	if p = ops.Submit(page, page+"/disable", url.Values{}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.StatusCode)
	}
	shown := ops.mustPage(page)
	if st, _ := shown.Doc.Find(`[data-testid="webhook-state"]`).Attr("data-state"); st != "disabled" ||
		shown.Doc.Find(`[data-testid="webhook-enable-form"]`).Length() != 1 || shown.Doc.Find(`[data-testid="webhook-test"][disabled]`).Length() != 1 {
		t.Errorf("disabled page: state %q", st)
	}
	if e, _ := h.Webhooks.Endpoint(ctx, id); e.Enabled || e.DisabledReason != events.DisabledOperator {
		t.Errorf("after disable: %+v", e)
	}
	// A test event to a disabled endpoint is refused with a message.
	tok, _ := shown.Doc.Find(`[data-testid="webhook-enable-form"] input[name="_csrf"]`).Attr("value")
	if p = ops.Post(page+"/test", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusSeeOther {
		t.Errorf("test of a disabled endpoint: %d", p.StatusCode)
	}
	if got := alert(ops.mustPage(page)); !strings.Contains(got, "disabled") {
		t.Errorf("the refused test says %q", got)
	}
	if p = ops.Submit(page, page+"/enable", url.Values{}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", p.StatusCode)
	}
	if e, _ := h.Webhooks.Endpoint(ctx, id); !e.Enabled || e.DisabledReason != "" {
		t.Errorf("after enable: %+v", e)
	}

	// Delete: confirmed in the browser, gone from the list.
	if ops.mustPage(page).Doc.Find(`[data-testid="webhook-delete-form"][data-confirm]`).Length() != 1 {
		t.Error("delete asks no confirmation")
	}
	if p = ops.Submit(page, page+"/delete", url.Values{}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/admin/webhooks" {
		t.Fatalf("delete: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if ops.mustPage("/admin/webhooks").Doc.Find(`[data-testid="webhook-row"]`).Length() != 0 {
		t.Error("the deleted endpoint is still listed")
	}
	if p := ops.Get(page); p.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted endpoint's page: %d", p.StatusCode)
	}

	// Every change is audited with the operator as actor.
	var n int
	opsID := accountID(t, h, "ops@example.com")
	if err := h.queryRow(`SELECT COUNT(*) FROM audit_log WHERE target_id = ? AND actor_id = ?`, id, opsID).Scan(&n); err != nil || n != 6 {
		t.Errorf("%d audit entries by the operator, %v; want 6 (create, roll, edit, disable, enable, delete)", n, err)
	}
}

// TestAdminWebhookDeliveryLog: "Send test event" reaches a receiver on
// loopback and its attempt shows in the log (status, type, latency, the
// answer escaped in a <pre>); Resend makes a second attempt of the same
// delivery; a failing answer shows with its next retry.
func TestAdminWebhookDeliveryLog(t *testing.T) {
	h := MustServer(t, withWebhookWorkers(t))
	ops := h.MustAdmin("ops@example.com")
	rcv := newReceiver(t)
	// Subscribed to a type nothing here causes (the operator's sign-up
	// causes account.created): only the test event and its resend come.
	e, _, err := h.Webhooks.CreateEndpoint(context.Background(), audit.Actor{}, events.EndpointInput{URL: rcv.URL + "/hook",
		Events: []string{events.QuotaThreshold}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	page := "/admin/webhooks/" + e.ID
	if ops.mustPage(page).Doc.Find(`[data-testid="webhook-log"] [data-testid="admin-empty"]`).Length() != 1 {
		t.Error("an empty log has no empty state")
	}

	p := ops.Submit(page, page+"/test", url.Values{})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("test: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if typ := <-rcv.types; typ != events.TestType {
		t.Errorf("the receiver got %q", typ)
	}
	var log *goquery.Selection
	waitFor(t, 10*time.Second, "the test's attempt in the log", func() bool {
		log = ops.mustPage(page).Doc.Find(`[data-testid="webhook-attempt"]`)
		return log.Length() == 1
	})
	if got := strings.TrimSpace(log.Find(`[data-testid="attempt-status"]`).Text()); got != "200" {
		t.Errorf("status %q", got)
	}
	if got := log.Find(`[data-testid="attempt-type"]`).Text(); got != events.TestType {
		t.Errorf("type %q", got)
	}
	if got := log.Find(`[data-testid="attempt-latency"]`).Text(); !strings.HasSuffix(got, " ms") {
		t.Errorf("latency %q", got)
	}
	if got := log.Find(`pre[data-testid="attempt-response"]`).Text(); got != "<b>thanks</b>" {
		t.Errorf("response %q", got)
	}
	if strings.Contains(ops.mustPage(page).Body, "<b>thanks</b>") {
		t.Error("the response excerpt is not escaped")
	}
	if log.Find(`time`).Length() == 0 {
		t.Error("the attempt has no time")
	}

	// Resend: the receiver now fails, so the second attempt shows 500 and
	// a next retry.
	rcv.status.Store(500)
	delivery, _ := log.Attr("data-delivery-id")
	action := page + "/deliveries/" + delivery + "/resend"
	if p = ops.Submit(page, action, url.Values{}); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != page {
		t.Fatalf("resend: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if got := alert(ops.mustPage(page)); !strings.Contains(got, "Resent") {
		t.Fatalf("after the resend: %q", got)
	}
	waitFor(t, 10*time.Second, "the resend's attempt in the log", func() bool {
		log = ops.mustPage(page).Doc.Find(`[data-testid="webhook-attempt"]`)
		return log.Length() == 2
	})
	first := log.First()
	if got := strings.TrimSpace(first.Find(`[data-testid="attempt-status"]`).Text()); got != "500" {
		t.Errorf("the resend's status %q", got)
	}
	if id, _ := first.Attr("data-delivery-id"); id != delivery {
		t.Errorf("the resend is of delivery %q, want %q", id, delivery)
	}
	if first.Find(`[data-testid="attempt-next-retry"] time`).Length() != 1 {
		t.Error("the failed attempt shows no next retry")
	}
	// Resend is offered once per delivery: on its newest attempt.
	if got := ops.mustPage(page).Doc.Find(`[data-testid="resend-form"]`).Length(); got != 1 {
		t.Errorf("%d Resend buttons for one delivery", got)
	}
	if rcv.got.Load() != 2 {
		t.Errorf("the receiver got %d requests, want 2", rcv.got.Load())
	}
	// An unknown delivery is 404.
	tok, _ := ops.mustPage(page).Doc.Find(`[data-testid="resend-form"] input[name="_csrf"]`).Attr("value")
	if p := ops.Post(page+"/deliveries/dlv_nope/resend", url.Values{"_csrf": {tok}}); p.StatusCode != http.StatusNotFound {
		t.Errorf("resend of an unknown delivery: %d", p.StatusCode)
	}
}

// TestAdminWarnsOfDisabledWebhooks: /admin warns of an endpoint Keyhold
// disabled for failing, linking to it; one an operator disabled is not a
// warning.
func TestAdminWarnsOfDisabledWebhooks(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	ctx := context.Background()
	if ops.mustPage("/admin").Doc.Find(`[data-testid="disabled-webhooks"]`).Length() != 0 {
		t.Error("a warning with no endpoints")
	}
	failing, _, err := h.Webhooks.CreateEndpoint(ctx, audit.Actor{}, events.EndpointInput{URL: "https://example.com/failing", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Webhooks.CreateEndpoint(ctx, audit.Actor{}, events.EndpointInput{URL: "https://example.com/off", Enabled: false}); err != nil {
		t.Fatal(err)
	}
	if ops.mustPage("/admin").Doc.Find(`[data-testid="disabled-webhooks"]`).Length() != 0 {
		t.Error("a warning for an endpoint an operator disabled")
	}
	// As the delivery job does after five days of failures.
	h.exec(`UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ? WHERE id = ?`, false, events.DisabledFailing, failing.ID)
	w := ops.mustPage("/admin").Doc.Find(`[data-testid="disabled-webhooks"]`)
	if w.Length() != 1 || !strings.Contains(w.Text(), "Keyhold disabled a webhook endpoint") || !strings.Contains(w.Text(), "five days") {
		t.Fatalf("warning %q", strings.Join(strings.Fields(w.Text()), " "))
	}
	if href, _ := w.Find(`a`).Attr("href"); href != "/admin/webhooks/"+failing.ID || w.Find(`a`).Length() != 1 {
		t.Errorf("the warning links to %q (%d links)", href, w.Find(`a`).Length())
	}
	page := ops.mustPage("/admin/webhooks/" + failing.ID)
	if got := page.Doc.Find(`[data-testid="webhook-disabled-alert"]`).Text(); !strings.Contains(got, "five days") {
		t.Errorf("the endpoint's page says %q", got)
	}
	if st, _ := page.Doc.Find(`[data-testid="webhook-state"]`).Attr("data-state"); st != "disabled" {
		t.Errorf("state %q", st)
	}
}
