package verify

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// invalidateChannel is the Redis pub/sub channel of cache invalidations.
const invalidateChannel = "keyhold:invalidate"

// Broadcast makes a key or plan change take effect on every instance: it
// bumps the changed keys' counters in Redis (which every instance's next
// verification of them checks, in the same script call) and publishes the
// change so every instance also drops its cache entries at once.
type Broadcast struct {
	redis *RedisLimits
	v     *Verifier
	log   *slog.Logger
}

// NewBroadcast returns a Broadcast for v over r. v may be nil in a process
// that changes keys or plans but verifies nothing (keyhold stripe
// reconcile).
func NewBroadcast(r *RedisLimits, v *Verifier, log *slog.Logger) *Broadcast {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broadcast{redis: r, v: v, log: log}
}

// KeyChanged announces that a key changed (revoked, rotated, edited,
// overridden). Call it after the change is committed.
func (b *Broadcast) KeyChanged(ctx context.Context, keyID string) {
	if b.v != nil {
		b.v.InvalidateKey(keyID)
	}
	b.announce(ctx, InvalidationMessage('k', keyID), keyID)
}

// AccountChanged announces that an account's plan or billing period
// changed; keyIDs are the account's keys.
func (b *Broadcast) AccountChanged(ctx context.Context, accountID string, keyIDs []string) {
	if b.v != nil {
		b.v.InvalidateAccount(accountID)
	}
	b.announce(ctx, InvalidationMessage('a', accountID), keyIDs...)
}

// InvalidationMessage is what announces a change of one key ("k:<id>")
// or of one account's plan ("a:<id>"), on Redis pub/sub or PostgreSQL
// NOTIFY.
func InvalidationMessage(kind byte, id string) string { return string(kind) + ":" + id }

// Invalidate drops what an invalidation message names; others are ignored.
func (v *Verifier) Invalidate(msg string) {
	switch {
	case strings.HasPrefix(msg, "k:"):
		v.InvalidateKey(msg[2:])
	case strings.HasPrefix(msg, "a:"):
		v.InvalidateAccount(msg[2:])
	}
}

func (b *Broadcast) announce(ctx context.Context, msg string, keyIDs ...string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := b.redis.Changed(ctx, keyIDs...); err != nil {
		// Other instances see the change when their cache entries expire
		// (a few seconds while Redis is down).
		b.log.Warn("broadcast: could not mark keys changed", "err", err)
		return
	}
	if err := b.redis.rdb.Publish(ctx, invalidateChannel, msg).Err(); err != nil {
		b.log.Warn("broadcast: publish", "err", err)
	}
}

// Listen drops cache entries announced by any instance until ctx ends.
// The subscription reconnects by itself after a Redis outage.
func (b *Broadcast) Listen(ctx context.Context) {
	sub := b.redis.rdb.Subscribe(ctx, invalidateChannel)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			b.v.Invalidate(m.Payload)
		}
	}
}
