package verify

import (
	"context"
	"time"
)

// HoldsKey reports whether the cache holds an entry of key keyID, so tests
// can wait for one key's drop while other entries come and go.
func (v *Verifier) HoldsKey(keyID string) bool {
	for i := range v.cache.shards {
		s := &v.cache.shards[i]
		s.mu.RLock()
		for _, e := range s.entries {
			if e.KeyID == keyID {
				s.mu.RUnlock()
				return true
			}
		}
		s.mu.RUnlock()
	}
	return false
}

// Seeds is a QuotaReader of two functions, for tests that stand in for
// the database's counts.
type Seeds struct {
	Key, Pool func(ctx context.Context, id string, windowStart time.Time) (int64, error)
}

// QuotaUsed implements QuotaReader.
func (s Seeds) QuotaUsed(ctx context.Context, keyID string, windowStart time.Time) (int64, error) {
	return s.Key(ctx, keyID, windowStart)
}

// PoolUsed implements QuotaReader.
func (s Seeds) PoolUsed(ctx context.Context, accountID string, windowStart time.Time) (int64, error) {
	return s.Pool(ctx, accountID, windowStart)
}
