package keyhold

import "sync"

// Listeners fans values out to subscribers, synchronously and in the order
// they subscribed: when Publish returns, every listener has seen the
// value. The keys service announces key events through one and billing
// announces plan changes through another; cmd/keyhold subscribes the
// verifier's cache coherence to both, so neither service knows of it. The
// zero value is ready to use; it is safe for concurrent use.
type Listeners[T any] struct {
	mu  sync.RWMutex
	fns []func(T)
}

// Subscribe registers fn for every value published from now on.
func (l *Listeners[T]) Subscribe(fn func(T)) {
	l.mu.Lock()
	l.fns = append(l.fns, fn)
	l.mu.Unlock()
}

// Publish calls every listener with v, one after another, and returns
// when the last has returned.
func (l *Listeners[T]) Publish(v T) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, fn := range l.fns {
		fn(v)
	}
}
