package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/tokens"
	"github.com/keyhold/keyhold/internal/verify"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after a stop signal.
const shutdownTimeout = 15 * time.Second

const serveUsage = `Usage: keyhold serve

Runs the portal, the operator console (/admin), POST /v1/verify and the
Stripe webhook (/webhooks/stripe) on KEYHOLD_ADDR, after applying any
pending database migrations. It prints "Keyhold is running at URL" with
the address it is bound to, and runs until interrupted (Ctrl-C, SIGTERM);
then requests in flight finish and counted usage is written before it
exits. "keyhold" with no command does the same.

Flags:
  -h, --help   print this help

Environment:
  KEYHOLD_ADDR                  address to listen on (default :8080)
  KEYHOLD_BASE_URL              public URL, used in links, snippets and Stripe
                                redirects (default: http:// and the address bound,
                                localhost when on all interfaces)
` + envDatabase + `  KEYHOLD_REDIS_URL             redis://… to share limits, quotas and cache
                                invalidation between instances (default: none);
                                a Redis Cluster: redis://h1:p1?addr=h2:p2&addr=h3:p3,
                                or redis://h1:p1?cluster=true for one seed
  KEYHOLD_SECRET                signs sessions and cookies, at least 32 bytes
                                (default: generated once, kept in the database)
  KEYHOLD_PLANS_FILE            JSON plan catalog (default: the built-in one)
  KEYHOLD_TRUSTED_PROXIES       CIDRs whose X-Forwarded-For is believed (default: none)
  KEYHOLD_METRICS_TOKEN         when set, /metrics needs "Authorization: Bearer <token>"
                                (default: none, /metrics is open)
  KEYHOLD_TOKEN_AUDIENCES       comma-separated aud values POST /v1/tokens may issue
                                for, the first the default (default: the base URL)
  KEYHOLD_USAGE_FLUSH_INTERVAL  how often usage is written to the database (default 1s)
  KEYHOLD_SMTP_URL              smtp://user:pass@host:port (STARTTLS when offered),
                                smtps://… (TLS) or smtp+insecure://host:port (plain);
                                email is off when empty
  KEYHOLD_EMAIL_FROM            From of every mail (default Keyhold <keyhold@localhost>)
  KEYHOLD_REQUIRE_VERIFIED_EMAIL  true: unverified users cannot create keys
                                (needs KEYHOLD_SMTP_URL; default false)
  KEYHOLD_WEBHOOKS_ALLOW_INSECURE  true: webhook endpoints may be http:// to
                                loopback, for a local receiver (default false)
  STRIPE_SECRET_KEY             sk_… or rk_…; billing is off when empty
  STRIPE_WEBHOOK_SECRET         whsec_…; webhooks are refused when empty
  STRIPE_API_BASE               Stripe API base URL, e.g. stripe-mock's (default: Stripe's)
` + envLog + `  GOGC, GOMEMLIMIT              Go's collector settings (default here: 400 while the heap is small, see README)
`

// Environment lines every command that opens the database shares.
const (
	envDatabase = `  KEYHOLD_DATABASE_URL          sqlite://PATH (in a directory that exists) or
                                postgres://… (default sqlite://keyhold.db)
`
	envLog = `  KEYHOLD_LOG_LEVEL             debug, info, warn or error (default info)
  KEYHOLD_LOG_FORMAT            text or json (default text)
`
)

// startPrefix begins the start-up line. Tests, cmd/loadgen and the README
// read the URL after it to learn where the server listens (the port of
// :0), so its shape is kept: "Keyhold is running at URL".
const startPrefix = "Keyhold is running at "

// serve runs the HTTP server until ctx is cancelled, then shuts down
// gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("serve"), args, serveUsage, stdout, stderr); err != nil {
		return err
	}
	tuneGC(getenv)
	a, err := openApp(ctx, getenv, stderr, appNeeds{plans: true, secret: true})
	if err != nil {
		return err
	}
	defer a.Close()
	cfg, log, db, catalog, sec := a.cfg, a.log, a.db, a.catalog, a.secret
	// Bound before anything uses the base URL: without KEYHOLD_BASE_URL
	// it is the address actually bound (KEYHOLD_ADDR may name port 0),
	// and mail links, Stripe redirects and the dashboard's snippets all
	// read it. Connections wait in the backlog until Serve below.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on KEYHOLD_ADDR %s: %w", cfg.Addr, err)
	}
	defer ln.Close() // on an early return; Serve closes it otherwise
	if cfg.BaseURLDerived {
		cfg.BaseURL = config.DefaultBaseURL(ln.Addr().String())
	}
	// Signing keys are made on first need; the queue rotates them.
	tokenSvc, err := tokens.New(tokens.Config{Store: db, Secret: sec, Issuer: cfg.BaseURL.String(), Audiences: cfg.TokenAudiences, Logger: log})
	if err != nil {
		return err
	}
	// Notices: the verifier reports quota thresholds to the sink, which
	// records them in the background; the queue checks expiries hourly.
	noticeSvc, err := notices.New(notices.Config{Store: db, EmailOn: cfg.SMTP != nil, Logger: log.With("component", "notices")})
	if err != nil {
		return err
	}
	queue, err := newQueue(ctx, cfg, db, sec, tokenSvc, noticeSvc, log)
	if err != nil {
		return err
	}
	// Stopped after the HTTP server (below): a request in flight may still
	// queue mail. Deferred calls run last-in first-out, so this runs after
	// the usage flush's.
	defer func() {
		qctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := queue.Stop(qctx); err != nil {
			log.Warn("job queue stop", "err", err)
		}
	}()
	authSvc, err := auth.NewService(auth.Config{Store: db, Attempts: db, Secret: sec, Email: db, EmailEnabled: cfg.SMTP != nil})
	if err != nil {
		return err
	}
	teamSvc, err := team.NewService(team.Config{Store: db, Plans: catalog, NormalizeEmail: auth.NormalizeEmail, EmailOn: cfg.SMTP != nil})
	if err != nil {
		return err
	}
	kcfg := keys.Config{Store: db, Plans: catalog}
	if cfg.RequireVerifiedEmail {
		kcfg.Verified = authSvc.EmailVerified
	}
	keySvc, err := keys.NewService(kcfg)
	if err != nil {
		return err
	}
	noticeSink := notices.NewSink(noticeSvc)
	vcfg := verify.Config{Loader: db, Plans: catalog, Logger: log, Thresholds: noticeSink}
	var (
		conn *verify.Redis
		rl   *verify.RedisLimits
	)
	if cfg.RedisURL != "" {
		// Shared limits, quotas and invalidation across instances.
		if conn, err = dialRedis(cfg.RedisURL, log); err != nil {
			return err
		}
		defer conn.Close()
		if rl, err = verify.NewRedisLimits(conn, db); err != nil {
			return err
		}
		vcfg.Limits = rl
	}
	vcfg.Invalidator = invalidator(log, db, conn)
	if conn != nil || !db.Postgres() {
		// Unknown keys are answered from a filter of known secrets: every
		// new secret reaches it through this process (SQLite: one
		// instance) or through Redis's numbered announcements. NOTIFY
		// alone cannot tell an instance it has heard them all, so on
		// PostgreSQL without Redis unknown keys are still read.
		vcfg.Secrets = db
	}
	verifier, err := verify.New(vcfg)
	if err != nil {
		return err
	}
	billingSvc, err := newBilling(cfg, db, catalog, log)
	if err != nil {
		return err
	}
	announce(ctx, log, vcfg.Invalidator, keySvc, billingSvc, authSvc, verifier)

	rootKeySvc, err := rootkey.NewService(rootkey.Config{Store: db})
	if err != nil {
		return err
	}
	webhookSvc, err := events.NewService(events.Config{Store: db, Secret: sec, AllowInsecure: cfg.WebhooksAllowInsecure})
	if err != nil {
		return err
	}
	// Idempotency-Key on /v1/verify and /v1/tokens: in memory, and in
	// Redis (when there is one) for every instance.
	replays, err := verify.NewReplays(verify.ReplayConfig{Redis: conn, Secret: sec, Logger: log})
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Auth:           authSvc,
		Keys:           keySvc,
		Team:           teamSvc,
		RootKeys:       rootKeySvc,
		Plans:          catalog,
		Verifier:       verifier,
		Tokens:         tokenSvc,
		Webhooks:       webhookSvc,
		Reads:          db,
		Notices:        noticeSvc,
		APIStore:       db,
		Billing:        billingSvc,
		Logger:         log,
		BaseURL:        cfg.BaseURL,
		Secret:         sec,
		TrustedProxies: cfg.TrustedProxies,
		Ready:          db.Ping,
		Redis:          rl,
		Replays:        replays,
		MetricsToken:   cfg.MetricsToken,
	})
	if err != nil {
		return err
	}

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	bound := ln.Addr().(*net.TCPAddr)
	fmt.Fprintln(stdout, startPrefix+listenURL(bound))
	if !pointsAt(cfg.BaseURL, bound) {
		// Information, not an error: behind a proxy the public URL
		// legitimately differs from the address bound.
		fmt.Fprintf(stdout, "KEYHOLD_BASE_URL is %s; links and Stripe redirects will use it.\n", cfg.BaseURL)
	}
	log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(), "version", version())

	go sweep(ctx, db, log)
	if err := queue.Start(ctx); err != nil && ctx.Err() == nil {
		// (A stop that comes while the queue starts is a stop, not a
		// failure: the queue now always starts, for the key rotation.)
		return err
	}

	// Usage is flushed until the server has stopped taking requests, then
	// once more: nothing counted is lost on a graceful stop.
	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		verifier.Run(flushCtx, cfg.UsageFlushInterval)
	}()
	// Crossings are recorded likewise until the server has stopped, then
	// what is queued still (deferred: before the queue stops).
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sunk := make(chan struct{})
	go func() {
		defer close(sunk)
		noticeSink.Run(sinkCtx)
	}()
	defer func() {
		stopSink()
		<-sunk
	}()
	defer func() {
		stopFlush()
		<-flushed
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	stopFlush()
	<-flushed
	log.Info("stopped")
	return nil
}
