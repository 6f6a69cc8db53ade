package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// invalidateChannel is the Redis pub/sub channel of changes.
const invalidateChannel = "keyhold:invalidate"

// secretsKey is the Redis hash of the counter of added secrets: "n", how
// many were announced, and "epoch", a random name made when the counter
// is, so that a counter Redis lost and started again is never mistaken for
// the old one (its numbers restart from 1).
const secretsKey = "kh:secrets"

// genKey is a key's change counter, tagged with its account as all its
// keys are (rateKey). RedisLimits's script compares it with
// the entry's on every call (take.lua), which is what makes a change on
// one instance reach the next call on every other at once: the one place
// where the limiter meets coherence, to save a round trip.
func genKey(acct, id string) string { return "kh:{" + acct + "}:gen:" + id }

// accountGenKey is an account's change counter: the epoch that names its
// pool's counts (poolKey).
func accountGenKey(acct string) string { return "kh:{" + acct + "}:agen" }

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

// fail marks the part of Redis holding key down for any error but the
// caller's going away.
func (r *RedisInvalidator) fail(err error, key string) {
	if !errors.Is(err, context.Canceled) {
		r.conn.wentDown(err, key)
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
			r.fail(err, secretsKey)
			return fmt.Errorf("verify: announce secret: %w", err)
		}
		return nil
	case KeyChange, AccountChange:
	default:
		return fmt.Errorf("verify: announce: kind %q is not announced", c.Kind)
	}
	ids, acct := c.KeyIDs, c.ID
	if c.Kind == KeyChange {
		ids, acct = []string{c.ID}, c.Account
	}
	if acct == "" {
		// Every change names its account; one that does not would bump a
		// counter no verifier reads, and cached entries elsewhere would
		// outlive the change until its message arrived.
		return fmt.Errorf("verify: announce: change of key %q names no account", c.ID)
	}
	if len(ids) > 0 || c.Kind == AccountChange {
		// Before publishing: an instance that hears the change and reads
		// the key again must read the new counter.
		// (In a cluster the pipeline is split by master; each failed
		// command takes its own master down.)
		pipe := rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.Incr(ctx, genKey(acct, id))
		}
		if c.Kind == AccountChange {
			cmds = append(cmds, pipe.Incr(ctx, accountGenKey(acct)))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					// (All in the account's slot.)
					r.fail(cmd.Err(), accountGenKey(acct))
					break
				}
			}
			// Publish all the same: on a cluster the other masters still
			// carry the message, and an instance that is not (yet)
			// degraded for the failed keys' slots would otherwise keep
			// answering from its cached entry.
			if perr := r.publish(ctx, c.message()); perr != nil {
				return fmt.Errorf("verify: mark keys changed: %w; publish change: %w", err, perr)
			}
			return fmt.Errorf("verify: mark keys changed: %w", err)
		}
	}
	if err := r.publish(ctx, c.message()); err != nil {
		return fmt.Errorf("verify: publish change: %w", err)
	}
	return nil
}

// publish sends msg on the channel of changes. A cluster passes what one
// node publishes on to every other, so any node that answers will do: the
// one go-redis picks, then, should that one be away, each master in turn.
func (r *RedisInvalidator) publish(ctx context.Context, msg string) error {
	err := r.conn.rdb.Publish(ctx, invalidateChannel, msg).Err()
	if err == nil || r.conn.cluster == nil {
		return err
	}
	masters, err := r.conn.masters(ctx)
	if len(masters) == 0 {
		return fmt.Errorf("no master known: %w", err)
	}
	var errs []error
	for _, m := range masters {
		err := m.Publish(ctx, invalidateChannel, msg).Err()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.Options().Addr, err))
	}
	return errors.Join(errs...)
}

// Listen implements Invalidator. The subscription reconnects by itself
// after an outage; each time it is (re)established apply gets a
// Resubscribed change.
//
// In a cluster it subscribes on every master (a message published on one
// reaches the subscribers of all), so that changes keep coming while any
// master is away; each change is then heard once per master, which
// applying again does not alter, and apply is called by one at a time.
// Masters added to the cluster later are not subscribed to.
func (r *RedisInvalidator) Listen(ctx context.Context, apply func(Change)) {
	if r.conn.cluster == nil {
		r.listen(ctx, r.conn.rdb, apply)
		return
	}
	var masters []*redis.Client
	for {
		masters, _ = r.conn.masters(ctx)
		if len(masters) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	one := func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		apply(c)
	}
	for _, m := range masters {
		wg.Go(func() { r.listen(ctx, m, one) })
	}
	wg.Wait()
}

// listen is Listen on one client's subscription.
func (r *RedisInvalidator) listen(ctx context.Context, rdb redis.UniversalClient, apply func(Change)) {
	sub := rdb.Subscribe(ctx, invalidateChannel)
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

// Generation implements Invalidator: the key's and its account's change
// counters in Redis, in one MGET.
func (r *RedisInvalidator) Generation(ctx context.Context, accountID, keyID string) (key, account int64) {
	// Unreadable: -1, which no counter is, so an entry read now is found
	// stale by its first call once Redis is back, and read again with
	// the counters as they are (its pool's epoch among them).
	if r.conn.partOf(accountID).down.Load() {
		return -1, -1
	}
	vals, err := r.conn.rdb.MGet(ctx, genKey(accountID, keyID), accountGenKey(accountID)).Result()
	if err != nil {
		r.fail(err, genKey(accountID, keyID))
		return -1, -1
	}
	var gens [2]int64
	for i, v := range vals {
		if s, ok := v.(string); ok {
			gens[i], _ = strconv.ParseInt(s, 10, 64)
		}
	}
	return gens[0], gens[1]
}

// Degraded implements Invalidator: Redis, or a part of a cluster, is
// unreachable (the cache does not know which keys' changes it misses).
func (r *RedisInvalidator) Degraded() bool { return r.conn.Degraded() }

// secretsFields are the fields SecretsAdded reads, made once: the
// variadic slice of a call through the UniversalClient interface escapes,
// which would be an allocation per unknown key.
var secretsFields = []string{"epoch", "n"}

// SecretsAdded implements secretCounter: one HMGET.
func (r *RedisInvalidator) SecretsAdded(ctx context.Context) (string, int64, error) {
	vals, err := r.conn.rdb.HMGet(ctx, secretsKey, secretsFields...).Result()
	if err != nil {
		r.fail(err, secretsKey)
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
		r.fail(err, secretsKey)
		return "", 0, fmt.Errorf("verify: secrets mark: %w", err)
	}
	return r.SecretsAdded(ctx)
}

var (
	_ Invalidator   = (*RedisInvalidator)(nil)
	_ secretCounter = (*RedisInvalidator)(nil)
)
