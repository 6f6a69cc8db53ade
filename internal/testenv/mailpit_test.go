package testenv_test

import (
	"context"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/testenv"
)

// TestMailpit sends a mail over SMTP to a mailpit of the test's own and
// reads it back through every helper.
func TestMailpit(t *testing.T) {
	mp := testenv.StartMailpit(t, 0)
	if !strings.HasPrefix(mp.SMTPURL(), "smtp+insecure://127.0.0.1:") {
		t.Errorf("SMTPURL %q", mp.SMTPURL())
	}
	body := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nthe body\r\n"
	if err := smtp.SendMail("127.0.0.1:"+strconv.Itoa(mp.SMTPPort), nil, "a@example.com", []string{"b@example.com"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := mp.WaitMessagesTo(ctx, t, "B@example.com", 1)
	if len(got) != 1 || got[0].Subject != "hello" || got[0].From.Address != "a@example.com" {
		t.Fatalf("messages: %+v", got)
	}
	if m := mp.Message(t, got[0].ID); !strings.Contains(m.Text, "the body") {
		t.Errorf("text %q", m.Text)
	}
	if n := len(mp.MessagesTo(t, "c@example.com")); n != 0 {
		t.Errorf("%d messages to another address", n)
	}
	mp.DeleteAll(t)
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d messages after DeleteAll", n)
	}
	if testenv.SharedMailpit(t).API == mp.API {
		t.Error("the shared mailpit is the test's own")
	}
}
