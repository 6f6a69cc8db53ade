package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/verify"
)

func TestListenNotify(t *testing.T) {
	a := MustOpen(t, "postgres")
	if !a.Postgres() || MustOpen(t, "sqlite").Postgres() {
		t.Fatal("Postgres() is wrong")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 4)
	go a.Listen(ctx, "keyhold_test", func(p string) { got <- p }, func(err error) { t.Log(err) })
	// LISTEN takes effect once its connection is up: notify until heard.
	deadline := time.After(10 * time.Second)
	for {
		if err := a.Notify(ctx, "keyhold_test", "k:abc"); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p != "k:abc" {
				t.Fatalf("payload %q", p)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification within 10 s")
		}
	}
}

// TestNotifierCarriesKeyAndAccountChangesOnly: the NOTIFY invalidator
// delivers key and account changes, drops a new secret's announcement
// (nothing without Redis would trust it), and reports a failed NOTIFY.
func TestNotifierCarriesKeyAndAccountChangesOnly(t *testing.T) {
	db := MustOpen(t, "postgres")
	n := db.Notifier(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan verify.Change, 256)
	go n.Listen(ctx, func(c verify.Change) { got <- c })
	// And what goes over the wire, unparsed (the channel is a contract
	// between instances of different versions).
	raw := make(chan string, 256)
	go db.Listen(ctx, "keyhold_invalidate", func(p string) { raw <- p }, nil)
	// LISTEN takes effect once its connection is up: announce until heard.
	deadline := time.After(10 * time.Second)
	for heard := false; !heard; {
		if err := n.Announce(ctx, verify.Change{Kind: verify.KeyChange, ID: "warmup"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			heard = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification within 10 s")
		}
	}
	waitRaw := time.After(10 * time.Second)
	for heard := false; !heard; {
		if err := n.Announce(ctx, verify.Change{Kind: verify.KeyChange, ID: "warmup"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-raw:
			heard = true
		case <-time.After(100 * time.Millisecond):
		case <-waitRaw:
			t.Fatal("no raw notification within 10 s")
		}
	}

	for _, c := range []verify.Change{
		{Kind: verify.SecretAdded, Hash: [32]byte{1}},
		{Kind: verify.KeyChange, ID: "key1"},
		{Kind: verify.AccountChange, ID: "acct1", KeyIDs: []string{"key1"}},
	} {
		if err := n.Announce(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []verify.Change{{Kind: verify.KeyChange, ID: "key1"}, {Kind: verify.AccountChange, ID: "acct1"}} {
		c, ok := next(got, func(c verify.Change) bool { return c.ID == "warmup" })
		switch {
		case ok:
			if c.Kind != want.Kind || c.ID != want.ID {
				t.Errorf("got %c %q, want %c %q (a secret is not carried)", c.Kind, c.ID, want.Kind, want.ID)
			}
		default:
			t.Fatalf("no %c change within 10 s", want.Kind)
		}
	}
	for _, want := range []string{"k:key1", "a:acct1"} {
		p, ok := next(raw, func(p string) bool { return p == "k:warmup" })
		if !ok {
			t.Fatalf("no payload %q within 10 s", want)
		}
		if p != want {
			t.Errorf("payload %q, want %q (a secret is not carried)", p, want)
		}
	}
	db.Close()
	if err := n.Announce(context.Background(), verify.Change{Kind: verify.KeyChange, ID: "key1"}); err == nil {
		t.Error("an announcement over a closed database reported success")
	}
}

// next returns the next value from ch that skip does not reject, false
// after 10 s without one.
func next[T any](ch <-chan T, skip func(T) bool) (T, bool) {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case v := <-ch:
			if !skip(v) {
				return v, true
			}
		case <-timeout:
			var zero T
			return zero, false
		}
	}
}
