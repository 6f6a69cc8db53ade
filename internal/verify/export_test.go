package verify

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
