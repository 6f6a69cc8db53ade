package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MailpitVersion is the mailpit release the tests are written for.
const MailpitVersion = "v1.33.1"

// Mailpit is a running mailpit: an SMTP server that keeps what it is sent
// and shows it through an HTTP API.
type Mailpit struct {
	// SMTPPort is the port of its SMTP server on 127.0.0.1 (plain, any or
	// no authentication accepted).
	SMTPPort int
	// API is the base URL of its HTTP API, http://127.0.0.1:PORT.
	API string
	p   *proc
}

// SMTPURL is the KEYHOLD_SMTP_URL that sends to this mailpit.
func (m *Mailpit) SMTPURL() string { return "smtp+insecure://127.0.0.1:" + strconv.Itoa(m.SMTPPort) }

// Stop stops the mailpit.
func (m *Mailpit) Stop() { m.p.stop(syscall.SIGTERM) }

var mailpitOnce once[*Mailpit]

// SharedMailpit returns the mailpit of this test binary, started on first
// use and stopped by Main. Tests sharing it tell their mail apart by
// recipient ([Mailpit.MessagesTo]) rather than deleting each other's.
func SharedMailpit(tb testing.TB) *Mailpit {
	tb.Helper()
	requireMain(tb)
	m, err := mailpitOnce.get(func() (*Mailpit, error) {
		m, err := startMailpit(0)
		if err == nil {
			onStop(m.Stop)
		}
		return m, err
	})
	if err != nil {
		fail(tb, err)
	}
	return m
}

// StartMailpit starts a mailpit of the test's own, with its SMTP server on
// smtpPort (0: a free one), stopped when the test ends or by Stop: for
// tests that take SMTP down and bring it back on the same port.
func StartMailpit(tb testing.TB, smtpPort int) *Mailpit {
	tb.Helper()
	requireMain(tb)
	m, err := startMailpit(smtpPort)
	if err != nil {
		fail(tb, err)
	}
	tb.Cleanup(m.Stop)
	return m
}

func startMailpit(smtpPort int) (*Mailpit, error) {
	bin := lookFor("mailpit")
	if bin == "" {
		if gp := findGoBin("mailpit"); gp != "" {
			bin = gp
		}
	}
	if bin == "" {
		return nil, notInstalled("mailpit", "go install github.com/axllent/mailpit@"+MailpitVersion+", with $(go env GOPATH)/bin on PATH")
	}
	root, err := rootDir()
	if err != nil {
		return nil, err
	}
	fixed := smtpPort != 0
	for try := 0; ; try++ {
		sp := smtpPort
		if !fixed {
			if sp, err = freePort(); err != nil {
				return nil, err
			}
		}
		hp, err := freePort()
		if err != nil {
			return nil, err
		}
		db := filepath.Join(root, fmt.Sprintf("mailpit-%d-%d.db", sp, hp))
		cmd := exec.Command(bin, "--smtp", "127.0.0.1:"+strconv.Itoa(sp), "--listen", "127.0.0.1:"+strconv.Itoa(hp),
			"--database", db, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check", "--quiet")
		p, err := startProc("mailpit", cmd)
		if err != nil {
			return nil, err
		}
		m := &Mailpit{SMTPPort: sp, API: "http://127.0.0.1:" + strconv.Itoa(hp), p: p}
		client := &http.Client{Timeout: 2 * time.Second}
		err = p.waitReady(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(sp), time.Second)
			if err != nil {
				return err
			}
			c.Close()
			resp, err := client.Get(m.API + "/api/v1/messages")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /api/v1/messages answered %s", resp.Status)
			}
			return nil
		})
		if err == nil {
			return m, nil
		}
		p.stop(syscall.SIGKILL)
		if !p.portInUse() || try >= 3 || fixed {
			return nil, fmt.Errorf("mailpit: %w", err)
		}
	}
}

// findGoBin looks for a program that go install put in $GOPATH/bin.
func findGoBin(name string) string {
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(gp, "bin", name); isExecutable(p) {
				return p
			}
		}
	}
	return ""
}

// MailAddress is an address as mailpit shows it.
type MailAddress struct {
	Name    string
	Address string
}

// MailSummary is a message in mailpit's list.
type MailSummary struct {
	ID        string
	MessageID string
	From      MailAddress
	To        []MailAddress
	Subject   string
}

// MailMessage is a whole message.
type MailMessage struct {
	MailSummary
	Text string
	HTML string
}

// Messages returns every message mailpit holds, newest first
// (/api/v1/messages).
func (m *Mailpit) Messages(tb testing.TB) []MailSummary {
	tb.Helper()
	var list struct {
		Messages []MailSummary `json:"messages"`
	}
	m.get(tb, "/api/v1/messages?limit=1000", &list)
	return list.Messages
}

// MessagesTo returns the messages to address, newest first.
func (m *Mailpit) MessagesTo(tb testing.TB, address string) []MailSummary {
	tb.Helper()
	var out []MailSummary
	for _, s := range m.Messages(tb) {
		for _, to := range s.To {
			if strings.EqualFold(to.Address, address) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// Message returns a whole message by its mailpit ID
// (/api/v1/message/{ID}).
func (m *Mailpit) Message(tb testing.TB, id string) MailMessage {
	tb.Helper()
	var msg MailMessage
	m.get(tb, "/api/v1/message/"+id, &msg)
	return msg
}

// WaitMessagesTo waits until mailpit holds at least n messages to address
// and returns them, newest first; it fails the test when ctx ends first.
func (m *Mailpit) WaitMessagesTo(ctx context.Context, tb testing.TB, address string, n int) []MailSummary {
	tb.Helper()
	for {
		if got := m.MessagesTo(tb, address); len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("testenv: mailpit: %d message(s) to %s, waited for %d: %v", len(m.MessagesTo(tb, address)), address, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DeleteAll deletes every message (DELETE /api/v1/messages).
func (m *Mailpit) DeleteAll(tb testing.TB) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodDelete, m.API+"/api/v1/messages", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("testenv: mailpit: delete all: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("testenv: mailpit: delete all answered %s", resp.Status)
	}
}

func (m *Mailpit) get(tb testing.TB, path string, v any) {
	tb.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		tb.Fatalf("testenv: mailpit: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("testenv: mailpit: GET %s answered %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tb.Fatalf("testenv: mailpit: GET %s: %v", path, err)
	}
}
