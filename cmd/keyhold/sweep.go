package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyhold/keyhold/internal/store"
)

// sweep deletes expired sessions, throttle counters and email tokens every
// hour until ctx ends.
func sweep(ctx context.Context, db *store.DB, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if n, err := db.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep sessions", "err", err)
		} else if n > 0 {
			log.Info("expired sessions removed", "count", n)
		}
		if n, err := db.DeleteExpiredAttempts(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep throttle counters", "err", err)
		} else if n > 0 {
			log.Debug("expired throttle counters removed", "count", n)
		}
		// Used tokens are kept until they expire, so a reused link says
		// "used" rather than "not valid" while it would still have worked.
		if n, err := db.DeleteExpiredEmailTokens(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep email tokens", "err", err)
		} else if n > 0 {
			log.Debug("expired email tokens removed", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
