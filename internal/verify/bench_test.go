package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/verify"
)

// memLoader serves keys from a map. The benchmarks measure the cached hot
// path, where the database is not touched; the tests above cover the real
// store.
type memLoader map[[32]byte]*verify.Record

func (m memLoader) KeyByHash(_ context.Context, h [32]byte) (*verify.Record, error) {
	if r, ok := m[h]; ok {
		return r, nil
	}
	return nil, verify.ErrNotFound
}
func (memLoader) QuotaUsed(context.Context, string, time.Time) (int64, error) { return 0, nil }
func (memLoader) AddUsage(context.Context, []verify.Usage) error              { return nil }

func benchVerifier(b testing.TB, n int) (*verify.Verifier, []string) {
	v, secrets, _ := benchVerifierLoader(b, n)
	return v, secrets
}

func benchVerifierLoader(b testing.TB, n int) (*verify.Verifier, []string, memLoader) {
	b.Helper()
	cat, err := plans.New([]plans.Plan{{ID: "free", Name: "Free", Price: "$0", RatePerSecond: plans.MaxRate, Burst: plans.MaxBurst, MonthlyQuota: 1 << 62, MaxKeys: n}})
	if err != nil {
		b.Fatal(err)
	}
	loader := memLoader{}
	secrets := make([]string, n)
	now := time.Now().UTC()
	for i := range n {
		s, _ := keys.Generate()
		secrets[i] = s.Reveal()
		loader[s.Hash()] = &verify.Record{PlanID: "free", Key: &keys.Key{
			ID: keyhold.NewID(), AccountID: "acct", Name: fmt.Sprintf("key %d", i), Display: s.Display(),
			Scopes: []string{"read", "write"}, Meta: json.RawMessage(`{"team":"core"}`), CreatedAt: now, UpdatedAt: now}}
	}
	v, err := verify.New(verify.Config{Loader: loader, Plans: cat, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var res verify.Result
	for _, s := range secrets {
		v.Verify(context.Background(), &verify.Request{Key: s, Cost: 1}, &res)
		if res.Code != verify.Valid {
			b.Fatal(res.Code)
		}
	}
	return v, secrets, loader
}

// BenchmarkVerifyCached is the in-process hot path for a cached key: parse,
// hash, cache lookup, checks, rate limit, quota and usage counting.
func BenchmarkVerifyCached(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			v, secrets := benchVerifier(b, n)
			ctx := context.Background()
			scopes := []string{"read"}
			b.ReportAllocs()
			b.ResetTimer()
			var res verify.Result
			for i := 0; b.Loop(); i++ {
				v.Verify(ctx, &verify.Request{Key: secrets[i%n], Cost: 1, Scopes: scopes}, &res)
				if res.Code != verify.Valid {
					b.Fatal(res.Code)
				}
			}
		})
	}
}

// BenchmarkVerifyCachedParallel runs the hot path on every core.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, secrets := benchVerifier(b, 100_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var res verify.Result
		i := 0
		for pb.Next() {
			v.Verify(ctx, &verify.Request{Key: secrets[i%len(secrets)], Cost: 1}, &res)
			i += 7
		}
	})
}

// BenchmarkVerifyAndEncode adds the JSON answer.
func BenchmarkVerifyAndEncode(b *testing.B) {
	v, secrets := benchVerifier(b, 1)
	ctx := context.Background()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	var res verify.Result
	for b.Loop() {
		v.Verify(ctx, &verify.Request{Key: secrets[0], Cost: 1}, &res)
		buf = verify.AppendJSON(buf[:0], &res)
	}
}

// TestMemoryOf100kKeys reports the heap held by 100 000 cached keys
// (informational: the number goes in the note, the test asserts only the
// 100 MB budget named by the issue, which is a bound, not a timing).
func TestMemoryOf100kKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100 000 keys")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, secrets, loader := benchVerifierLoader(t, 100_000)
	// Count only what the verifier holds: drop the loader's records and
	// the plaintexts (the database and the callers hold those).
	clear(loader)
	secrets = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("100 000 cached keys: %d cached, verifier heap %.1f MB", v.CachedKeys(), float64(heap)/1e6)
	_ = secrets
	if heap > 100<<20 {
		t.Errorf("100 000 keys take %.1f MB of heap", float64(heap)/1e6)
	}
	runtime.KeepAlive(v)
}
