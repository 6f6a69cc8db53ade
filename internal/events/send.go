package events

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of SenderConfig.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultUserAgent = "Keyhold-Webhooks/1"
)

// MaxResponseBytes is how much of an answer's body Send reads and keeps:
// enough for the delivery log's excerpt, and a receiver cannot make a
// delivery worker read a large body.
const MaxResponseBytes = 1024

// SenderConfig configures a Sender.
type SenderConfig struct {
	AllowInsecure bool          // KEYHOLD_WEBHOOKS_ALLOW_INSECURE: loopback addresses may be dialled (private ones never)
	Timeout       time.Duration // whole request; default 10 s
	Resolver      *net.Resolver // nil: net.DefaultResolver (tests pass one they control)
	UserAgent     string        // default "Keyhold-Webhooks/1"

	// afterGuard, for tests, runs on every address the dial guard lets
	// through, before the connection is made; an error stops the dial.
	afterGuard func(network, address string) error
}

// Message is one delivery of an event: ID is the webhook-id (the event id,
// the same on every retry), Body the JSON {"type","timestamp","data"}.
// Timestamp is the webhook-timestamp that is signed: the time of the
// attempt (receivers refuse one more than a few minutes from their clock,
// so a retry hours later must carry its own); zero means now.
type Message struct {
	ID        string
	Timestamp time.Time
	Body      []byte
}

// Result is what one attempt got.
type Result struct {
	Status   int           // HTTP status; 0 when no answer came
	Latency  time.Duration // from the start of the attempt to the answer's body read (or the failure)
	Response string        // the first 1 KiB of the answer body, valid UTF-8
	Err      error         // nil when an answer came; else why not (timeout, refused address (wraps ErrAddressRefused), connection error); never contains the secret
}

// Delivered reports whether the receiver accepted the message: a 2xx.
func (r Result) Delivered() bool { return r.Status >= 200 && r.Status <= 299 }

// Gone reports a 410: the endpoint asks to be disabled.
func (r Result) Gone() bool { return r.Status == http.StatusGone }

// Sender POSTs signed messages to webhook endpoints. It is safe for
// concurrent use, and keeps connections for reuse: make one and share it.
type Sender struct {
	secure    *http.Client // https: public addresses, and loopback when insecure is allowed
	plain     *http.Client // http: loopback only, and only when insecure is allowed
	timeout   time.Duration
	userAgent string
}

// NewSender returns a Sender configured by c.
func NewSender(c SenderConfig) *Sender {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	client := func(rule guardRule) *http.Client {
		return &http.Client{
			Transport: &http.Transport{
				// No proxy from the environment: a proxy would dial on
				// our behalf, out of the dial guard's sight.
				Proxy:                  nil,
				DialContext:            dialer(rule, c.Resolver, c.Timeout, c.afterGuard).DialContext,
				TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:    c.Timeout,
				ForceAttemptHTTP2:      true,
				MaxIdleConns:           100,
				MaxIdleConnsPerHost:    4,
				IdleConnTimeout:        90 * time.Second,
				MaxResponseHeaderBytes: 64 << 10,
			},
			// A redirect is not followed: it would take the signed
			// message to a URL nobody checked. The 3xx is the answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{
		secure:    client(guardRule{allowLoopback: c.AllowInsecure}),
		plain:     client(guardRule{allowLoopback: c.AllowInsecure, loopbackOnly: true}),
		timeout:   c.Timeout,
		userAgent: c.UserAgent,
	}
}

// Send POSTs m to url with Content-Type application/json and the headers
// webhook-id, webhook-timestamp, webhook-signature; follows no redirect (a
// 3xx is a failed attempt with its status); reads at most 1 KiB of the
// answer; the dial guard refuses, at connect time (net.Dialer.Control on
// the address actually dialled, so a DNS answer that changes between a
// check and the dial cannot get through), private, link-local, metadata,
// unspecified, multicast and (unless AllowInsecure) loopback addresses;
// proxies from the environment are NOT used.
//
// Plain http is dialled only to loopback and only with AllowInsecure,
// whatever the host name resolves to. Err never holds the URL (its path
// or query may carry the receiver's token) nor the key.
func (s *Sender) Send(ctx context.Context, rawURL string, key []byte, m Message) Result {
	start := time.Now()
	fail := func(err error) Result { return Result{Latency: time.Since(start), Err: err} }
	if len(key) == 0 {
		return fail(errors.New("events: send: no signing key"))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail(errors.New("events: send: the endpoint URL does not parse"))
	}
	var client *http.Client
	switch u.Scheme {
	case "https":
		client = s.secure
	case "http":
		client = s.plain
	default:
		return fail(fmt.Errorf("events: send: scheme %q is not http or https", u.Scheme))
	}
	if u.User != nil {
		return fail(errors.New("events: send: the endpoint URL carries a user name or password"))
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = start
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return fail(fmt.Errorf("events: send: %w", stripURL(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(key, m.ID, ts, m.Body))

	resp, err := client.Do(req)
	if err != nil {
		err = stripURL(err)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fail(fmt.Errorf("events: send: no answer within %s: %w", s.timeout, err))
		}
		return fail(fmt.Errorf("events: send: %w", err))
	}
	defer resp.Body.Close()
	// Read errors (the receiver stalls or drops the body) are ignored:
	// the status is the answer; the excerpt is what came before.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	return Result{Status: resp.StatusCode, Latency: time.Since(start), Response: excerpt(b)}
}

// stripURL unwraps the *url.Error the client wraps every failure in: its
// text repeats the URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// excerpt returns b as valid UTF-8 of at most MaxResponseBytes bytes: a
// rune cut by the limit is dropped and invalid bytes become U+FFFD.
func excerpt(b []byte) string {
	// Drop an incomplete rune at the end: the read limit cut it.
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		if r := b[len(b)-i]; utf8.RuneStart(r) {
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > MaxResponseBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
