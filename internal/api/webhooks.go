package api

import (
	"context"
	"net/http"
	"time"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// The tag of the webhook endpoints' operations.
const webhooksTag = "Webhook endpoints"

// WebhookEndpoint is where Keyhold sends events; never its secret.
type WebhookEndpoint struct {
	ID          string   `json:"id" example:"we_01jdq4v7b3k0c8x2m5n6p7q8r9"`
	Object      string   `json:"object" enum:"webhook_endpoint"`
	URL         string   `json:"url" doc:"Where events are POSTed." example:"https://example.com/hooks/keyhold"`
	Description string   `json:"description" doc:"What receives them, for people." example:"CRM sync"`
	Events      []string `json:"events" nullable:"false" doc:"The event types it receives; [] receives every type." example:"[\"key.created\",\"key.revoked\"]"`
	Enabled     bool     `json:"enabled" doc:"Whether events are sent to it."`
	// DisabledReason is null while enabled.
	DisabledReason *string    `json:"disabled_reason" nullable:"true" enum:"gone,failing,operator" doc:"Why it is disabled: gone (it answered 410), failing (five days of failed attempts), operator (turned off by an operator or a root key); null while enabled."`
	FailingSince   *time.Time `json:"failing_since" nullable:"true" doc:"The first failed attempt since its last success; null while it succeeds."`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// WebhookEndpointWithSecret is an endpoint as created or with its secret
// rolled: the only answers that carry its signing secret.
type WebhookEndpointWithSecret struct {
	WebhookEndpoint
	Secret string `json:"secret" doc:"The signing secret (Standard Webhooks: HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\" under its base64-decoded bytes). Shown this once: store it where the receiver checks signatures." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// WebhookAttempt is one try of delivering an event to an endpoint.
type WebhookAttempt struct {
	ID          string     `json:"id"`
	Object      string     `json:"object" enum:"webhook_attempt"`
	DeliveryID  string     `json:"delivery_id" doc:"The delivery it was a try of: one event to this endpoint."`
	EventID     string     `json:"event_id" doc:"The event's id: the webhook-id header, the same on every try." example:"msg_01jdq4v7b3k0c8x2m5n6p7q8r9"`
	EventType   string     `json:"event_type" example:"key.created"`
	Attempt     int        `json:"attempt" doc:"1 for the first try of the delivery, 2 for the next, …" example:"1"`
	StartedAt   time.Time  `json:"started_at"`
	StatusCode  *int       `json:"status_code" nullable:"true" doc:"The HTTP status the endpoint answered; null when no answer came." example:"200"`
	Error       string     `json:"error" doc:"Why no answer came (a timeout, a refused address, …); empty when one did."`
	LatencyMS   int64      `json:"latency_ms" doc:"How long the try took, in milliseconds." example:"84"`
	Response    string     `json:"response" doc:"The first 1 KiB of the answer's body."`
	NextRetryAt *time.Time `json:"next_retry_at" nullable:"true" doc:"When the next try is due; null when none is (delivered, or given up)."`
}

// WebhookDelivery is one event to one endpoint.
type WebhookDelivery struct {
	ID            string     `json:"id"`
	Object        string     `json:"object" enum:"webhook_delivery"`
	EventID       string     `json:"event_id" example:"msg_01jdq4v7b3k0c8x2m5n6p7q8r9"`
	EndpointID    string     `json:"endpoint_id" example:"we_01jdq4v7b3k0c8x2m5n6p7q8r9"`
	EventType     string     `json:"event_type" example:"webhook.test"`
	Status        string     `json:"status" enum:"pending,delivered,failed,canceled"`
	Attempts      int        `json:"attempts" doc:"Tries made so far."`
	NextAttemptAt *time.Time `json:"next_attempt_at" nullable:"true" doc:"When the next try is due; null when none is."`
	DeliveredAt   *time.Time `json:"delivered_at" nullable:"true"`
	CreatedAt     time.Time  `json:"created_at"`
}

// WebhookEndpointDeleted is the answer of a delete.
type WebhookEndpointDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object" enum:"webhook_endpoint"`
	Deleted bool   `json:"deleted" doc:"Always true."`
}

func webhookEndpoint(e events.Endpoint) WebhookEndpoint {
	out := WebhookEndpoint{ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Description: e.Description, Events: e.Events,
		Enabled: e.Enabled, FailingSince: utcPtr(e.FailingSince), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if out.Events == nil {
		out.Events = []string{}
	}
	if !e.Enabled && e.DisabledReason != "" {
		out.DisabledReason = &e.DisabledReason
	}
	return out
}

func webhookAttempt(a events.Attempt) WebhookAttempt {
	out := WebhookAttempt{ID: a.ID, Object: "webhook_attempt", DeliveryID: a.DeliveryID, EventID: a.EventID, EventType: a.EventType,
		Attempt: a.Attempt, StartedAt: a.StartedAt.UTC(), Error: a.Error, LatencyMS: a.Latency.Milliseconds(), Response: a.Response,
		NextRetryAt: utcPtr(a.NextRetryAt)}
	if a.StatusCode != 0 {
		out.StatusCode = &a.StatusCode
	}
	return out
}

func webhookDelivery(d events.Delivery) WebhookDelivery {
	return WebhookDelivery{ID: d.ID, Object: "webhook_delivery", EventID: d.EventID, EndpointID: d.EndpointID, EventType: d.EventType,
		Status: d.Status, Attempts: d.Attempts, NextAttemptAt: utcPtr(d.NextAttemptAt), DeliveredAt: utcPtr(d.DeliveredAt),
		CreatedAt: d.CreatedAt.UTC()}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type webhookEndpointOutput struct{ Body WebhookEndpoint }

type webhookEndpointWithSecretOutput struct{ Body WebhookEndpointWithSecret }

type webhookDeletedOutput struct{ Body WebhookEndpointDeleted }

type webhookDeliveryOutput struct{ Body WebhookDelivery }

type webhookCreateInput struct {
	Body struct {
		URL         string   `json:"url" maxLength:"2048" doc:"Where events are POSTed: https, to a public address (http only to loopback when the instance allows insecure endpoints)." example:"https://example.com/hooks/keyhold"`
		Description string   `json:"description,omitempty" maxLength:"500" doc:"What receives them, for people." example:"CRM sync"`
		Events      []string `json:"events,omitempty" maxItems:"32" doc:"The event types it receives: account.created, account.plan_changed, account.suspended, member.added, member.removed, key.created, key.updated, key.rotated, key.revoked, key.expiring, quota.threshold. [] or absent: every type." example:"[\"key.created\",\"key.revoked\"]"`
		Enabled     *bool    `json:"enabled,omitempty" doc:"Whether events are sent to it; default true."`
	}
}

// WebhookEndpointPatch is an endpoint's change: absent fields stay as they
// are.
type WebhookEndpointPatch struct {
	URL         *string   `json:"url,omitempty" maxLength:"2048" example:"https://example.com/hooks/keyhold"`
	Description *string   `json:"description,omitempty" maxLength:"500" example:"CRM sync"`
	Events      *[]string `json:"events,omitempty" maxItems:"32" doc:"Replaces the types; [] receives every type." example:"[\"key.revoked\"]"`
	Enabled     *bool     `json:"enabled,omitempty" doc:"false stops sending (disabled_reason operator); true sends again and clears failing_since."`
}

type webhookUpdateInput struct {
	ID   string                `path:"id" maxLength:"64" doc:"The endpoint's id."`
	Body *WebhookEndpointPatch `required:"false"`
}

type webhookIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"The endpoint's id."`
}

type webhookAttemptsInput struct {
	ListParams
	ID string `path:"id" maxLength:"64" doc:"The endpoint's id."`
}

func (a *API) registerWebhooks() {
	create := operation(http.MethodPost, "/v1/webhook_endpoints", "create-webhook-endpoint", "Create a webhook endpoint", rootkey.WebhooksWrite,
		"Adds an endpoint that receives events signed with the Standard Webhooks scheme. "+
			"The answer carries its signing `secret`, the only time it is shown. A URL to a private, loopback or link-local address written out is refused (422).")
	create.DefaultStatus = http.StatusCreated
	create.Errors = append(create.Errors, http.StatusUnprocessableEntity)
	register(a, webhooksTag, create, func(ctx context.Context, in *webhookCreateInput) (*webhookEndpointWithSecretOutput, error) {
		b := in.Body
		enabled := b.Enabled == nil || *b.Enabled
		e, secret, err := a.webhooks.CreateEndpoint(ctx, actorOf(ctx), events.EndpointInput{URL: b.URL, Description: b.Description,
			Events: b.Events, Enabled: enabled})
		if err != nil {
			return nil, err
		}
		return &webhookEndpointWithSecretOutput{Body: WebhookEndpointWithSecret{WebhookEndpoint: webhookEndpoint(e), Secret: secret}}, nil
	})

	register(a, webhooksTag, operation(http.MethodGet, "/v1/webhook_endpoints", "list-webhook-endpoints", "List webhook endpoints", rootkey.WebhooksWrite,
		"Every endpoint, newest first; never their secrets."),
		func(ctx context.Context, in *ListParams) (*ListOutput[WebhookEndpoint], error) {
			es, err := a.webhooks.Endpoints(ctx, events.Page{StartingAfter: in.StartingAfter, Limit: in.Limit + 1})
			if err != nil {
				return nil, err
			}
			out := make([]WebhookEndpoint, len(es))
			for i, e := range es {
				out[i] = webhookEndpoint(e)
			}
			return page(out, in.Limit), nil
		})

	get := operation(http.MethodGet, "/v1/webhook_endpoints/{id}", "get-webhook-endpoint", "Get a webhook endpoint", rootkey.WebhooksWrite, "")
	get.Errors = append(get.Errors, http.StatusNotFound)
	register(a, webhooksTag, get, func(ctx context.Context, in *webhookIDInput) (*webhookEndpointOutput, error) {
		e, err := a.webhooks.Endpoint(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: webhookEndpoint(e)}, nil
	})

	update := operation(http.MethodPatch, "/v1/webhook_endpoints/{id}", "update-webhook-endpoint", "Update a webhook endpoint", rootkey.WebhooksWrite,
		"Changes the fields given; the others stay. Enabling an endpoint disabled for failing gives it five more days. Every field's problem is reported at once.")
	update.Errors = append(update.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, webhooksTag, update, func(ctx context.Context, in *webhookUpdateInput) (*webhookEndpointOutput, error) {
		b := in.Body
		if b == nil {
			b = &WebhookEndpointPatch{}
		}
		e, err := a.webhooks.UpdateEndpoint(ctx, actorOf(ctx), in.ID, events.EndpointPatch{URL: b.URL, Description: b.Description,
			Events: b.Events, Enabled: b.Enabled})
		if err != nil {
			return nil, err
		}
		return &webhookEndpointOutput{Body: webhookEndpoint(e)}, nil
	})

	del := operation(http.MethodDelete, "/v1/webhook_endpoints/{id}", "delete-webhook-endpoint", "Delete a webhook endpoint", rootkey.WebhooksWrite,
		"Deletes the endpoint with its delivery log; nothing more is sent to it.")
	del.Errors = append(del.Errors, http.StatusNotFound)
	register(a, webhooksTag, del, func(ctx context.Context, in *webhookIDInput) (*webhookDeletedOutput, error) {
		if err := a.webhooks.DeleteEndpoint(ctx, actorOf(ctx), in.ID); err != nil {
			return nil, err
		}
		return &webhookDeletedOutput{Body: WebhookEndpointDeleted{ID: in.ID, Object: "webhook_endpoint", Deleted: true}}, nil
	})

	roll := operation(http.MethodPost, "/v1/webhook_endpoints/{id}/roll_secret", "roll-webhook-secret", "Roll a webhook endpoint's secret", rootkey.WebhooksWrite,
		"Gives the endpoint a new signing secret. The old one stops signing at once, retries of earlier events included: give the receiver the new one straight away. "+
			"The answer carries the new `secret`, the only time it is shown.")
	roll.Errors = append(roll.Errors, http.StatusNotFound)
	register(a, webhooksTag, roll, func(ctx context.Context, in *webhookIDInput) (*webhookEndpointWithSecretOutput, error) {
		secret, err := a.webhooks.RollSecret(ctx, actorOf(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		e, err := a.webhooks.Endpoint(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookEndpointWithSecretOutput{Body: WebhookEndpointWithSecret{WebhookEndpoint: webhookEndpoint(e), Secret: secret}}, nil
	})

	attempts := operation(http.MethodGet, "/v1/webhook_endpoints/{id}/attempts", "list-webhook-attempts", "List a webhook endpoint's delivery attempts", rootkey.WebhooksWrite,
		"The delivery log: every try of every event sent to the endpoint, newest first, with the status, latency and the first 1 KiB of the answer. Kept 30 days.")
	attempts.Errors = append(attempts.Errors, http.StatusNotFound)
	register(a, webhooksTag, attempts, func(ctx context.Context, in *webhookAttemptsInput) (*ListOutput[WebhookAttempt], error) {
		as, err := a.webhooks.Attempts(ctx, in.ID, in.Limit+1, in.StartingAfter)
		if err != nil {
			return nil, err
		}
		out := make([]WebhookAttempt, len(as))
		for i, at := range as {
			out[i] = webhookAttempt(at)
		}
		return page(out, in.Limit), nil
	})

	test := operation(http.MethodPost, "/v1/webhook_endpoints/{id}/test", "test-webhook-endpoint", "Send a test event", rootkey.WebhooksWrite,
		"Sends the endpoint an event of type `webhook.test` now, signed and retried like any other; the answer is the delivery, queued (202). "+
			"A disabled endpoint is refused (422): enable it first.")
	test.DefaultStatus = http.StatusAccepted
	test.Errors = append(test.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, webhooksTag, test, func(ctx context.Context, in *webhookIDInput) (*webhookDeliveryOutput, error) {
		d, err := a.webhooks.SendTest(ctx, actorOf(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookDeliveryOutput{Body: webhookDelivery(d)}, nil
	})
}
