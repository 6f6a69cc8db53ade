package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
)

// SecretLister is what the filter of known secrets needs from the
// database.
type SecretLister interface {
	// SecretHashes calls fn with the hash of every stored secret, revoked
	// keys' and rotated-out ones included.
	SecretHashes(ctx context.Context, fn func(hash [32]byte)) error
}

// secretCounter numbers the secrets added on every instance (an
// Invalidator over Redis), so that a verifier can tell whether its filter
// has heard of all of them.
type secretCounter interface {
	// SecretsAdded returns the counter's epoch ("" when there is none)
	// and how many secrets were announced in it.
	SecretsAdded(ctx context.Context) (epoch string, n int64, err error)
	// secretsMark is SecretsAdded, starting an epoch when there is none.
	secretsMark(ctx context.Context) (epoch string, n int64, err error)
	Degraded() bool
}

// knownAbsent reports whether h is surely no stored secret's hash, so the
// key is NotFound without a database read. Where it cannot be sure (the
// filter has not loaded; with Redis, the filter has not heard of every
// secret added so far, or Redis cannot say) it reports false and the key is
// read: a key that exists is never answered NotFound from the filter.
func (v *Verifier) knownAbsent(ctx context.Context, h *[32]byte, now time.Time) bool {
	f := v.filter
	if f == nil || f.has(h) {
		return false
	}
	if v.counter == nil {
		// Every secret is added through this process (KeyEvent), before
		// its key is handed out.
		return true
	}
	if v.counter.Degraded() {
		return false
	}
	// Read after the verification began: any key the caller could hold
	// was counted by now.
	epoch, n, err := v.counter.SecretsAdded(ctx)
	if err != nil {
		return false
	}
	return f.absent(h, epoch, n, now)
}

// KeyEvent applies a key event of this process: a new secret's hash goes
// into the filter of known secrets (before the key is handed out, since
// events are delivered before the service returns), and a change drops
// the key's cached entries. Subscribe it to keys.Service, or let a
// Broadcast call it.
func (v *Verifier) KeyEvent(e keys.Event) {
	if v.filter != nil && e.SecretHash != ([32]byte{}) {
		v.filter.add(&e.SecretHash)
	}
	switch {
	case e.OwnQuotaChanged:
		// The key joined or left its account's pool, if it has one: the
		// pool is counted again, and every key of it drops the old one.
		v.InvalidateAccount(e.AccountID)
	case e.Kind != keys.KeyCreated:
		// A new key has nothing cached; dropping scans the whole cache.
		v.InvalidateKey(e.KeyID)
	}
}

// LoadSecrets (re)builds the filter of known secrets from the database: one
// query streaming every hash. With Redis it first reads the counter of
// added secrets, so the filter is complete up to that number once loaded.
// Until a first load succeeds every unknown key is read from the database,
// as without a filter. Loads run one at a time; SyncSecrets calls it.
func (v *Verifier) LoadSecrets(ctx context.Context) error {
	f := v.filter
	if f == nil {
		return errors.New("verify: no Secrets configured")
	}
	f.loadMu.Lock()
	defer f.loadMu.Unlock()
	var (
		epoch string
		mark  int64
	)
	if v.counter != nil {
		var err error
		if epoch, mark, err = v.counter.secretsMark(ctx); err != nil {
			return fmt.Errorf("verify: load secrets: %w", err)
		}
	}
	f.startLoad()
	var ps []uint64
	err := v.cfg.Secrets.SecretHashes(ctx, func(h [32]byte) { ps = append(ps, prefixOf(&h)) })
	if err != nil {
		f.abortLoad()
		return fmt.Errorf("verify: load secrets: %w", err)
	}
	t := newHashTable(len(ps))
	for _, p := range ps {
		t.insert(p)
	}
	f.finishLoad(t, epoch, mark)
	return nil
}

// SyncSecrets keeps the filter of known secrets loaded until ctx ends: it
// loads when asked (at start alone; with Redis, on every subscription to
// the broadcast, since messages may have been missed while unsubscribed;
// when a gap in the announced numbers stays open), retrying every second
// while the database is down, and rebuilds it every SecretsResync to drop
// deleted secrets and repair anything an announcement missed.
func (v *Verifier) SyncSecrets(ctx context.Context) {
	f := v.filter
	if f == nil {
		return
	}
	tick := time.NewTicker(v.cfg.SecretsResync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.want:
		case <-tick.C:
		}
		for failed := false; ; {
			start := time.Now()
			err := v.LoadSecrets(ctx)
			if err == nil {
				n, bytes := f.size()
				v.log.Info("verify: filter of known secrets loaded", "secrets", n, "bytes", bytes, "took", time.Since(start).Round(time.Millisecond))
				break
			}
			if ctx.Err() != nil {
				return
			}
			if !failed {
				v.log.Warn("verify: could not load the filter of known secrets; unknown keys are read from the database until it loads", "err", err)
				failed = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// KnownSecrets returns how many secrets the filter holds and the bytes of
// its table (0, 0 before it has loaded or without Secrets).
func (v *Verifier) KnownSecrets() (n, bytes int) {
	if v.filter == nil {
		return 0, 0
	}
	return v.filter.size()
}

// UnknownAnswered returns how many keys the filter answered NotFound
// without a database read.
func (v *Verifier) UnknownAnswered() int64 { return v.unknown.Load() }
