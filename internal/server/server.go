// Package server is Keyhold's HTTP edge: the Echo instance, the route table,
// middleware, and one thin handler file per resource. Handlers parse and
// validate input, make one service call, and render a templ page or
// redirect; errors are mapped to HTTP in errors.go and nowhere else.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyhold/keyhold/internal/api"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/overview"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/tokens"
	"github.com/keyhold/keyhold/internal/verify"
)

// Config is what a Server is built from.
type Config struct {
	Auth *auth.Service
	Keys *keys.Service
	// Team is members, roles and invitations of accounts.
	Team  *team.Service
	Plans *plans.Catalog
	// RootKeys are the management API's keys, which operators make and
	// revoke at /admin/root-keys.
	RootKeys *rootkey.Service
	// Billing runs Checkout, the portal and Stripe webhooks.
	Billing *billing.Service
	// Verifier answers /v1/verify; the pages take its live quota counts.
	Verifier *verify.Verifier
	// Webhooks manages the outbound webhook endpoints
	// (/admin/webhooks and /v1/webhook_endpoints).
	Webhooks *events.Service
	// Tokens issues the JWTs of /v1/tokens and serves the JWKS.
	Tokens *tokens.Service
	// Reads are the read side's queries (the store), behind the pages
	// that show keys and usage.
	Reads overview.Store
	// Notices are the notice banners, dismissals and mail preferences.
	Notices *notices.Service
	// APIStore is what the management API keeps and reads itself (the
	// store): idempotency records, lists.
	APIStore api.Store
	// APIRate and APIBurst are each root key's rate limit on one
	// instance; zero: api.DefaultRate and api.DefaultBurst.
	APIRate, APIBurst int
	Logger            *slog.Logger
	BaseURL           *url.URL // public URL; https turns on Secure cookies and HSTS
	Secret            []byte   // instance secret; cookie keys are derived from it
	// TrustedProxies are the networks whose X-Forwarded-For is believed;
	// empty means the client address is the TCP peer's.
	TrustedProxies []netip.Prefix
	// Ready reports whether the dependencies (database, Redis) answer; it
	// backs /readyz.
	Ready func(ctx context.Context) error
	// Redis, when configured, is reported by /readyz and /metrics; its
	// outage degrades (local limits) but does not make the instance unready.
	Redis *verify.RedisLimits
	// MetricsToken, when not empty, is the bearer token /metrics asks for;
	// empty leaves /metrics open (KEYHOLD_METRICS_TOKEN).
	MetricsToken string
	// Replays keeps the answers of /v1/verify and /v1/tokens given under
	// an Idempotency-Key; nil: in this process only.
	Replays *verify.Replays
	// Registry receives the HTTP metrics and serves /metrics; nil makes a
	// new one (tests build several servers in one process).
	Registry *prometheus.Registry
}

// Server serves the portal, the API and the operations endpoints.
type Server struct {
	echo        *echo.Echo
	auth        *auth.Service
	keys        *keys.Service
	team        *team.Service
	rootKeys    *rootkey.Service
	plans       *plans.Catalog
	billing     *billing.Service
	verifier    *verify.Verifier
	tokens      *tokens.Service
	webhooks    *events.Service
	overview    *overview.Service
	notices     *notices.Service
	verifyCount codeCounters // verifications by outcome code
	tokenCount  codeCounters // token exchanges by outcome code
	refusals    *refusalLog  // the hot routes' refusals, logged once a minute
	log         *slog.Logger
	baseURL     *url.URL
	origin      string // baseURL's origin, which state-changing requests must come from
	secure      bool
	flash       *sessions.CookieStore
	ready       func(ctx context.Context) error
	redis       *verify.RedisLimits
	replays     *verify.Replays
	metrics     *metrics
	// metricsToken is the SHA-256 of Config.MetricsToken, nil when
	// /metrics is open.
	metricsToken []byte
}

// New builds a Server and its routes.
func New(c Config) (*Server, error) {
	if c.Auth == nil || c.Keys == nil || c.Team == nil || c.RootKeys == nil || c.Plans == nil || c.Verifier == nil || c.Tokens == nil || c.Webhooks == nil || c.Notices == nil || c.Reads == nil || c.APIStore == nil || c.Billing == nil || c.Logger == nil || c.BaseURL == nil || len(c.Secret) < 32 {
		return nil, errors.New("server: Auth, Keys, Team, RootKeys, Plans, Verifier, Tokens, Webhooks, Notices, Reads, APIStore, Billing, Logger, BaseURL and a 32-byte Secret are required")
	}
	reads, err := overview.New(overview.Config{Store: c.Reads, Plans: c.Plans, Live: c.Verifier})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Replays == nil {
		if c.Replays, err = verify.NewReplays(verify.ReplayConfig{Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	s := &Server{
		echo:     echo.New(),
		auth:     c.Auth,
		keys:     c.Keys,
		team:     c.Team,
		rootKeys: c.RootKeys,
		plans:    c.Plans,
		verifier: c.Verifier,
		tokens:   c.Tokens,
		webhooks: c.Webhooks,
		overview: reads,
		notices:  c.Notices,
		billing:  c.Billing,
		log:      c.Logger,
		baseURL:  c.BaseURL,
		secure:   c.BaseURL.Scheme == "https",
		ready:    c.Ready,
		redis:    c.Redis,
		replays:  c.Replays,
		metrics:  newMetrics(c.Registry),
		refusals: newRefusalLog(c.Logger),
	}
	s.origin = originOf(c.BaseURL)
	if c.MetricsToken != "" {
		sum := sha256.Sum256([]byte(c.MetricsToken))
		s.metricsToken = sum[:]
	}
	s.flash = newFlashStore(c.Secret, s.secure)
	s.registerVerifyMetrics(c.Registry)
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.IPExtractor = ipExtractor(c.TrustedProxies)
	s.routes()
	if _, err := api.Mount(s.echo, api.Config{RootKeys: c.RootKeys, Auth: c.Auth, Keys: c.Keys, Team: c.Team, Billing: c.Billing,
		Reads: reads, Plans: c.Plans, Verifier: c.Verifier, Webhooks: c.Webhooks, Store: c.APIStore, Logger: c.Logger, BaseURL: c.BaseURL, Secret: c.Secret,
		Rate: c.APIRate, Burst: c.APIBurst}); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.metrics.setRoutes(s.echo.Routes())
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// ipExtractor believes X-Forwarded-For only from the configured proxies.
// Echo trusts loopback and private networks by default; we trust nothing
// that was not configured.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
