package auth

import (
	"context"
	"fmt"
	"runtime"

	"github.com/alexedwards/argon2id"
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

// Password length bounds, in bytes. The upper bound keeps a single request
// from buying minutes of hashing.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

// hasher bounds how many argon2id hashes run at once (19 MiB each).
type hasher struct {
	sem   chan struct{}
	dummy string // hash compared against for unknown emails, for even timing
}

func newHasher() *hasher {
	h := &hasher{sem: make(chan struct{}, max(2, runtime.NumCPU()))}
	d, err := argon2id.CreateHash("keyhold-dummy-password", params)
	if err != nil {
		panic(fmt.Sprintf("auth: argon2id: %v", err)) // only fails if crypto/rand does
	}
	h.dummy = d
	return h
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.sem }

func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	s, err := argon2id.CreateHash(password, params)
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
