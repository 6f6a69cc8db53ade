package store_test

import (
	"context"
	"testing"
	"time"
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
