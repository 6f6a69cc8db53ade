package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

// redisLogOnce sets go-redis's logger once per process: it is global.
var redisLogOnce sync.Once

// dialRedis connects to KEYHOLD_REDIS_URL. go-redis prints pool errors to
// stderr by default; outages are reported by verify, so its own messages
// go to log at debug level.
func dialRedis(url string, log *slog.Logger) (*verify.Redis, error) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{log}) })
	conn, err := verify.DialRedis(url, log)
	if err != nil {
		return nil, fmt.Errorf("KEYHOLD_REDIS_URL: %w", err)
	}
	return conn, nil
}

// redisLogger sends go-redis's own messages to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// invalidator picks how key and plan changes reach the other instances:
// Redis when configured (conn), else NOTIFY on PostgreSQL, else nothing
// beyond this process (SQLite: one instance).
func invalidator(log *slog.Logger, db *store.DB, conn *verify.Redis) verify.Invalidator {
	switch {
	case conn != nil:
		return verify.NewRedisInvalidator(conn)
	case db.Postgres():
		return db.Notifier(log)
	default:
		return verify.NewLocal()
	}
}

// announce makes key and plan changes made by this process reach this
// process's verifier (nil in a process that verifies nothing) and, through
// inv, every running instance. With a verifier, it also applies other
// instances' changes and keeps the verifier's filter of known secrets
// loaded until ctx ends.
//
// Account changes come from billing (plans, periods) and from auth
// (suspensions), each when not nil; both take the same path.
func announce(ctx context.Context, log *slog.Logger, inv verify.Invalidator, keySvc *keys.Service, billingSvc *billing.Service, authSvc *auth.Service, verifier *verify.Verifier) {
	bc := verify.NewBroadcast(inv, verifier, log)
	keySvc.Subscribe(func(e keys.Event) { bc.KeyEvent(ctx, e) })
	accountChanged := func(accountID string) {
		ks, err := keySvc.List(ctx, accountID)
		if err != nil {
			log.Error("broadcast account change: list keys", "account_id", accountID, "err", err)
		}
		ids := make([]string, len(ks))
		for i, k := range ks {
			ids[i] = k.ID
		}
		bc.AccountChanged(ctx, accountID, ids)
	}
	if billingSvc != nil {
		billingSvc.Subscribe(accountChanged)
	}
	if authSvc != nil {
		authSvc.Subscribe(accountChanged)
	}
	if verifier != nil {
		go bc.Listen(ctx)
		go verifier.SyncSecrets(ctx) // returns at once without a filter (PostgreSQL without Redis)
	}
}

// reachInstances makes the changes a command makes (keys through the keys
// service it returns, plans through billingSvc, suspensions through
// authSvc; either may be nil) reach the running instances, as their own
// do: through Redis when KEYHOLD_REDIS_URL is set, else NOTIFY on
// PostgreSQL. The caller calls done when it has made them.
func reachInstances(ctx context.Context, app *application, billingSvc *billing.Service, authSvc *auth.Service) (keySvc *keys.Service, done func(), err error) {
	keySvc, err = keys.NewService(keys.Config{Store: app.db, Plans: app.catalog})
	if err != nil {
		return nil, nil, err
	}
	var conn *verify.Redis
	done = func() {}
	if app.cfg.RedisURL != "" {
		if conn, err = dialRedis(app.cfg.RedisURL, app.log); err != nil {
			return nil, nil, err
		}
		done = func() { conn.Close() }
	}
	announce(ctx, app.log, invalidator(app.log, app.db, conn), keySvc, billingSvc, authSvc, nil)
	return keySvc, done, nil
}
