// Package mail sends Keyhold's email: it renders the mails of the email
// journeys (templates.Mail, templates.MailHTML), queues them as jobs
// (internal/jobs) in the transaction of the change that calls for them, and
// a worker sends them over SMTP (go-mail), retried with backoff.
//
// A job's arguments sit in River's table and may be printed by whoever
// looks at it (an operator's SQL console, a backup, River's own tools), so
// the token a link carries is sealed in them (AES-GCM under a key derived
// from the instance secret) and opened only by the worker, just before it
// renders the mail. The link itself is never in a job, a log line or an
// error.
package mail

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/riverqueue/river"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/templates"
)

// Args is a mail job's arguments: which mail, to whom, and the sealed token
// of its link.
type Args struct {
	Mail      string    `json:"mail"` // auth.PurposePasswordReset, …, auth.MailEmailChanged
	To        string    `json:"to"`
	Sealed    string    `json:"sealed,omitempty"` // the link's token, sealed; see the package doc
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	NewEmail  string    `json:"new_email,omitempty"`
	// KindInvitation: the account invited to, the inviter's email and
	// the role offered.
	Account string `json:"account,omitempty"`
	Inviter string `json:"inviter,omitempty"`
	Role    string `json:"role,omitempty"`
	// KindNoticeQuota and KindNoticeExpiry: the key (by id and name,
	// never its secret) and the threshold or expiry.
	KeyID        string    `json:"key_id,omitempty"`
	KeyName      string    `json:"key_name,omitempty"`
	Percent      int       `json:"percent,omitempty"`
	Used         int64     `json:"used,omitempty"`
	Limit        int64     `json:"limit,omitempty"`
	WindowEnd    time.Time `json:"window_end,omitzero"`
	KeyExpiresAt time.Time `json:"key_expires_at,omitzero"`
	Days         int       `json:"days,omitempty"`
	// Pooled: KindNoticeQuota of the account's shared quota, naming no
	// key; its link is the dashboard.
	Pooled bool `json:"pooled,omitempty"`
}

// KindInvitation is the mail of a team invitation (team.InvitationMail).
const KindInvitation = "invitation"

// Kinds of the notice mails (notices.Mail): a quota threshold, an expiry.
const (
	KindNoticeQuota  = "notice_quota"
	KindNoticeExpiry = "notice_expiry"
)

// Kind implements river.JobArgs.
func (Args) Kind() string { return "mail" }

// Inserter puts a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs) (int64, error)
}

// sealer seals and opens tokens.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (sealer, error) {
	block, err := aes.NewCipher(auth.DeriveKey(secret, "mail-job-token"))
	if err != nil {
		return sealer{}, fmt.Errorf("mail: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("mail: %w", err)
	}
	return sealer{aead}, nil
}

// seal returns token sealed with a random nonce; the kind and recipient
// are the additional data, so a sealed token cannot be moved to another
// mail.
func (s sealer) seal(token, kind, to string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out := s.aead.Seal(nonce, nonce, []byte(token), []byte(kind+"\x00"+to))
	return base64.RawStdEncoding.EncodeToString(out)
}

var errSealed = errors.New("mail: the sealed token does not open (was KEYHOLD_SECRET changed?)")

func (s sealer) open(sealed, kind, to string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errSealed
	}
	n := s.aead.NonceSize()
	token, err := s.aead.Open(nil, b[:n], b[n:], []byte(kind+"\x00"+to))
	if err != nil {
		return "", errSealed
	}
	return string(token), nil
}

// Outbox queues mail as jobs; it implements store.Outbox.
type Outbox struct {
	jobs   Inserter
	sealer sealer
}

// NewOutbox returns an Outbox inserting into jobs, sealing tokens with a
// key derived from secret.
func NewOutbox(jobs Inserter, secret []byte) (*Outbox, error) {
	s, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	return &Outbox{jobs: jobs, sealer: s}, nil
}

// QueueTx queues m in tx.
func (o *Outbox) QueueTx(ctx context.Context, tx *sql.Tx, m auth.Mail) error {
	a := Args{Mail: m.Kind, To: m.To, ExpiresAt: m.ExpiresAt, NewEmail: m.NewEmail}
	if m.Token != "" {
		a.Sealed = o.sealer.seal(m.Token, m.Kind, m.To)
	}
	_, err := o.jobs.InsertTx(ctx, tx, a)
	return err
}

// QueueInvitationTx queues an invitation's mail in tx (store.Outbox).
func (o *Outbox) QueueInvitationTx(ctx context.Context, tx *sql.Tx, m team.InvitationMail) error {
	a := Args{Mail: KindInvitation, To: m.To, ExpiresAt: m.ExpiresAt, Account: m.AccountName, Inviter: m.InviterMail, Role: string(m.Role),
		Sealed: o.sealer.seal(m.Token, KindInvitation, m.To)}
	_, err := o.jobs.InsertTx(ctx, tx, a)
	return err
}

// QueueNoticeTx queues a notice mail in tx (store.Outbox). It has no
// link token: its link is the key's page.
func (o *Outbox) QueueNoticeTx(ctx context.Context, tx *sql.Tx, m notices.Mail) error {
	a := Args{Mail: KindNoticeQuota, To: m.To, Account: m.AccountName, KeyID: m.KeyID, KeyName: m.KeyName,
		Percent: m.Percent, Used: m.Used, Limit: m.Limit, WindowEnd: m.WindowEnd, Pooled: m.Pooled}
	if m.Kind == notices.KindExpiry {
		a = Args{Mail: KindNoticeExpiry, To: m.To, Account: m.AccountName, KeyID: m.KeyID, KeyName: m.KeyName,
			KeyExpiresAt: m.ExpiresAt, Days: m.Days}
	}
	_, err := o.jobs.InsertTx(ctx, tx, a)
	return err
}

// Message is a rendered mail.
type Message struct {
	To, Subject, Text, HTML string
}

// linkPaths are the portal paths of each kind's link, before the token.
var linkPaths = map[string]string{
	auth.PurposePasswordReset: "/password/reset/",
	auth.PurposeVerifyEmail:   "/email/verify/",
	auth.PurposeChangeEmail:   "/email/change/",
	KindInvitation:            "/invitations/",
}

// Link returns the absolute link of a token for a kind of mail: base is
// KEYHOLD_BASE_URL.
func Link(base *url.URL, kind, token string) string {
	return base.String() + linkPaths[kind] + token
}

// Render renders the mail a describes, with the token of its link.
func Render(base *url.URL, a Args, token string) (Message, error) {
	switch a.Mail {
	case KindInvitation:
		return renderInvitation(base, a, token)
	case KindNoticeQuota, KindNoticeExpiry:
		return renderNotice(base, a)
	}
	v := templates.MailView{Kind: a.Mail, To: a.To, Expires: a.ExpiresAt, NewEmail: a.NewEmail, BaseURL: base.String()}
	if _, ok := linkPaths[a.Mail]; ok {
		if token == "" {
			return Message{}, fmt.Errorf("mail: a %s mail without its token", a.Mail)
		}
		v.Link = Link(base, a.Mail, token)
	}
	subject, text, err := templates.Mail(v)
	if err != nil {
		return Message{}, err
	}
	var html bytes.Buffer
	if err := templates.MailHTML(v).Render(context.Background(), &html); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", a.Mail, err)
	}
	return Message{To: a.To, Subject: subject, Text: text, HTML: html.String()}, nil
}

// renderInvitation renders an invitation's mail, whose words need more
// than templates.MailView carries.
func renderInvitation(base *url.URL, a Args, token string) (Message, error) {
	if token == "" {
		return Message{}, fmt.Errorf("mail: a %s mail without its token", a.Mail)
	}
	v := templates.InvitationMailView{To: a.To, AccountName: a.Account, InvitedBy: a.Inviter, Role: a.Role,
		Link: Link(base, a.Mail, token), Expires: a.ExpiresAt, BaseURL: base.String()}
	subject, text := templates.InvitationMail(v)
	var html bytes.Buffer
	if err := templates.InvitationMailHTML(v).Render(context.Background(), &html); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", a.Mail, err)
	}
	return Message{To: a.To, Subject: subject, Text: text, HTML: html.String()}, nil
}

// renderNotice renders a notice mail.
func renderNotice(base *url.URL, a Args) (Message, error) {
	v := templates.NoticeMailView{Kind: notices.KindQuota, To: a.To, AccountName: a.Account, KeyName: a.KeyName,
		Link: base.String() + "/keys/" + url.PathEscape(a.KeyID), AccountLink: base.String() + "/account", BaseURL: base.String(),
		Percent: a.Percent, Used: a.Used, Limit: a.Limit, WindowEnd: a.WindowEnd, ExpiresAt: a.KeyExpiresAt, Days: a.Days}
	if a.Mail == KindNoticeExpiry {
		v.Kind = notices.KindExpiry
	} else if a.Pooled {
		// The shared quota is the account's: its page is the dashboard,
		// where the pool's bar is.
		v.Pooled, v.Link = true, base.String()+"/dashboard"
	}
	subject, text := templates.NoticeMail(v)
	var html bytes.Buffer
	if err := templates.NoticeMailHTML(v).Render(context.Background(), &html); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", a.Mail, err)
	}
	return Message{To: a.To, Subject: subject, Text: text, HTML: html.String()}, nil
}

// Sender delivers a rendered mail; id is stable across retries of one job
// (the Message-ID is made from it).
type Sender interface {
	Send(ctx context.Context, id string, m Message) error
}

// Server is an SMTP server as KEYHOLD_SMTP_URL names it. Its fields are
// config.SMTP's, so the command converts one into the other; mail does not
// read configuration itself.
type Server struct {
	Host     string
	Port     int
	Security string // StartTLS, TLS or Plain
	Username string // empty: no authentication
	Password string
}

// Security of a Server, spelled as config spells them.
const (
	StartTLS = "starttls" // STARTTLS when the server offers it
	TLS      = "tls"      // TLS from the first byte
	Plain    = "plain"    // no TLS, for a local catcher
)

// SMTP sends through an SMTP server with go-mail.
type SMTP struct {
	server Server
	from   *mail.Address
	domain string // of the Message-IDs
}

// NewSMTP returns a Sender for server, sending from from.
func NewSMTP(server Server, from *mail.Address) *SMTP {
	domain := "keyhold.invalid"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		domain = from.Address[at+1:]
	}
	return &SMTP{server: server, from: from, domain: domain}
}

// Send implements Sender: one connection per mail (mail is rare; a pool
// would hold a connection the server drops anyway).
func (s *SMTP) Send(ctx context.Context, id string, m Message) error {
	opts := []gomail.Option{gomail.WithPort(s.server.Port), gomail.WithTimeout(20 * time.Second)}
	switch s.server.Security {
	case TLS:
		opts = append(opts, gomail.WithSSL())
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.server.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.server.Username), gomail.WithPassword(s.server.Password))
	}
	c, err := gomail.NewClient(s.server.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(s.from.Name, s.from.Address); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(id + "@" + s.domain)
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s:%d: %w", s.server.Host, s.server.Port, scrub(err, s.server.Password))
	}
	return nil
}

// scrub keeps the SMTP password out of an error that might quote it.
func scrub(err error, password string) error {
	if password != "" && bytes.Contains([]byte(err.Error()), []byte(password)) {
		return errors.New("SMTP error (its text held the password and was dropped)")
	}
	return err
}

// Worker sends mail jobs.
type Worker struct {
	river.WorkerDefaults[Args]
	sender Sender
	sealer sealer
	base   *url.URL
	log    *slog.Logger
	now    func() time.Time
}

// NewWorker returns the worker of mail jobs: it opens tokens sealed with
// secret, links to base, and sends through sender.
func NewWorker(sender Sender, secret []byte, base *url.URL, log *slog.Logger) (*Worker, error) {
	s, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	return &Worker{sender: sender, sealer: s, base: base, log: log, now: time.Now}, nil
}

// Work implements river.Worker. A link that expired while its mail waited
// (SMTP down for longer than the link lasts) is not sent: it would not
// work.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	a := job.Args
	if !a.ExpiresAt.IsZero() && !w.now().Before(a.ExpiresAt) {
		w.log.Info("mail not sent: its link expired while it waited", "kind", a.Mail, "job_id", job.ID, "attempt", job.Attempt)
		return nil
	}
	var token string
	if a.Sealed != "" {
		var err error
		if token, err = w.sealer.open(a.Sealed, a.Mail, a.To); err != nil {
			// No retry opens it: cancel rather than try for days.
			return river.JobCancel(err)
		}
	}
	m, err := Render(w.base, a, token)
	if err != nil {
		return river.JobCancel(err)
	}
	if err := w.sender.Send(ctx, fmt.Sprintf("keyhold-mail-%d", job.ID), m); err != nil {
		return err
	}
	w.log.Info("mail sent", "kind", a.Mail, "job_id", job.ID, "attempt", job.Attempt)
	return nil
}

// Timeout bounds one attempt.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return 30 * time.Second }

// Register adds the mail worker to workers.
func Register(workers *river.Workers, w *Worker) { river.AddWorker(workers, w) }
