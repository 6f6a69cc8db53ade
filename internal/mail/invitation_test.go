package mail_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/team"
)

// sent is a Sender that keeps what it is given.
type sent struct{ msgs []mail.Message }

func (s *sent) Send(_ context.Context, _ string, m mail.Message) error {
	s.msgs = append(s.msgs, m)
	return nil
}

// TestInvitationMail queues an invitation through the Outbox (the token
// sealed in the job's arguments), works the job as River would, and checks
// the mail: it links to {base}/invitations/{token}, names the account, the
// inviter and the role, shows the token nowhere but in its link, and holds
// nothing shaped like a key.
func TestInvitationMail(t *testing.T) {
	r := &recorder{}
	o, err := mail.NewOutbox(r, secret)
	if err != nil {
		t.Fatal(err)
	}
	token := "inv1tat1onTOKENinv1tat1onTOKENinv1tat1onTO"
	m := team.InvitationMail{To: "bob@example.com", Token: token, AccountName: "Acme Robotics",
		InviterMail: "ada@example.com", Role: team.Developer, ExpiresAt: time.Now().Add(team.InvitationTTL)}
	if err := o.QueueInvitationTx(context.Background(), nil, m); err != nil {
		t.Fatal(err)
	}
	args := r.args[0].(mail.Args)
	if args.Sealed == "" || strings.Contains(args.Sealed, token) || args.Mail != mail.KindInvitation {
		t.Fatalf("job args %+v: the token must be sealed", args)
	}
	s := &sent{}
	w, err := mail.NewWorker(s, secret, base, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Work(context.Background(), &river.Job[mail.Args]{JobRow: &rivertype.JobRow{ID: 7}, Args: args}); err != nil {
		t.Fatal(err)
	}
	if len(s.msgs) != 1 {
		t.Fatalf("%d mails sent", len(s.msgs))
	}
	got := s.msgs[0]
	if got.To != "bob@example.com" || got.Subject != "Join Acme Robotics on Keyhold" {
		t.Errorf("to %q, subject %q", got.To, got.Subject)
	}
	link := "https://keys.example.com/invitations/" + token
	for name, body := range map[string]string{"text": got.Text, "html": got.HTML} {
		for _, want := range []string{link, "Acme Robotics", "ada@example.com", "a developer", "7 days"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, body)
			}
		}
		rest := strings.ReplaceAll(body, link, "")
		if strings.Contains(rest, token) {
			t.Errorf("%s shows the token outside its link:\n%s", name, body)
		}
		if strings.Contains(rest, "kh_live_") || strings.Contains(rest, "kh_root_") || keys.RedactText(rest) != rest {
			t.Errorf("%s holds a key or its prefix:\n%s", name, body)
		}
	}
}

// TestInvitationMailWording covers the words that vary: no inviter known,
// "an" before admin and owner, and the mail's refusal without a token.
func TestInvitationMailWording(t *testing.T) {
	tests := []struct {
		role, inviter, want string
	}{
		{"admin", "", "You have invited bob@example.com to join the account Acme on Keyhold as an admin."},
		{"owner", "ada@example.com", "ada@example.com has invited bob@example.com to join the account Acme on Keyhold as an owner."},
		{"viewer", "ada@example.com", "as a viewer."},
	}
	for _, tt := range tests {
		a := mail.Args{Mail: mail.KindInvitation, To: "bob@example.com", Account: "Acme", Inviter: tt.inviter, Role: tt.role,
			ExpiresAt: time.Now().Add(24 * time.Hour)}
		m, err := mail.Render(base, a, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, tt.want) || !strings.Contains(m.Text, "for 1 day,") {
			t.Errorf("role %s, inviter %q: text lacks %q:\n%s", tt.role, tt.inviter, tt.want, m.Text)
		}
	}
	if _, err := mail.Render(base, mail.Args{Mail: mail.KindInvitation, To: "bob@example.com"}, ""); err == nil {
		t.Error("an invitation mail without its token rendered")
	}
}

// A notice mail names the key and links to its page; it carries no token
// and no secret.
func TestRenderNoticeMails(t *testing.T) {
	base, _ := url.Parse("https://keys.example.com")
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range []mail.Args{
		{Mail: mail.KindNoticeQuota, To: "o@example.com", Account: "Acme", KeyID: "k1", KeyName: "prod", Percent: 80, Used: 800, Limit: 1000, WindowEnd: end},
		{Mail: mail.KindNoticeQuota, To: "o@example.com", Account: "Acme", KeyID: "k1", KeyName: "prod", Percent: 100, Used: 1000, Limit: 1000, WindowEnd: end},
		{Mail: mail.KindNoticeExpiry, To: "o@example.com", Account: "Acme", KeyID: "k1", KeyName: "prod", KeyExpiresAt: end, Days: 7},
	} {
		m, err := mail.Render(base, a, "")
		if err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		for _, body := range []string{m.Text, m.HTML} {
			if !strings.Contains(body, "https://keys.example.com/keys/k1") || !strings.Contains(body, "prod") || !strings.Contains(body, "/account") {
				t.Errorf("%s %d: body lacks the key's link, name or the preferences link:\n%s", a.Mail, a.Percent, body)
			}
		}
		if !strings.Contains(m.Subject, "prod") || m.To != "o@example.com" {
			t.Errorf("subject %q to %q", m.Subject, m.To)
		}
	}
}
