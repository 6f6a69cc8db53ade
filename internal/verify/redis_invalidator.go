package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// invalidateChannel is the Redis pub/sub channel of changes.
const invalidateChannel = "keyhold:invalidate"

// secretsKey is the Redis hash of the counter of added secrets: "n", how
// many were announced, and "epoch", a random name made when the counter
// is, so that a counter Redis lost and started again is never mistaken for
// the old one (its numbers restart from 1).
const secretsKey = "kh:secrets"

// genKey is a key's change counter. RedisLimits's script compares it with
// the entry's on every call (take.lua), which is what makes a change on
// one instance reach the next call on every other at once: the one place
// where the limiter meets coherence, to save a round trip.
func genKey(id string) string { return "kh:{" + id + "}:gen" }

// announceSecretScript numbers a new secret and publishes its hash with
// the number, atomically: a subscriber that has heard every number up to n
// knows every secret announced up to n. ARGV: 1 an epoch to start if there
// is none, 2 the channel, 3 the hash in hex.
var announceSecretScript = redis.NewScript(`
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('PUBLISH', ARGV[2], 's:' .. epoch .. ':' .. n .. ':' .. ARGV[3])
return n
`)

// RedisInvalidator is the Invalidator over Redis: a change bumps the
// changed keys' counters (which every instance's next call of them checks,
// in the limiter's script) and is published so every instance also drops
// its cache entries at once; new secrets are numbered, so a filter of
// known secrets can tell whether it has heard of them all.
type RedisInvalidator struct {
	conn *Redis
}

// NewRedisInvalidator returns the invalidator over conn.
func NewRedisInvalidator(conn *Redis) *RedisInvalidator { return &RedisInvalidator{conn: conn} }

// randomName is 16 random hex digits: a counter's epoch, an instance's id.
func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// fail marks Redis down for any error but the caller's going away.
func (r *RedisInvalidator) fail(err error) {
	if !errors.Is(err, context.Canceled) {
		r.conn.wentDown(err)
	}
}

// Announce implements Invalidator: a secret is numbered and published; a
// key's or account's change bumps the counters of the keys it names and is
// published.
func (r *RedisInvalidator) Announce(ctx context.Context, c Change) error {
	rdb := r.conn.rdb
	switch c.Kind {
	case SecretAdded:
		err := announceSecretScript.Run(ctx, rdb, []string{secretsKey}, randomName(), invalidateChannel, hex.EncodeToString(c.Hash[:])).Err()
		if err != nil {
			r.fail(err)
			return fmt.Errorf("verify: announce secret: %w", err)
		}
		return nil
	case KeyChange, AccountChange:
	default:
		return fmt.Errorf("verify: announce: kind %q is not announced", c.Kind)
	}
	ids := c.KeyIDs
	if c.Kind == KeyChange {
		ids = []string{c.ID}
	}
	if len(ids) > 0 {
		// Before publishing: an instance that hears the change and reads
		// the key again must read the new counter.
		pipe := rdb.Pipeline()
		for _, id := range ids {
			pipe.Incr(ctx, genKey(id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			r.fail(err)
			return fmt.Errorf("verify: mark keys changed: %w", err)
		}
	}
	if err := rdb.Publish(ctx, invalidateChannel, c.message()).Err(); err != nil {
		return fmt.Errorf("verify: publish change: %w", err)
	}
	return nil
}

// Listen implements Invalidator. The subscription reconnects by itself
// after an outage; each time it is (re)established apply gets a
// Resubscribed change.
func (r *RedisInvalidator) Listen(ctx context.Context, apply func(Change)) {
	sub := r.conn.rdb.Subscribe(ctx, invalidateChannel)
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
				if c, ok := parseChange(m.Payload); ok {
					apply(c)
				}
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					apply(Change{Kind: Resubscribed})
				}
			}
		}
	}
}

// Generation implements Invalidator: the key's change counter in Redis.
func (r *RedisInvalidator) Generation(ctx context.Context, keyID string) int64 {
	if r.conn.down.Load() {
		return 0
	}
	g, err := r.conn.rdb.Get(ctx, genKey(keyID)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		r.fail(err)
		return 0
	}
	return g
}

// Degraded implements Invalidator: Redis is unreachable.
func (r *RedisInvalidator) Degraded() bool { return r.conn.Degraded() }

// SecretsAdded implements secretCounter: one HMGET.
func (r *RedisInvalidator) SecretsAdded(ctx context.Context) (string, int64, error) {
	vals, err := r.conn.rdb.HMGet(ctx, secretsKey, "epoch", "n").Result()
	if err != nil {
		r.fail(err)
		return "", 0, fmt.Errorf("verify: secrets added: %w", err)
	}
	epoch, _ := vals[0].(string)
	var n int64
	if s, ok := vals[1].(string); ok {
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return "", 0, fmt.Errorf("verify: secrets added: %w", err)
		}
	}
	return epoch, n, nil
}

// secretsMark implements secretCounter: the counter, started when Redis
// has none, so a filter loaded now has an epoch to compare.
func (r *RedisInvalidator) secretsMark(ctx context.Context) (string, int64, error) {
	if err := r.conn.rdb.HSetNX(ctx, secretsKey, "epoch", randomName()).Err(); err != nil {
		r.fail(err)
		return "", 0, fmt.Errorf("verify: secrets mark: %w", err)
	}
	return r.SecretsAdded(ctx)
}

var (
	_ Invalidator   = (*RedisInvalidator)(nil)
	_ secretCounter = (*RedisInvalidator)(nil)
)
