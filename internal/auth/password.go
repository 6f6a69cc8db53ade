package auth

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// params are OWASP's argon2id minimum (m=19 MiB, t=2, p=1). The library's
// default of 64 MiB per hash would let a burst of log-ins exhaust memory.
var params = &argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// cheapParams are the cheapest argon2id takes (8 KiB, one pass), for
// tests that sign up or log in many times (Config.CheapHashing): under the
// race detector one hash with params costs about 120 ms of CPU. The hashes
// are real argon2id hashes, so everything around them is tested as it is.
var cheapParams = &argon2id.Params{
	Memory:      8,
	Iterations:  1,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// hasher bounds how many argon2id hashes run at once (19 MiB and one core
// each), and how many of them sign-ups may hold.
//
// Every hash holds one of the slots: max(2, GOMAXPROCS) of them, as many
// as there are cores to run them, since more would only add memory and
// queueing. A sign-up also holds one of the sign-up tokens, half as many
// (at least one), so however many sign-ups arrive, log-ins and password
// changes always find the other half of the slots free of them. Sign-ups
// queue for a token only while few others do (signupQueue); past that they
// are refused at once with ETOOMANY instead of piling up requests that
// would time out anyway.
type hasher struct {
	slots       chan struct{}
	signups     chan struct{}
	waiting     atomic.Int32 // sign-ups waiting for a token
	signupQueue int32
	params      *argon2id.Params // params, or cheapParams in tests
	dummy       string           // hash compared against for unknown emails, for even timing
}

func newHasher(p *argon2id.Params) *hasher { return newHasherN(max(2, runtime.GOMAXPROCS(0)), p) }

// newHasherN returns a hasher with n slots that hashes with p.
func newHasherN(n int, p *argon2id.Params) *hasher {
	share := max(1, n/2)
	h := &hasher{slots: make(chan struct{}, n), signups: make(chan struct{}, share), signupQueue: int32(4 * share), params: p}
	d, err := argon2id.CreateHash("keyhold-dummy-password", p)
	if err != nil {
		panic(fmt.Sprintf("auth: argon2id: %v", err)) // only fails if crypto/rand does
	}
	h.dummy = d
	return h
}

// errHashBusy refuses a sign-up when too many are waiting to be hashed.
var errHashBusy = &keyhold.Error{Code: keyhold.ETOOMANY, Message: "Many people are signing up right now. Please try again in a few seconds.",
	Err: throttled{retryAfter: 5 * time.Second}}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.slots }

// acquireSignup takes a sign-up token, then a slot.
func (h *hasher) acquireSignup(ctx context.Context) error {
	select {
	case h.signups <- struct{}{}:
	default:
		if h.waiting.Add(1) > h.signupQueue {
			h.waiting.Add(-1)
			return errHashBusy
		}
		select {
		case h.signups <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
		}
	}
	if err := h.acquire(ctx); err != nil {
		<-h.signups
		return err
	}
	return nil
}

func (h *hasher) releaseSignup() {
	h.release()
	<-h.signups
}

// hash hashes a new password for a signed-in user (a password change).
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.createHash(password)
}

// hashSignup hashes the password of a new account, within the sign-ups'
// share of the slots.
func (h *hasher) hashSignup(ctx context.Context, password string) (string, error) {
	if err := h.acquireSignup(ctx); err != nil {
		return "", err
	}
	defer h.releaseSignup()
	return h.createHash(password)
}

func (h *hasher) createHash(password string) (string, error) {
	s, err := argon2id.CreateHash(password, h.params)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return s, nil
}

// compare reports whether password matches hash; with an empty hash it
// compares against a dummy so unknown accounts cost the same time.
func (h *hasher) compare(ctx context.Context, password, hash string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, nil
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("auth: compare password: %w", err)
	}
	return ok, nil
}
