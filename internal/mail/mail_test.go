package mail_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	base   = &url.URL{Scheme: "https", Host: "keys.example.com"}
	quiet  = slog.New(slog.DiscardHandler)
)

// TestRenderEveryMail renders each mail, HTML and text, and checks that its
// token appears only inside its own link, that no API or root key could
// be in it, and that the link uses KEYHOLD_BASE_URL.
func TestRenderEveryMail(t *testing.T) {
	token := "tok3nTOKENtok3nTOKENtok3nTOKENtok3nTOKEN123"
	tests := []struct {
		kind, subject, path string
	}{
		{auth.PurposePasswordReset, "Reset your Keyhold password", "/password/reset/"},
		{auth.PurposeVerifyEmail, "Verify your email for Keyhold", "/email/verify/"},
		{auth.PurposeChangeEmail, "Confirm your new email for Keyhold", "/email/change/"},
		{auth.MailEmailChanged, "Your Keyhold email was changed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			a := mail.Args{Mail: tt.kind, To: "ada@example.com", NewEmail: "new@example.com"}
			tok := ""
			if tt.path != "" {
				a.ExpiresAt = time.Now().Add(time.Hour)
				tok = token
			}
			m, err := mail.Render(base, a, tok)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject || m.To != "ada@example.com" {
				t.Errorf("subject %q to %q", m.Subject, m.To)
			}
			link := "https://keys.example.com" + tt.path + token
			for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if tt.path != "" && !strings.Contains(body, link) {
					t.Errorf("%s has no link %s:\n%s", name, link, body)
				}
				rest := strings.ReplaceAll(body, link, "")
				if strings.Contains(rest, token) {
					t.Errorf("%s shows the token outside its link:\n%s", name, body)
				}
				if keys.RedactText(rest) != rest {
					t.Errorf("%s holds something shaped like a key:\n%s", name, body)
				}
				if strings.Contains(rest, "kh_live_") || strings.Contains(rest, "kh_root_") {
					t.Errorf("%s names a key prefix:\n%s", name, body)
				}
				if !strings.Contains(body, "https://keys.example.com") {
					t.Errorf("%s does not link the portal", name)
				}
			}
			if tt.kind == auth.MailEmailChanged && !strings.Contains(m.Text, "new@example.com") {
				t.Errorf("the notice does not name the new address:\n%s", m.Text)
			}
		})
	}
	if _, err := mail.Render(base, mail.Args{Mail: auth.PurposePasswordReset, To: "a@example.com"}, ""); err == nil {
		t.Error("a reset mail without its token rendered")
	}
	if _, err := mail.Render(base, mail.Args{Mail: "nonsense", To: "a@example.com"}, ""); err == nil {
		t.Error("an unknown kind of mail rendered")
	}
}

// recorder is an Inserter that keeps the args it is given.
type recorder struct{ args []river.JobArgs }

func (r *recorder) InsertTx(_ context.Context, _ *sql.Tx, a river.JobArgs) (int64, error) {
	r.args = append(r.args, a)
	return int64(len(r.args)), nil
}

// TestQueuedArgsHoldNoToken: what goes into River's table carries the
// token sealed, never in the clear.
func TestQueuedArgsHoldNoToken(t *testing.T) {
	r := &recorder{}
	o, err := mail.NewOutbox(r, secret)
	if err != nil {
		t.Fatal(err)
	}
	token := "the-plain-token-of-a-reset-link-000000000"
	if err := o.QueueTx(context.Background(), nil, auth.Mail{Kind: auth.PurposePasswordReset, To: "a@example.com", Token: token, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.args[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), token) || !strings.Contains(string(b), `"sealed":"`) {
		t.Errorf("job args: %s", b)
	}
}

// open opens and migrates a database of kind "sqlite" or "postgres".
func open(t *testing.T, kind string) *store.DB { return openB(t, kind) }

func openB(t testing.TB, kind string) *store.DB {
	t.Helper()
	u := "sqlite://" + filepath.Join(t.TempDir(), "keyhold.db")
	if kind == "postgres" {
		u = testenv.Postgres(t)
	}
	db, err := store.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// instance is one Keyhold's queue with a mail worker sending to smtp.
func instance(t *testing.T, db *store.DB, smtp mail.Server) *jobs.Queue {
	return instanceB(t, db, smtp)
}

func instanceB(t testing.TB, db *store.DB, smtp mail.Server) *jobs.Queue {
	t.Helper()
	from := &netmail.Address{Name: "Keyhold", Address: "keyhold@localhost"}
	w, err := mail.NewWorker(mail.NewSMTP(smtp, from), secret, base, quiet)
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	mail.Register(workers, w)
	pg := ""
	if db.Postgres() {
		pg = db.URL()
	}
	q, err := jobs.New(context.Background(), jobs.Config{DB: db.SQL(), PostgresURL: pg, Workers: workers, Logger: quiet, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
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

// account makes a user (with a personal account, as sign-up does) to
// hang tokens on.
func account(t *testing.T, db *store.DB, email string) *auth.User { return accountB(t, db, email) }

func accountB(t testing.TB, db *store.DB, email string) *auth.User {
	t.Helper()
	now := time.Now().UTC()
	u := &auth.User{ID: keyhold.NewID(), Email: email, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(context.Background(), u, &team.Account{ID: u.ID, Name: email, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// queueReset saves a reset token for a with its mail, through the store,
// as the forgot-password page does, and returns the mail job's id.
func queueReset(t *testing.T, db *store.DB, a *auth.User, token string) int64 {
	t.Helper()
	now := time.Now().UTC()
	tok := &auth.EmailToken{Hash: auth.TokenHash(token), UserID: a.ID, Purpose: auth.PurposePasswordReset, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	m := &auth.Mail{Kind: auth.PurposePasswordReset, To: a.Email, Token: token, ExpiresAt: tok.ExpiresAt}
	if err := db.SaveEmailToken(context.Background(), tok, m); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.SQL().QueryRow(`SELECT MAX(id) FROM river_job`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitJob waits until job id is in state, and returns it.
func waitJob(ctx context.Context, t *testing.T, q *jobs.Queue, id int64, states ...rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	for {
		j, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if j.State == s {
				return j
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d is %s (attempt %d, errors %v), waited for %v", id, j.State, j.Attempt, j.Errors, states)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestMailWaitsForSMTP: a mail queued while the SMTP server is down fails,
// is kept for a retry, and is delivered once the server is back, once.
func TestMailWaitsForSMTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := open(t, "sqlite")
	port := closedPort(t)
	q := instance(t, db, mail.Server{Host: "127.0.0.1", Port: port, Security: mail.Plain})
	o, err := mail.NewOutbox(q, secret)
	if err != nil {
		t.Fatal(err)
	}
	db.SetOutbox(o)
	a := account(t, db, "down@example.com")
	token := "a-token-that-waits-for-smtp-0000000000000"
	id := queueReset(t, db, a, token)

	j := waitJob(ctx, t, q, id, rivertype.JobStateRetryable)
	if j.Attempt != 1 || len(j.Errors) != 1 {
		t.Fatalf("after SMTP refused: attempt %d, errors %v", j.Attempt, j.Errors)
	}
	if strings.Contains(j.Errors[0].Error, token) || strings.Contains(string(j.EncodedArgs), token) {
		t.Fatalf("the token is in the job's error or args: %s / %s", j.Errors[0].Error, j.EncodedArgs)
	}

	mp := testenv.StartMailpit(t, port) // SMTP is back, on the same port
	if err := q.RetryNow(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, q, id, rivertype.JobStateCompleted)
	got := mp.MessagesTo(t, a.Email)
	if len(got) != 1 {
		t.Fatalf("%d messages to %s, want 1", len(got), a.Email)
	}
	msg := mp.Message(t, got[0].ID)
	if msg.Subject != "Reset your Keyhold password" || !strings.Contains(msg.Text, "https://keys.example.com/password/reset/"+token) ||
		!strings.Contains(msg.HTML, "/password/reset/"+token) || msg.From.Address != "keyhold@localhost" {
		t.Errorf("message: %+v", msg)
	}
}

// TestMailRolledBackWithItsChange: when the change fails, its mail is not
// queued either.
func TestMailRolledBackWithItsChange(t *testing.T) {
	db := open(t, "sqlite")
	q := instance(t, db, mail.Server{Host: "127.0.0.1", Port: closedPort(t), Security: mail.Plain})
	o, err := mail.NewOutbox(q, secret)
	if err != nil {
		t.Fatal(err)
	}
	db.SetOutbox(o)
	now := time.Now().UTC()
	tok := &auth.EmailToken{Hash: auth.TokenHash("x"), UserID: "no-such-user", Purpose: auth.PurposeVerifyEmail, Email: "x@example.com", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.SaveEmailToken(context.Background(), tok, &auth.Mail{Kind: auth.PurposeVerifyEmail, To: "x@example.com", Token: "x"}); err == nil {
		t.Fatal("a token of a user who does not exist was saved")
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d jobs queued by a change that rolled back", n)
	}
}

// TestMailOnceWithTwoInstances: two Keyhold instances (two River clients)
// on one PostgreSQL database work the same queue, and every mail arrives
// exactly once.
func TestMailOnceWithTwoInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	mp := testenv.StartMailpit(t, 0)
	smtp := mail.Server{Host: "127.0.0.1", Port: mp.SMTPPort, Security: mail.Plain}
	db := open(t, "postgres")
	q1 := instance(t, db, smtp)
	q2 := instance(t, db, smtp)
	o, err := mail.NewOutbox(q1, secret)
	if err != nil {
		t.Fatal(err)
	}
	db.SetOutbox(o)
	const n = 20
	start := time.Now()
	ids := make([]int64, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range n {
		a := account(t, db, fmt.Sprintf("twice-%d@example.com", i))
		wg.Go(func() {
			id := queueReset(t, db, a, fmt.Sprintf("token-%02d-000000000000000000000000000000", i))
			mu.Lock()
			ids[i] = id
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, id := range ids {
		waitJob(ctx, t, q2, id, rivertype.JobStateCompleted)
	}
	all := mp.Messages(t)
	if len(all) != n {
		t.Fatalf("%d messages for %d mails", len(all), n)
	}
	seen := map[string]int{}
	for _, m := range all {
		seen[m.To[0].Address]++
	}
	for i := range n {
		if c := seen[fmt.Sprintf("twice-%d@example.com", i)]; c != 1 {
			t.Errorf("twice-%d@example.com got %d mails", i, c)
		}
	}
	// Both instances worked: otherwise the test proves nothing about two.
	var workers int
	if err := db.SQL().QueryRow(`SELECT COUNT(DISTINCT attempted_by[1]) FROM river_job`).Scan(&workers); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d mails queued and sent by %d instances in %v", n, workers, time.Since(start))
}

// TestMailKeptAcrossRestart: a mail queued by an instance that stops before
// sending it is sent by the next one to start: the job is in the database,
// not in the process.
func TestMailKeptAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := open(t, "sqlite")
	first, err := jobs.New(ctx, jobs.Config{DB: db.SQL(), Logger: quiet}) // queues, never sends
	if err != nil {
		t.Fatal(err)
	}
	o, err := mail.NewOutbox(first, secret)
	if err != nil {
		t.Fatal(err)
	}
	db.SetOutbox(o)
	a := account(t, db, "restart@example.com")
	id := queueReset(t, db, a, "a-token-kept-across-a-restart-00000000000")
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	mp := testenv.StartMailpit(t, 0)
	next := instance(t, db, mail.Server{Host: "127.0.0.1", Port: mp.SMTPPort, Security: mail.Plain})
	if j := waitJob(ctx, t, next, id, rivertype.JobStateCompleted); j.Attempt != 1 {
		t.Errorf("sent on attempt %d", j.Attempt)
	}
	if got := mp.MessagesTo(t, a.Email); len(got) != 1 {
		t.Errorf("%d messages after the restart, want 1", len(got))
	}
}
