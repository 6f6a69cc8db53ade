package events_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	secret   = []byte("0123456789abcdef0123456789abcdef")
	quiet    = slog.New(slog.DiscardHandler)
	operator = audit.Actor{UserID: "op", IP: "192.0.2.1"}
)

// fast is a retry schedule for tests: every attempt 50 ms after the one
// before, eight in all.
var fast = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
	50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}

// newService returns the endpoints service on db, insecure URLs allowed
// (the receivers are httptest servers on loopback).
func newService(t testing.TB, db *store.DB) *events.Service {
	t.Helper()
	svc, err := events.NewService(events.Config{Store: db, Secret: secret, AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// instance is one Keyhold's job queue with the webhook workers, working
// jobs until the test ends, and db's event queue set to it. c's Store and
// Logger are filled in, and Secret when nil; a nil Schedule is fast.
func instance(t testing.TB, db *store.DB, c events.DeliveryConfig) *jobs.Queue {
	t.Helper()
	return instanceRescuing(t, db, c, 0)
}

// instanceRescuing is instance with the queue's RescueAfter (0: the
// default).
func instanceRescuing(t testing.TB, db *store.DB, c events.DeliveryConfig, rescueAfter time.Duration) *jobs.Queue {
	t.Helper()
	c.Store, c.Logger = db, quiet
	if c.Secret == nil {
		c.Secret = secret
	}
	c.Sender.AllowInsecure = true
	if c.Schedule == nil {
		c.Schedule = fast
	}
	if c.Busy == 0 {
		c.Busy = 50 * time.Millisecond
	}
	d, err := events.NewDeliverer(c)
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	sweep, n := d.Register(workers)
	pg := ""
	if db.Postgres() {
		pg = db.URL()
	}
	q, err := jobs.New(context.Background(), jobs.Config{DB: db.SQL(), PostgresURL: pg, Workers: workers, Logger: quiet,
		PollInterval: 100 * time.Millisecond, Queues: map[string]int{events.Queue: n}, PeriodicJobs: []*river.PeriodicJob{sweep},
		RescueAfter: rescueAfter})
	if err != nil {
		t.Fatal(err)
	}
	db.SetEventQueue(events.NewJobs(q))
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return q
}

// user makes a user with a personal account, as sign-up does (without
// its audit entry).
func user(t testing.TB, db *store.DB, email string) string {
	t.Helper()
	now := time.Now().UTC()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// createKey makes a key of account through the store, as keys.Service
// does, and returns it.
func createKey(t testing.TB, db *store.DB, account, name string) *keys.Key {
	t.Helper()
	k, err := tryCreateKey(db, account, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func tryCreateKey(db *store.DB, account, name string) (*keys.Key, error) {
	now := time.Now().UTC()
	k := &keys.Key{ID: keyhold.NewID(), AccountID: account, Name: name, Display: "kh_live_…abcd", Scopes: []string{"read"},
		Meta: []byte("{}"), CreatedAt: now, UpdatedAt: now}
	hash := sha256.Sum256([]byte("kh_live_" + k.ID))
	actor := audit.Actor{UserID: account, AccountID: account, Role: "owner"}
	e := actor.Entry(account, audit.KeyCreated, audit.TargetKey, k.ID, "Created "+name, now)
	return k, db.CreateKey(context.Background(), k, hash, 1000000, e)
}

// eventRow is an outbox row as the tests read it.
type eventRow struct {
	ID, Type, AccountID, Data string
}

// eventRows returns the outbox, oldest first.
func eventRows(t testing.TB, db *store.DB) []eventRow {
	t.Helper()
	rows, err := db.SQL().Query("SELECT id, type, account_id, data FROM events ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.ID, &r.Type, &r.AccountID, &r.Data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// count runs a SELECT count(*) … and returns it.
func count(t testing.TB, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// q rewrites ? placeholders for PostgreSQL.
func q(db *store.DB, query string) string { return storetest.Rebind(db, query) }

// request is one request a receiver got.
type request struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a local webhook receiver answering with answer(n) for its
// n-th request (from 1).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []request
	answer   func(n int, w http.ResponseWriter, r *http.Request)
	inFlight int
	maxIn    int
}

func newReceiver(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{Header: r.Header.Clone(), Body: body, At: time.Now()})
		n := len(rc.got)
		rc.inFlight++
		rc.maxIn = max(rc.maxIn, rc.inFlight)
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.inFlight--
			rc.mu.Unlock()
		}()
		if rc.answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func (rc *receiver) maxInFlight() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.maxIn
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// endpoint creates an endpoint to url for evs (nil: all), enabled, and
// returns it with its secret's key bytes.
func endpoint(t testing.TB, svc *events.Service, url string, evs ...string) (events.Endpoint, []byte) {
	t.Helper()
	e, sec, err := svc.CreateEndpoint(context.Background(), operator, events.EndpointInput{URL: url, Events: evs, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	key, err := events.ParseSecret(sec)
	if err != nil {
		t.Fatal(err)
	}
	return e, key
}

// deliveryStatus returns the status of the delivery of event to endpoint
// ("" when there is none).
func deliveryStatus(t testing.TB, db *store.DB, eventID, endpointID string) string {
	t.Helper()
	var s string
	err := db.SQL().QueryRow(q(db, "SELECT status FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?"), eventID, endpointID).Scan(&s)
	if err == sql.ErrNoRows {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var kinds = []string{storetest.SQLite, storetest.Postgres}

// newInsertOnlyQueue is a queue on db that inserts jobs and works none.
func newInsertOnlyQueue(db *store.DB) (*jobs.Queue, error) {
	pg := ""
	if db.Postgres() {
		pg = db.URL()
	}
	return jobs.New(context.Background(), jobs.Config{DB: db.SQL(), PostgresURL: pg, Logger: quiet})
}
