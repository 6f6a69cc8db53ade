package events_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// TestExactlyOnceAcrossInstances: two instances (each its own pool, queue
// and workers) on one PostgreSQL database, 1000 events written through
// both: the receiver gets each message once. It counts raw requests, so a
// duplicate cannot hide behind a receiver's own dedupe.
func TestExactlyOnceAcrossInstances(t *testing.T) {
	const total = 1000
	url := storetest.URL(t, storetest.Postgres)
	a, b := storetest.Open(t, url), storetest.Open(t, url)
	cfg := events.DeliveryConfig{PerEndpoint: 8, Workers: 16}
	instance(t, a, cfg)
	instance(t, b, cfg)
	rc := newReceiver(t, nil)
	ep, _ := endpoint(t, newService(t, a), rc.URL)
	// One account per writer: keys of one account are made one at a time
	// (the plan's key limit is checked under a lock).
	var accts []string
	for w := range 8 {
		accts = append(accts, user(t, a, fmt.Sprintf("dev%d@example.com", w)))
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		db := []*store.DB{a, b}[w%2]
		wg.Go(func() {
			for i := w; i < total; i += 8 {
				if _, err := tryCreateKey(db, accts[w], fmt.Sprintf("k%d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	written := time.Since(start)
	waitFor(t, 120*time.Second, "every delivery recorded", func() bool {
		return count(t, a, "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'") == total
	})
	// Every job of both instances is done: nothing more can come.
	waitFor(t, 30*time.Second, "every webhook job finished", func() bool {
		return count(t, a, "SELECT count(*) FROM river_job WHERE kind LIKE 'webhook.%' AND kind <> 'webhook.sweep' AND state <> 'completed'") == 0
	})
	elapsed := time.Since(start)
	got := rc.requests()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Header.Get("webhook-id")]++
	}
	if len(got) != total || len(seen) != total {
		t.Errorf("%d requests carrying %d webhook-ids, want %d of each", len(got), len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if n := count(t, a, q(a, "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = ?"), ep.ID); n != total {
		t.Errorf("%d attempts logged, want %d", n, total)
	}
	t.Logf("%d events written in %v, all delivered %v after the first", total, written, elapsed)
}
