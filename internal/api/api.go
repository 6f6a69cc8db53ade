// Package api is Keyhold's management API (DESIGN "Management API"): JSON
// operations under /v1/ declared with huma, so that validation, the OpenAPI
// document at /v1/openapi.json and the RFC 9457 errors all come from the
// same Go types. Every call is authenticated by a root key, rate limited
// per root key, checked against the permission its operation needs, and
// made idempotent by Idempotency-Key on POST. Operations call the same
// services as the portal (keys, team, billing, overview): the rules live
// there, once.
//
// /v1/verify stays on the server's lean handler (it is the hot path); the
// document describes it all the same.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humaecho"
	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/idempotency"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/verify"
)

// MaxBody is the largest request body any operation reads; a larger one
// answers 413.
const MaxBody = 64 << 10

// Default per-root-key rate limit, per instance.
const (
	DefaultRate  = 50  // requests per second
	DefaultBurst = 100 // requests at once
)

// Config is what the API is built from.
type Config struct {
	RootKeys *rootkey.Service
	// The services operations call: the portal's, so that each rule is
	// kept once.
	Auth     *auth.Service
	Keys     *keys.Service
	Team     *team.Service
	Billing  *billing.Service
	Reads    *overview.Service
	Plans    *plans.Catalog
	Verifier *verify.Verifier
	// Webhooks manages the outbound webhook endpoints.
	Webhooks *events.Service
	// Store keeps the first answer to each Idempotency-Key, and serves
	// the lists and lookups the services do not.
	Store  Store
	Logger *slog.Logger
	// BaseURL is the public URL; the document names it as its server.
	BaseURL *url.URL
	// Secret is the instance secret (at least 32 bytes); the kept
	// answers of Idempotency-Key are encrypted under a key derived
	// from it.
	Secret []byte
	// Rate and Burst are each root key's limit on one instance; zero:
	// DefaultRate and DefaultBurst.
	Rate, Burst int
	Now         func() time.Time // nil: time.Now; for tests
}

// Store is what the API keeps itself.
type Store interface {
	idempotency.Store
	AuditStore
	KeyStore
}

// API is the management API mounted on an Echo instance.
type API struct {
	huma     huma.API
	rootKeys *rootkey.Service
	auth     *auth.Service
	keys     *keys.Service
	team     *team.Service
	billing  *billing.Service
	reads    *overview.Service
	plans    *plans.Catalog
	verifier *verify.Verifier
	webhooks *events.Service
	store    Store
	log      *slog.Logger
	now      func() time.Time
	limiter  *verify.KeyedLimiter
	idem     *idempotencyState
}

// permissionKey is the Operation.Metadata entry naming the permission an
// operation needs.
const permissionKey = "permission"

// Mount builds the API's operations on e and returns it.
func Mount(e *echo.Echo, c Config) (*API, error) {
	if c.RootKeys == nil || c.Auth == nil || c.Keys == nil || c.Team == nil || c.Billing == nil || c.Reads == nil || c.Plans == nil ||
		c.Verifier == nil || c.Webhooks == nil || c.Store == nil || c.Logger == nil || c.BaseURL == nil || len(c.Secret) < 32 {
		return nil, errors.New("api: RootKeys, Auth, Keys, Team, Billing, Reads, Plans, Verifier, Webhooks, Store, Logger, BaseURL and a 32-byte Secret are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	a := &API{rootKeys: c.RootKeys, auth: c.Auth, keys: c.Keys, team: c.Team, billing: c.Billing, reads: c.Reads,
		plans: c.Plans, verifier: c.Verifier, webhooks: c.Webhooks, store: c.Store, log: c.Logger, now: c.Now,
		limiter: verify.NewKeyedLimiter(int64(c.Rate), int64(c.Burst))}
	aead, err := newAEAD(c.Secret)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a.idem = &idempotencyState{store: c.Store, aead: aead, now: c.Now, log: c.Logger}
	a.huma = humaecho.New(e, config(c.BaseURL))
	a.huma.UseMiddleware(a.refuseKeyInQuery, a.authenticate, a.rateLimit, a.authorize, a.idempotent)
	// One file per resource registers its operations.
	a.registerAccounts()
	a.registerKeys()
	a.registerUsage()
	a.registerAudit()
	a.registerWebhooks()
	a.describeVerify() // served by the server's own handler; only described here
	a.describeTokens() // likewise
	return a, nil
}

// OpenAPI is the document of every operation.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

func config(base *url.URL) huma.Config {
	c := huma.DefaultConfig("Keyhold management API", "1.0.0")
	// No $schema links in bodies, no schema routes, and no docs page from
	// a CDN: /docs is ours, bundled.
	c.CreateHooks = nil
	c.SchemasPath = ""
	c.DocsPath = ""
	c.OpenAPIPath = "/v1/openapi"
	c.RejectUnknownQueryParameters = true
	c.Info.Description = "Create accounts and API keys for your customers, read their usage and audit trail. " +
		"Authenticate every call with a root key: `Authorization: Bearer kh_root_…`. Errors are RFC 9457 problem details."
	c.Servers = []*huma.Server{{URL: strings.TrimSuffix(base.String(), "/")}}
	// The reference's sections, in the order an integration meets them.
	c.Tags = []*huma.Tag{
		{Name: "Accounts", Description: "Your customers' accounts: made when they sign up in your app, with your own id for them, a plan and an owner."},
		{Name: "Keys", Description: "API keys of an account: the secret is shown once, when a key is made or rotated."},
		{Name: "Usage", Description: "Verifications counted by outcome, by day or hour."},
		{Name: "Audit", Description: "Every change, by whom: a user, a root key or the system."},
		{Name: "Webhook endpoints", Description: "Where Keyhold sends events (a key revoked, a plan changed, a quota nearly used), signed with Standard Webhooks; the secret is shown once, when an endpoint is made or its secret rolled."},
		{Name: "Verify", Description: "What your API calls for each request it receives; authenticated by the API key itself, not a root key."},
	}
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"rootKey": {Type: "http", Scheme: "bearer", Description: "A root key, kh_root_…, made by an operator at /admin/root-keys."},
	}
	return c
}

// actorKey is the context key of the calling root key's actor.
type actorKey struct{}

// actorOf is who acts in an operation: the root key, from the client's
// address. Operations hand it to the services.
func actorOf(ctx context.Context) audit.Actor {
	a, _ := ctx.Value(actorKey{}).(audit.Actor)
	return a
}

// operation is the huma operation of one route of the API, needing
// permission.
func operation(method, path, id, summary, permission, description string) huma.Operation {
	op := huma.Operation{
		OperationID:  id,
		Method:       method,
		Path:         path,
		Summary:      summary,
		Description:  strings.TrimSpace(description + "\n\nNeeds the root key permission `" + permission + "`."),
		Security:     []map[string][]string{{"rootKey": {}}},
		Metadata:     map[string]any{permissionKey: permission},
		MaxBodyBytes: MaxBody,
		Errors:       []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests},
	}
	if method == http.MethodPost {
		op.Errors = append(op.Errors, http.StatusConflict)
	}
	if method == http.MethodPost || method == http.MethodPatch {
		op.Errors = append(op.Errors, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	return op
}

// register adds an operation: huma.Register with the tags every
// operation of a resource shares.
func register[I, O any](a *API, tag string, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.Tags = []string{tag}
	if op.Method == http.MethodPost {
		// Documented here so that the client generated from the
		// document sends it; the idempotency middleware reads it.
		op.Parameters = append(op.Parameters, &huma.Param{Name: "Idempotency-Key", In: "header",
			Description: "Makes a retry safe: the first answer is kept 24 hours for this root key and given again, with `Idempotent-Replayed: true`, to a retry with the same body.",
			Schema:      &huma.Schema{Type: "string", MaxLength: ptr(idempotency.MaxKey)}})
	}
	huma.Register(a.huma, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return out, nil
	})
}

func ptr[T any](v T) *T { return &v }

// errf is a problem of status with detail.
func errf(status int, format string, args ...any) huma.StatusError {
	return huma.NewError(status, fmt.Sprintf(format, args...))
}
