package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/verify"
)

// tuneGC sets the garbage collector's defaults for a verification server
// unless GOGC or GOMEMLIMIT are set: collect at 400 % heap growth (the
// benchmark's GC ran ~20 times a second at the default 100 % with a small
// heap, which cost ~15 % of the CPU per verification), within a soft limit
// of 256 MiB so a large key cache cannot grow the heap without bound.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" && getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(256 << 20)
	}
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// after a stop signal.
const shutdownTimeout = 15 * time.Second

// serve runs the HTTP server until ctx is cancelled, then shuts down
// gracefully.
func serve(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	tuneGC(getenv)
	// The plans file is checked before the database is touched.
	catalog, err := loadPlans(cfg)
	if err != nil {
		return err
	}
	log, db, err := openStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	sec, err := secret(ctx, cfg, db)
	if err != nil {
		return err
	}
	authSvc, err := auth.NewService(auth.Config{Store: db, Attempts: db, Secret: sec})
	if err != nil {
		return err
	}
	keySvc, err := keys.NewService(keys.Config{Store: db, Plans: catalog})
	if err != nil {
		return err
	}
	vcfg := verify.Config{Loader: db, Plans: catalog, Logger: log}
	var rl *verify.RedisLimits
	if cfg.RedisURL != "" {
		// Shared limits, quotas and invalidation across instances.
		if rl, err = verify.NewRedisLimits(cfg.RedisURL, db.QuotaUsed, log); err != nil {
			return fmt.Errorf("KEYHOLD_REDIS_URL: %w", err)
		}
		defer rl.Close()
		vcfg.Limits = rl
	}
	verifier, err := verify.New(vcfg)
	if err != nil {
		return err
	}
	billingSvc, err := newBilling(cfg, db, catalog, log)
	if err != nil {
		return err
	}
	announce(ctx, log, db, rl, keySvc, billingSvc, verifier)

	srv, err := server.New(server.Config{
		Auth:           authSvc,
		Keys:           keySvc,
		Plans:          catalog,
		Verifier:       verifier,
		Billing:        billingSvc,
		Logger:         log,
		BaseURL:        cfg.BaseURL,
		Secret:         sec,
		TrustedProxies: cfg.TrustedProxies,
		Ready:          db.Ping,
		Redis:          rl,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on KEYHOLD_ADDR %s: %w", cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	// Tests read the "listening on" line to learn the port of :0.
	fmt.Fprintf(stdout, "Keyhold is running at %s (listening on %s)\n", cfg.BaseURL, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(), "version", version())

	go sweep(ctx, db, log)

	// Usage is flushed until the server has stopped taking requests, then
	// once more: nothing counted is lost on a graceful stop.
	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		verifier.Run(flushCtx, cfg.UsageFlushInterval)
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
