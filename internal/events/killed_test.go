package events_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
)

// childDBEnv names the database of the instance TestChildInstance runs,
// in a process of its own, when TestKilledMidDelivery starts it.
const childDBEnv = "KEYHOLD_EVENTS_TEST_CHILD_DB"

// TestChildInstance is not a test: run by TestKilledMidDelivery as a
// process of its own, it is one Keyhold instance delivering webhooks until
// it is killed. Run on its own, it does nothing.
func TestChildInstance(t *testing.T) {
	url := os.Getenv(childDBEnv)
	if url == "" {
		return
	}
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	instance(t, db, events.DeliveryConfig{})
	select {} // until killed
}

// TestKilledMidDelivery: an instance killed (SIGKILL) while it sends a
// message leaves the delivery pending; another instance retries it once
// the dead one's job is found stuck, and the receiver gets the message,
// with the same webhook-id.
func TestKilledMidDelivery(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	db := storetest.Open(t, url)
	instanceQueue(t, db) // inserts only: the child works the jobs
	var (
		mu       sync.Mutex
		ids      []string
		first    = make(chan struct{})
		answered bool
	)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
		if n == 1 {
			close(first)
			<-r.Context().Done() // the sender dies mid-request
			return
		}
		mu.Lock()
		answered = true
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	ep, _ := endpoint(t, newService(t, db), rc.URL)
	createKey(t, db, user(t, db, "ada@example.com"), "k")
	ev := eventRows(t, db)[0]

	child := exec.Command(os.Args[0], "-test.run=^TestChildInstance$", "-test.count=1")
	child.Env = append(os.Environ(), childDBEnv+"="+url)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		t.Fatal("the child instance sent nothing within 60 s")
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if s := deliveryStatus(t, db, ev.ID, ep.ID); s != events.StatusPending {
		t.Fatalf("after the kill the delivery is %s, want pending", s)
	}
	if n := count(t, db, "SELECT count(*) FROM river_job WHERE kind = 'webhook.deliver' AND state = 'running'"); n != 1 {
		t.Fatalf("%d delivery jobs left running by the dead instance, want 1", n)
	}

	// A new instance: once the dead one's leadership lapses, it rescues
	// the stuck job, and the delivery is made.
	instanceRescuing(t, db, events.DeliveryConfig{}, 2*time.Second)
	waitFor(t, 90*time.Second, "the delivery after the restart", func() bool { return deliveryStatus(t, db, ev.ID, ep.ID) == events.StatusDelivered })
	mu.Lock()
	defer mu.Unlock()
	if !answered || len(ids) != 2 || ids[0] != ev.ID || ids[1] != ev.ID {
		t.Errorf("requests carried %v, want the event's id %s twice", ids, ev.ID)
	}
}
