package verify

import "github.com/redis/go-redis/v9"

// KeySlot is keySlot, for the tests that hold it to CLUSTER KEYSLOT.
func KeySlot(key string) int { return keySlot(key) }

// KeyIDSlot is keyIDSlot.
func KeyIDSlot(keyID string) int { return keyIDSlot(keyID) }

// RateKey is the key of keyID's rate limit, in its hash tag.
func RateKey(keyID string) string { return rateKey(keyID) }

// SecretsKey is the Redis key of the counter of added secrets.
const SecretsKey = secretsKey

// AddHook adds h to the client, so a test sees every command keyhold
// sends.
func (r *Redis) AddHook(h redis.Hook) { r.rdb.AddHook(h) }
