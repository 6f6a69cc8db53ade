package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/store"
)

// TestServeDeliversWebhooks: keyhold serve works the webhook queue: a
// sign-up and a key made through the portal reach an endpoint (on
// loopback, KEYHOLD_WEBHOOKS_ALLOW_INSECURE=true) as signed messages.
func TestServeDeliversWebhooks(t *testing.T) {
	const secret = "webhooks-test-secret-0123456789abcdef"
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	var (
		mu  sync.Mutex
		got = map[string]int{}
		key []byte
		bad []string
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct{ Type string }
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		defer mu.Unlock()
		if err := events.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			bad = append(bad, m.Type+": "+err.Error())
		}
		got[m.Type]++
	}))
	defer rc.Close()
	a := MustRun(t, map[string]string{"KEYHOLD_DATABASE_URL": dbURL, "KEYHOLD_SECRET": secret, "KEYHOLD_WEBHOOKS_ALLOW_INSECURE": "true"})

	// The endpoint, as the console will make it, on the same database.
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := events.NewService(events.Config{Store: db, Secret: []byte(secret), AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	_, sec, err := svc.CreateEndpoint(context.Background(), audit.Actor{}, events.EndpointInput{URL: rc.URL, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	key, _ = events.ParseSecret(sec)
	mu.Unlock()

	newAccountWithKey(t, a, "hooks@example.com")
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := got[events.AccountCreated] == 1 && got[events.KeyCreated] == 1
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("received %v within 20 s, want one account.created and one key.created\nstderr:\n%s", got, a.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("messages that do not verify: %v", bad)
	}
}
