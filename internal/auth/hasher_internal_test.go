package auth

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestHasherSignupShare: sign-ups hold at most their share of the hashing
// slots, so while a flood of them fills that share a log-in still finds a
// slot at once, and sign-ups past the short queue are refused rather than
// piled up.
func TestHasherSignupShare(t *testing.T) {
	ctx := context.Background()
	h := newHasherN(4, params)
	if cap(h.slots) != 4 || cap(h.signups) != 2 {
		t.Fatalf("slots %d, sign-up share %d; want 4 and 2", cap(h.slots), cap(h.signups))
	}
	// Two sign-ups hashing: their whole share.
	for range 2 {
		if err := h.acquireSignup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Sign-ups queue up to signupQueue; fill the queue as waiting ones would.
	h.waiting.Store(h.signupQueue)
	if err := h.acquireSignup(ctx); keyhold.ErrorCode(err) != keyhold.ETOOMANY || RetryAfter(err) <= 0 {
		t.Errorf("sign-up past the queue: %v, want ETOOMANY with a wait", err)
	}
	h.waiting.Store(0)
	// Log-ins take the other slots without waiting for the sign-ups.
	for i := range 2 {
		select {
		case h.slots <- struct{}{}:
		default:
			t.Fatalf("log-in %d found no free slot while sign-ups held their share", i+1)
		}
	}
	// A sign-up that gives up waiting leaves nothing held.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.acquireSignup(cctx); err == nil {
		t.Fatal("a cancelled sign-up got a slot")
	}
	if h.waiting.Load() != 0 {
		t.Errorf("waiting = %d after a cancelled sign-up", h.waiting.Load())
	}
	h.releaseSignup()
	h.releaseSignup()
	<-h.slots
	<-h.slots
	if len(h.slots) != 0 || len(h.signups) != 0 {
		t.Errorf("slots %d, sign-up tokens %d held after every release", len(h.slots), len(h.signups))
	}
}

// TestHasherTwoCores: on the smallest machine there are two slots and one
// is for sign-ups, so log-ins always keep one.
func TestHasherTwoCores(t *testing.T) {
	h := newHasherN(2, params)
	if cap(h.slots) != 2 || cap(h.signups) != 1 {
		t.Errorf("slots %d, sign-up share %d; want 2 and 1", cap(h.slots), cap(h.signups))
	}
}
