package verify

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyhold/keyhold/internal/keys"
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

// KeyEvent applies a key event of this process here (Verifier.KeyEvent)
// and announces it: a change as KeyChanged does, a new secret's hash to
// every instance's filter of known secrets, numbered by the shared counter
// of added secrets. Call it after the change is committed and before the
// key is handed out (keys.Service events are).
func (b *Broadcast) KeyEvent(ctx context.Context, e keys.Event) {
	if b.v != nil {
		b.v.KeyEvent(e)
	}
	if e.Kind != keys.KeyCreated {
		b.announce(ctx, InvalidationMessage('k', e.KeyID), e.KeyID)
	}
	if e.SecretHash == ([32]byte{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := b.redis.announceSecret(ctx, e.SecretHash); err != nil {
		// Other instances still verify the key: their counter check
		// fails or lags, and they read it. Only an instance that reaches
		// Redis while this one cannot may miss it, until its next
		// resync (Config.SecretsResync).
		b.log.Warn("broadcast: could not announce a new secret", "err", err)
	}
}

// InvalidationMessage is what announces a change of one key ("k:<id>")
// or of one account's plan ("a:<id>"), on Redis pub/sub or PostgreSQL
// NOTIFY.
func InvalidationMessage(kind byte, id string) string { return string(kind) + ":" + id }

// Invalidate drops what an invalidation message names, or learns the
// secret a Broadcast announced ("s:…"); others are ignored.
func (v *Verifier) Invalidate(msg string) {
	switch {
	case strings.HasPrefix(msg, "s:"):
		v.heardSecret(msg)
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

// Listen drops cache entries and learns secrets announced by any instance
// until ctx ends. The subscription reconnects by itself after a Redis
// outage; each time it is (re)established the filter of known secrets is
// reloaded (by SyncSecrets), since announcements made while unsubscribed
// are lost.
func (b *Broadcast) Listen(ctx context.Context) {
	sub := b.redis.rdb.Subscribe(ctx, invalidateChannel)
	defer sub.Close()
	ch := sub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Message:
				b.v.Invalidate(m.Payload)
			case *redis.Subscription:
				if m.Kind == "subscribe" && b.v.filter != nil {
					b.v.filter.wantLoad()
				}
			}
		}
	}
}
