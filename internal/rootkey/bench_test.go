package rootkey_test

import (
	"context"
	"testing"

	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// BenchmarkAuthenticate is one management API call's authentication in
// steady state (the key used within the minute: one indexed read, no
// write), and a malformed key (refused before any I/O).
func BenchmarkAuthenticate(b *testing.B) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		db := storetest.New(b, kind)
		svc, err := rootkey.NewService(rootkey.Config{Store: db})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		_, secret, err := svc.Create(ctx, ops, "bench", []string{rootkey.KeysRead})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, secret.Reveal()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("malformed", func(b *testing.B) {
		svc, _ := rootkey.NewService(rootkey.Config{Store: storetest.New(b, storetest.SQLite)})
		for b.Loop() {
			if _, err := svc.Authenticate(context.Background(), "kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo"); err != rootkey.ErrUnauthorized {
				b.Fatal(err)
			}
		}
	})
}
