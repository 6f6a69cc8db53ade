package verify

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
)

// Invalidator carries changes of keys and accounts between instances, so
// that every instance's cache drops what changed: the one concept of cache
// coherence. Three transports implement it: Local (one process), the
// Redis one (RedisInvalidator: change counters checked on every call, and
// pub/sub) and PostgreSQL LISTEN/NOTIFY (store.Notifier). cmd/keyhold picks
// one; a Broadcast wires it to this process's verifier.
type Invalidator interface {
	// Announce tells every other instance about a change this process
	// committed. This process's verifier has applied it already
	// (Broadcast does both).
	Announce(ctx context.Context, c Change) error
	// Listen calls apply with every change another instance announces,
	// until ctx ends. It reconnects by itself. A transport that numbers
	// new secrets (Redis) calls apply with a Resubscribed change each time
	// its subscription is established, the first time included: the
	// filter of known secrets then loads, so that no announcement falls
	// between the load and the subscription, or one lost while
	// unsubscribed stays unknown.
	Listen(ctx context.Context, apply func(Change))
	// Generation returns the key's change counter, read before the key is
	// read from the database and checked again by the limiter on every
	// call (so a change made anywhere is seen on the next call
	// everywhere), and its account's (bumped by every account change: a
	// pooled quota's count in Redis is named by it, so a change of the
	// pool's members or plan starts a new count); 0 when the transport
	// keeps none, -1 when it cannot reach them.
	Generation(ctx context.Context, accountID, keyID string) (key, account int64)
	// Degraded reports that changes made on other instances may not be
	// arriving now: the verifier then trusts a cached key briefly.
	Degraded() bool
}

// ChangeKind says what a Change announces. Its value is the first byte of
// the change's message on Redis pub/sub and PostgreSQL NOTIFY.
type ChangeKind byte

// Change kinds.
const (
	KeyChange     ChangeKind = 'k' // a key changed: drop its cached secrets
	AccountChange ChangeKind = 'a' // an account's plan or billing period changed: drop its keys
	SecretAdded   ChangeKind = 's' // a new secret: the filter of known secrets learns its hash
	// Resubscribed: the transport listens again after a gap, in which
	// announcements were lost (the filter of known secrets reloads).
	Resubscribed ChangeKind = 'r'
)

// Change is one announced change.
type Change struct {
	Kind ChangeKind
	ID   string // KeyChange: the key's id; AccountChange: the account's
	// Account is a KeyChange's account, which names the key's change
	// counter in Redis (genKey); not on the wire.
	Account string
	// KeyIDs are an AccountChange's keys, whose change counters a
	// transport that keeps them bumps.
	KeyIDs []string
	// Hash is a SecretAdded's secret hash (SHA-256 of 190 random bits:
	// it reveals nothing of the key and is safe to announce).
	Hash [32]byte
	// Epoch and N number a SecretAdded in a counting transport (Redis):
	// the N-th secret announced under the counter named Epoch. "" and 0
	// where changes arrive synchronously (Local).
	Epoch string
	N     int64
}

// message is c on the wire: "k:<key id>" or "a:<account id>".
// (SecretAdded's, "s:<epoch>:<n>:<hash in hex>", is made by Redis.)
func (c Change) message() string { return string(c.Kind) + ":" + c.ID }

// parseChange reads a message of Change.message or of Redis's secret
// announcement; false for anything else.
func parseChange(msg string) (Change, bool) {
	if len(msg) < 2 || msg[1] != ':' {
		return Change{}, false
	}
	c := Change{Kind: ChangeKind(msg[0])}
	switch c.Kind {
	case KeyChange, AccountChange:
		c.ID = msg[2:]
		return c, c.ID != ""
	case SecretAdded:
		parts := strings.Split(msg, ":")
		if len(parts) != 4 {
			return Change{}, false
		}
		n, err := strconv.ParseInt(parts[2], 10, 64)
		if k, herr := hex.Decode(c.Hash[:], []byte(parts[3])); err != nil || herr != nil || k != len(c.Hash) {
			return Change{}, false
		}
		c.Epoch, c.N = parts[1], n
		return c, true
	}
	return Change{}, false
}

// ParseChange reads a change from its message on the wire, for a transport
// outside this package (store.Notifier); false for a message that is none.
func ParseChange(msg string) (Change, bool) { return parseChange(msg) }

// Message returns a KeyChange's or AccountChange's message on the wire,
// for a transport outside this package; "" for other kinds, which such a
// transport does not carry.
func (c Change) Message() string {
	if c.Kind != KeyChange && c.Kind != AccountChange {
		return ""
	}
	return c.message()
}

// Apply applies a change announced by another instance: it drops what a
// key or account change names, learns an added secret, and reloads the
// filter of known secrets after a gap in the subscription.
func (v *Verifier) Apply(c Change) {
	switch c.Kind {
	case KeyChange:
		v.InvalidateKey(c.ID)
	case AccountChange:
		v.InvalidateAccount(c.ID)
	case SecretAdded:
		switch {
		case v.filter == nil:
		case c.Epoch == "":
			v.filter.add(&c.Hash)
		default:
			v.filter.heard(c.Epoch, c.N, &c.Hash)
		}
	case Resubscribed:
		if v.filter != nil {
			v.filter.wantLoad()
		}
	}
}

// Broadcast makes a key or plan change take effect on every instance: it
// applies the change to this process's verifier, then announces it through
// the Invalidator; Listen applies the other instances' announcements.
type Broadcast struct {
	inv Invalidator
	v   *Verifier
	log *slog.Logger
}

// NewBroadcast returns a Broadcast for v over inv. v may be nil in a
// process that changes keys or plans but verifies nothing (keyhold stripe
// reconcile).
func NewBroadcast(inv Invalidator, v *Verifier, log *slog.Logger) *Broadcast {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broadcast{inv: inv, v: v, log: log}
}

// KeyChanged announces that a key of an account changed (revoked,
// rotated, edited, overridden). Call it after the change is committed.
func (b *Broadcast) KeyChanged(ctx context.Context, accountID, keyID string) {
	if b.v != nil {
		b.v.InvalidateKey(keyID)
	}
	b.announce(ctx, Change{Kind: KeyChange, ID: keyID, Account: accountID})
}

// AccountChanged announces that an account's plan or billing period
// changed; keyIDs are the account's keys.
func (b *Broadcast) AccountChanged(ctx context.Context, accountID string, keyIDs []string) {
	if b.v != nil {
		b.v.InvalidateAccount(accountID)
	}
	b.announce(ctx, Change{Kind: AccountChange, ID: accountID, KeyIDs: keyIDs})
}

// KeyEvent applies a key event of this process here (Verifier.KeyEvent)
// and announces it: a change as KeyChanged does, a new secret's hash to
// every instance's filter of known secrets. Call it after the change is
// committed and before the key is handed out (keys.Service events are).
func (b *Broadcast) KeyEvent(ctx context.Context, e keys.Event) {
	if b.v != nil {
		b.v.KeyEvent(e)
	}
	if e.Kind != keys.KeyCreated { // nothing is cached for a new key
		b.announce(ctx, Change{Kind: KeyChange, ID: e.KeyID, Account: e.AccountID})
	}
	if e.OwnQuotaChanged {
		// Every instance counts the account's pool again (see
		// Verifier.InvalidateAccount).
		b.announce(ctx, Change{Kind: AccountChange, ID: e.AccountID})
	}
	if e.SecretHash != ([32]byte{}) {
		// Should this fail, other instances still verify the key: their
		// counter check fails or lags, and they read it. Only an instance
		// that reaches Redis while this one cannot may miss it, until its
		// next resync (Config.SecretsResync).
		b.announce(ctx, Change{Kind: SecretAdded, Hash: e.SecretHash})
	}
}

// announce announces c, logging a failure: other instances then see the
// change when their cache entries expire (a few seconds while the
// transport is down).
func (b *Broadcast) announce(ctx context.Context, c Change) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := b.inv.Announce(ctx, c); err != nil {
		b.log.Warn("broadcast: could not announce a change to other instances", "kind", string(c.Kind), "err", err)
	}
}

// Listen applies the changes other instances announce until ctx ends.
func (b *Broadcast) Listen(ctx context.Context) {
	if b.v == nil {
		return
	}
	b.inv.Listen(ctx, b.v.Apply)
}

// Local is the Invalidator of one process: it announces a change
// synchronously to the other verifiers of the same process that listen
// through a Peer (none, usually), and keeps no change counters.
type Local struct {
	hub *localHub
}

type localHub struct {
	mu        sync.RWMutex
	listeners map[*Local][]func(Change)
}

// NewLocal returns a Local with no peers.
func NewLocal() *Local {
	return &Local{hub: &localHub{listeners: map[*Local][]func(Change){}}}
}

// Peer returns another member of l's process: what one announces, the
// other's listeners apply before Announce returns.
func (l *Local) Peer() *Local { return &Local{hub: l.hub} }

// Announce implements Invalidator.
func (l *Local) Announce(_ context.Context, c Change) error {
	l.hub.mu.RLock()
	defer l.hub.mu.RUnlock()
	for m, fns := range l.hub.listeners {
		if m == l {
			continue
		}
		for _, fn := range fns {
			fn(c)
		}
	}
	return nil
}

// Listen implements Invalidator. It never needs to resubscribe.
func (l *Local) Listen(ctx context.Context, apply func(Change)) {
	l.hub.mu.Lock()
	l.hub.listeners[l] = append(l.hub.listeners[l], apply)
	l.hub.mu.Unlock()
	<-ctx.Done()
	l.hub.mu.Lock()
	delete(l.hub.listeners, l)
	l.hub.mu.Unlock()
}

// Generation implements Invalidator: Local keeps no counters.
func (*Local) Generation(context.Context, string, string) (int64, int64) { return 0, 0 }

// Degraded implements Invalidator: a process never misses its own changes.
func (*Local) Degraded() bool { return false }

var _ Invalidator = (*Local)(nil)
