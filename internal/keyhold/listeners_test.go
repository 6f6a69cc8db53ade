package keyhold_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestListenersCallEverySubscriberInOrderBeforePublishReturns(t *testing.T) {
	var l keyhold.Listeners[string]
	var got []string
	l.Publish("before anyone listens")
	for _, name := range []string{"a", "b", "c"} {
		l.Subscribe(func(v string) { got = append(got, name+":"+v) })
	}
	l.Publish("x")
	l.Publish("y")
	want := []string{"a:x", "b:x", "c:x", "a:y", "b:y", "c:y"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestListenersSubscribeWhilePublishing is for the race detector: services
// publish from request goroutines while wiring may still subscribe.
func TestListenersSubscribeWhilePublishing(t *testing.T) {
	var l keyhold.Listeners[int]
	var (
		mu  sync.Mutex
		sum int
	)
	l.Subscribe(func(v int) { mu.Lock(); sum += v; mu.Unlock() })
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { l.Publish(1) })
		wg.Go(func() { l.Subscribe(func(int) {}) })
	}
	wg.Wait()
	if sum != 10 {
		t.Errorf("the first listener saw %d values, want 10", sum)
	}
}
