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

// secretsKey is the Redis hash of the counter of added secrets: "n", how
// many were announced, and "epoch", a random name made when the counter
// is, so that a counter Redis lost and started again is never mistaken for
// the old one (its numbers restart from 1).
const secretsKey = "kh:secrets"

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

// randomName is 16 random hex digits: a counter's epoch, an instance's id.
func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// announceSecret numbers and publishes a new secret's hash.
func (r *RedisLimits) announceSecret(ctx context.Context, h [32]byte) error {
	err := announceSecretScript.Run(ctx, r.rdb, []string{secretsKey}, randomName(), invalidateChannel, hex.EncodeToString(h[:])).Err()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.wentDown(err)
		}
		return fmt.Errorf("verify: announce secret: %w", err)
	}
	return nil
}

// SecretsAdded implements secretCounter: one HMGET.
func (r *RedisLimits) SecretsAdded(ctx context.Context) (string, int64, error) {
	vals, err := r.rdb.HMGet(ctx, secretsKey, "epoch", "n").Result()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.wentDown(err)
		}
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
func (r *RedisLimits) secretsMark(ctx context.Context) (string, int64, error) {
	if err := r.rdb.HSetNX(ctx, secretsKey, "epoch", randomName()).Err(); err != nil {
		if !errors.Is(err, context.Canceled) {
			r.wentDown(err)
		}
		return "", 0, fmt.Errorf("verify: secrets mark: %w", err)
	}
	return r.SecretsAdded(ctx)
}

var _ secretCounter = (*RedisLimits)(nil)
