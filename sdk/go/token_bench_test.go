package keyhold_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	keyhold "github.com/keyhold/keyhold/sdk/go"
)

// BenchmarkVerifyToken is one offline check of a token with its key
// cached: parsing, one ECDSA P-256 verification and the claims. Keyhold
// is not called.
func BenchmarkVerifyToken(b *testing.B) {
	is := newTestIssuer(b)
	k := is.publish("k1")
	v, clk := newVerifier(b, is)
	token := sign(b, k, "k1", is.claims(clk.now()))
	ctx := context.Background()
	check := keyhold.TokenCheck{Scopes: []string{"read"}}
	if _, err := v.VerifyToken(ctx, token, check); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyToken(ctx, token, check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkES256Baseline is the ECDSA P-256 verification alone, of the
// same token: what BenchmarkVerifyToken adds beyond it is the parsing and
// the checks.
func BenchmarkES256Baseline(b *testing.B) {
	k := newKey(b)
	signing := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJrZXlfMDEifQ"
	sum := sha256.Sum256([]byte(signing))
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256([]byte(signing))
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("not verified")
		}
	}
}
