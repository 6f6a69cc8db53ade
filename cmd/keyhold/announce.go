package main

import (
	"context"
	"log/slog"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

// invalidateChannel is the PostgreSQL NOTIFY channel of cache
// invalidations between instances without Redis.
const invalidateChannel = "keyhold_invalidate"

// announce makes key and plan changes made by this process reach this
// process's verifier (nil in a process that verifies nothing) and every
// running instance: through Redis (change counters and pub/sub) when rl is
// set, else through PostgreSQL NOTIFY when the database is PostgreSQL. With
// a verifier, it also listens for other instances' changes and keeps the
// verifier's filter of known secrets loaded until ctx ends.
//
// Account changes come from billing (plans, periods) and from auth
// (suspensions, when authSvc is not nil); both take the same path.
func announce(ctx context.Context, log *slog.Logger, db *store.DB, rl *verify.RedisLimits, keySvc *keys.Service, billingSvc *billing.Service, authSvc *auth.Service, verifier *verify.Verifier) {
	onAccount := func(fn func(accountID string)) {
		billingSvc.Subscribe(fn)
		if authSvc != nil {
			authSvc.Subscribe(fn)
		}
	}
	if rl != nil {
		bc := verify.NewBroadcast(rl, verifier, log)
		keySvc.Subscribe(func(e keys.Event) { bc.KeyEvent(ctx, e) })
		onAccount(func(accountID string) {
			ks, err := keySvc.List(ctx, accountID)
			if err != nil {
				log.Error("broadcast account change: list keys", "account_id", accountID, "err", err)
			}
			ids := make([]string, len(ks))
			for i, k := range ks {
				ids[i] = k.ID
			}
			bc.AccountChanged(ctx, accountID, ids)
		})
		if verifier != nil {
			go bc.Listen(ctx)
			go verifier.SyncSecrets(ctx)
		}
		return
	}
	if verifier != nil {
		keySvc.Subscribe(verifier.KeyEvent)
		onAccount(verifier.InvalidateAccount)
		go verifier.SyncSecrets(ctx) // returns at once without a filter (PostgreSQL)
	}
	if !db.Postgres() {
		return // SQLite: one instance, nothing to tell
	}
	notify := func(msg string) {
		if err := db.Notify(context.WithoutCancel(ctx), invalidateChannel, msg); err != nil {
			log.Warn("notify other instances", "err", err)
		}
	}
	keySvc.Subscribe(func(e keys.Event) {
		if e.Kind != keys.KeyCreated { // nothing is cached for a new key
			notify(verify.InvalidationMessage('k', e.KeyID))
		}
	})
	onAccount(func(accountID string) { notify(verify.InvalidationMessage('a', accountID)) })
	if verifier != nil {
		go db.Listen(ctx, invalidateChannel, verifier.Invalidate, func(err error) { log.Warn("listen for other instances' changes", "err", err) })
	}
}
