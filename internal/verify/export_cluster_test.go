package verify

import "github.com/redis/go-redis/v9"

// KeySlot is keySlot, for the tests that hold it to CLUSTER KEYSLOT.
func KeySlot(key string) int { return keySlot(key) }

// TagSlot is tagSlot: the slot of every Redis key of an account's keys.
func TagSlot(accountID string) int { return tagSlot(accountID) }

// RateKey is the key of a key's rate limit, in its account's hash tag.
func RateKey(accountID, keyID string) string { return rateKey(accountID, keyID) }

// SecretsKey is the Redis key of the counter of added secrets.
const SecretsKey = secretsKey

// AddHook adds h to the client, so a test sees every command keyhold
// sends.
func (r *Redis) AddHook(h redis.Hook) { r.rdb.AddHook(h) }
