package keyhold

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// WebhookEndpoint is where Keyhold sends events (a key revoked, a plan
// changed, a quota nearly used), signed with the Standard Webhooks scheme.
// Its secret is never part of it.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"` // empty: every type
	Enabled     bool     `json:"enabled"`
	// DisabledReason is nil while enabled; else "gone" (it answered 410),
	// "failing" (five days of failures) or "operator".
	DisabledReason *string    `json:"disabled_reason"`
	FailingSince   *time.Time `json:"failing_since"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// WebhookEndpointWithSecret is an endpoint just made, or with its secret
// just rolled, with its signing secret ("whsec_…"): the only time Keyhold
// shows it. Give it to the receiver that checks the signatures.
type WebhookEndpointWithSecret struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// NewWebhookEndpoint is what CreateWebhookEndpoint makes. Enabled nil is
// true.
type NewWebhookEndpoint struct {
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	Events      []string `json:"events,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// WebhookEndpointUpdate changes the fields that are not nil; Events
// pointing at an empty slice subscribes to every type.
type WebhookEndpointUpdate struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// CreateWebhookEndpoint adds an endpoint and returns it with its signing
// secret. Needs webhooks.write.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, e NewWebhookEndpoint) (*WebhookEndpointWithSecret, error) {
	return call[WebhookEndpointWithSecret](ctx, c, http.MethodPost, "/v1/webhook_endpoints", nil, e)
}

// WebhookEndpoints returns a page of the endpoints, newest first.
func (c *Client) WebhookEndpoints(ctx context.Context, p Page) (*List[WebhookEndpoint], error) {
	return call[List[WebhookEndpoint]](ctx, c, http.MethodGet, "/v1/webhook_endpoints", p.query(url.Values{}), nil)
}

// WebhookEndpoint returns one endpoint.
func (c *Client) WebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error) {
	return call[WebhookEndpoint](ctx, c, http.MethodGet, "/v1/webhook_endpoints/"+url.PathEscape(id), nil, nil)
}

// UpdateWebhookEndpoint changes an endpoint.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id string, u WebhookEndpointUpdate) (*WebhookEndpoint, error) {
	return call[WebhookEndpoint](ctx, c, http.MethodPatch, "/v1/webhook_endpoints/"+url.PathEscape(id), nil, u)
}

// DeleteWebhookEndpoint deletes an endpoint with its delivery log. When
// an answer is lost the call is tried again, which may then get a 404
// (IsNotFound) for the endpoint the first try deleted.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	_, err := call[struct{}](ctx, c, http.MethodDelete, "/v1/webhook_endpoints/"+url.PathEscape(id), nil, nil)
	return err
}

// RollWebhookSecret gives an endpoint a new signing secret and returns
// it; the old one stops signing at once.
func (c *Client) RollWebhookSecret(ctx context.Context, id string) (*WebhookEndpointWithSecret, error) {
	return call[WebhookEndpointWithSecret](ctx, c, http.MethodPost, "/v1/webhook_endpoints/"+url.PathEscape(id)+"/roll_secret", nil, struct{}{})
}
