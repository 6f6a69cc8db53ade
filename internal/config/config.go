// Package config reads Keyhold's configuration from the environment once,
// validates it, and hands typed values to the rest of the program. A bad
// value is reported in one line that names the variable.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is Keyhold's whole configuration. Fields map one to one to the
// variables in DESIGN.md "Configuration".
type Config struct {
	Addr                string         // KEYHOLD_ADDR
	BaseURL             *url.URL       // KEYHOLD_BASE_URL; unset: DefaultBaseURL(Addr)
	DatabaseURL         string         // KEYHOLD_DATABASE_URL: sqlite://PATH or postgres://…
	RedisURL            string         // KEYHOLD_REDIS_URL; empty: no Redis
	Secret              []byte         // KEYHOLD_SECRET; nil: generated once and kept in the database
	PlansFile           string         // KEYHOLD_PLANS_FILE; empty: built-in catalog
	StripeSecretKey     string         // STRIPE_SECRET_KEY; empty: billing off
	StripeWebhookSecret string         // STRIPE_WEBHOOK_SECRET; empty: webhooks refused
	StripeAPIBase       string         // STRIPE_API_BASE; empty: Stripe's own
	LogLevel            slog.Level     // KEYHOLD_LOG_LEVEL
	LogFormat           string         // KEYHOLD_LOG_FORMAT: "text" or "json"
	TrustedProxies      []netip.Prefix // KEYHOLD_TRUSTED_PROXIES
	UsageFlushInterval  time.Duration  // KEYHOLD_USAGE_FLUSH_INTERVAL
	// MetricsToken is KEYHOLD_METRICS_TOKEN: when set, /metrics answers
	// only requests with "Authorization: Bearer <token>". At least
	// MinMetricsTokenLen characters of the RFC 6750 token alphabet
	// (A–Z a–z 0–9 - . _ ~ + / and trailing =), so that hex or base64
	// output fits; empty leaves /metrics open.
	MetricsToken string
	// TokenAudiences is KEYHOLD_TOKEN_AUDIENCES, comma-separated: the aud
	// values /v1/tokens may issue for, the first the default. Empty: only
	// the base URL without its trailing slash (see tokens.Config).
	TokenAudiences []string
	// SMTP is KEYHOLD_SMTP_URL parsed; nil: email is off.
	SMTP *SMTP
	// EmailFrom is KEYHOLD_EMAIL_FROM, the From of every mail.
	EmailFrom *mail.Address
	// RequireVerifiedEmail is KEYHOLD_REQUIRE_VERIFIED_EMAIL: unverified
	// users may sign in but not create keys.
	RequireVerifiedEmail bool
	// WebhooksAllowInsecure is KEYHOLD_WEBHOOKS_ALLOW_INSECURE: webhook
	// endpoints may be plain http:// to a loopback host, and deliveries
	// may dial loopback addresses (never private ones), for a receiver on
	// the same machine in development and tests.
	WebhooksAllowInsecure bool
	// BaseURLDerived is true when KEYHOLD_BASE_URL is unset and BaseURL
	// was derived from Addr, so that serve can derive it again from the
	// address actually bound (KEYHOLD_ADDR's port may be 0).
	BaseURLDerived bool
}

// SMTP security modes of KEYHOLD_SMTP_URL, by its scheme.
const (
	SMTPStartTLS = "starttls" // smtp://: STARTTLS when the server offers it
	SMTPTLS      = "tls"      // smtps://: TLS from the first byte
	SMTPPlain    = "plain"    // smtp+insecure://: no TLS, for a local catcher
)

// SMTP is where mail is sent. Password is a secret: it is never part of an
// error or a log line (String leaves it out).
type SMTP struct {
	Host     string
	Port     int
	Security string // SMTPStartTLS, SMTPTLS or SMTPPlain
	Username string // empty: no authentication
	Password string
}

// String describes the server without its password, for logs.
func (s *SMTP) String() string {
	u := url.URL{Scheme: map[string]string{SMTPStartTLS: "smtp", SMTPTLS: "smtps", SMTPPlain: "smtp+insecure"}[s.Security],
		Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// DefaultEmailFrom is the From of mail when KEYHOLD_EMAIL_FROM is unset.
const DefaultEmailFrom = "Keyhold <keyhold@localhost>"

// Error names the variable whose value is wrong.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s %s", e.Var, e.Reason) }

// DefaultBaseURL is the public URL of a server listening on addr
// (host:port) when KEYHOLD_BASE_URL is unset: that port on this machine,
// so that the links and snippets the portal shows reach it. An address on
// every interface (empty host, 0.0.0.0, ::) is named localhost, which
// both IPv4 and IPv6 reach there; a specific address is named as it is,
// since localhost may resolve to the other family (Node tries ::1 first)
// and miss a server bound to 127.0.0.1 alone. addr must be valid.
func DefaultBaseURL(addr string) *url.URL {
	host, port, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
}

// MinSecretLen is the shortest KEYHOLD_SECRET accepted, in bytes.
const MinSecretLen = 32

// MinMetricsTokenLen is the shortest KEYHOLD_METRICS_TOKEN accepted: 16
// random characters are beyond guessing, and anything shorter is likelier
// a placeholder than a secret.
const MinMetricsTokenLen = 16

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests) and validates it. The first bad variable is returned as an
// *Error.
func Load(getenv func(string) string) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:                get("KEYHOLD_ADDR", ":8080"),
		DatabaseURL:         get("KEYHOLD_DATABASE_URL", "sqlite://keyhold.db"),
		RedisURL:            get("KEYHOLD_REDIS_URL", ""),
		PlansFile:           get("KEYHOLD_PLANS_FILE", ""),
		StripeSecretKey:     get("STRIPE_SECRET_KEY", ""),
		StripeWebhookSecret: get("STRIPE_WEBHOOK_SECRET", ""),
		StripeAPIBase:       get("STRIPE_API_BASE", ""),
		LogFormat:           get("KEYHOLD_LOG_FORMAT", "text"),
	}

	// net.SplitHostPort takes an empty or named port (":", ":http");
	// a listen address here must name its port by number.
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || !isPort(port) {
		return nil, &Error{"KEYHOLD_ADDR", fmt.Sprintf("must be host:port or :port, got %q", c.Addr)}
	}

	base := get("KEYHOLD_BASE_URL", "")
	if base == "" {
		c.BaseURL, c.BaseURLDerived = DefaultBaseURL(c.Addr), true
		base = c.BaseURL.String()
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, &Error{"KEYHOLD_BASE_URL", fmt.Sprintf("must be an absolute http(s) URL with no path, got %q", base)}
	}
	u.Path = ""
	c.BaseURL = u

	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		if strings.TrimPrefix(c.DatabaseURL, "sqlite://") == "" {
			return nil, &Error{"KEYHOLD_DATABASE_URL", "sqlite:// needs a file path, e.g. sqlite://keyhold.db"}
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		if _, err := url.Parse(c.DatabaseURL); err != nil {
			return nil, &Error{"KEYHOLD_DATABASE_URL", "is not a valid postgres:// URL"}
		}
	default:
		return nil, &Error{"KEYHOLD_DATABASE_URL", "must start with sqlite:// or postgres://"}
	}

	if c.RedisURL != "" {
		ru, err := url.Parse(c.RedisURL)
		if err != nil || (ru.Scheme != "redis" && ru.Scheme != "rediss") || ru.Host == "" {
			return nil, &Error{"KEYHOLD_REDIS_URL", "must be a redis:// or rediss:// URL"}
		}
		// A Redis Cluster: redis://host1:port1?addr=host2:port2&addr=…, or
		// cluster=true with one address (verify.DialRedis).
		q := ru.Query()
		for _, a := range q["addr"] {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, &Error{"KEYHOLD_REDIS_URL", fmt.Sprintf("addr=%q must be host:port, a further node of a Redis Cluster", a)}
			}
		}
		if v := q["cluster"]; len(v) > 0 {
			on, err := strconv.ParseBool(v[len(v)-1])
			switch {
			case err != nil:
				return nil, &Error{"KEYHOLD_REDIS_URL", fmt.Sprintf("cluster=%q must be true or false", v[len(v)-1])}
			case !on && q.Has("addr"):
				return nil, &Error{"KEYHOLD_REDIS_URL", "cluster=false with addr=: addr names the further nodes of a Redis Cluster"}
			}
		}
	}

	if s := getenv("KEYHOLD_SECRET"); s != "" {
		if len(s) < MinSecretLen {
			return nil, &Error{"KEYHOLD_SECRET", fmt.Sprintf("must be at least %d bytes long (it is %d)", MinSecretLen, len(s))}
		}
		c.Secret = []byte(s)
	}

	if c.StripeWebhookSecret != "" && !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
		return nil, &Error{"STRIPE_WEBHOOK_SECRET", "must start with whsec_"}
	}
	if c.StripeSecretKey != "" && !strings.HasPrefix(c.StripeSecretKey, "sk_") && !strings.HasPrefix(c.StripeSecretKey, "rk_") {
		return nil, &Error{"STRIPE_SECRET_KEY", "must start with sk_ or rk_"}
	}
	if c.StripeAPIBase != "" {
		su, err := url.Parse(c.StripeAPIBase)
		if err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
			return nil, &Error{"STRIPE_API_BASE", "must be an absolute http(s) URL"}
		}
		c.StripeAPIBase = strings.TrimRight(c.StripeAPIBase, "/")
	}

	lvl := get("KEYHOLD_LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
		return nil, &Error{"KEYHOLD_LOG_LEVEL", fmt.Sprintf("must be debug, info, warn or error, got %q", lvl)}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, &Error{"KEYHOLD_LOG_FORMAT", fmt.Sprintf("must be text or json, got %q", c.LogFormat)}
	}

	if v := get("KEYHOLD_TRUSTED_PROXIES", ""); v != "" {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			p, err := netip.ParsePrefix(part)
			if err != nil {
				a, aerr := netip.ParseAddr(part)
				if aerr != nil {
					return nil, &Error{"KEYHOLD_TRUSTED_PROXIES", fmt.Sprintf("must be a comma-separated list of CIDRs, %q is not one", part)}
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
	}

	if t := get("KEYHOLD_METRICS_TOKEN", ""); t != "" {
		// The value is a secret: the messages say what is wrong, not what
		// was given.
		if len(t) < MinMetricsTokenLen {
			return nil, &Error{"KEYHOLD_METRICS_TOKEN", fmt.Sprintf("must be at least %d characters long (it is %d)", MinMetricsTokenLen, len(t))}
		}
		if !isBearerToken(t) {
			return nil, &Error{"KEYHOLD_METRICS_TOKEN", "may contain only A-Z a-z 0-9 - . _ ~ + / and trailing = (e.g. openssl rand -hex 32)"}
		}
		c.MetricsToken = t
	}

	if v := get("KEYHOLD_TOKEN_AUDIENCES", ""); v != "" {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if len(part) > 255 || strings.ContainsAny(part, " \t\"") {
				return nil, &Error{"KEYHOLD_TOKEN_AUDIENCES", fmt.Sprintf("must be a comma-separated list of audiences (URLs or names, no spaces or quotes, at most 255 characters each), %q is not one", part)}
			}
			c.TokenAudiences = append(c.TokenAudiences, part)
		}
	}

	flush := get("KEYHOLD_USAGE_FLUSH_INTERVAL", "1s")
	d, err := time.ParseDuration(flush)
	if err != nil || d < 10*time.Millisecond || d > time.Hour {
		return nil, &Error{"KEYHOLD_USAGE_FLUSH_INTERVAL", fmt.Sprintf("must be a duration between 10ms and 1h, got %q", flush)}
	}
	c.UsageFlushInterval = d

	if v := get("KEYHOLD_SMTP_URL", ""); v != "" {
		smtp, err := parseSMTP(v)
		if err != nil {
			return nil, err
		}
		c.SMTP = smtp
	}
	from := get("KEYHOLD_EMAIL_FROM", DefaultEmailFrom)
	fa, err := mail.ParseAddress(from)
	if err != nil {
		return nil, &Error{"KEYHOLD_EMAIL_FROM", fmt.Sprintf("must be an address like %q, got %q", DefaultEmailFrom, from)}
	}
	c.EmailFrom = fa
	switch v := get("KEYHOLD_REQUIRE_VERIFIED_EMAIL", "false"); v {
	case "true":
		if c.SMTP == nil {
			return nil, &Error{"KEYHOLD_REQUIRE_VERIFIED_EMAIL", "needs KEYHOLD_SMTP_URL: without email nobody can verify an address"}
		}
		c.RequireVerifiedEmail = true
	case "false":
	default:
		return nil, &Error{"KEYHOLD_REQUIRE_VERIFIED_EMAIL", fmt.Sprintf("must be true or false, got %q", v)}
	}
	switch v := get("KEYHOLD_WEBHOOKS_ALLOW_INSECURE", "false"); v {
	case "true":
		c.WebhooksAllowInsecure = true
	case "false":
	default:
		return nil, &Error{"KEYHOLD_WEBHOOKS_ALLOW_INSECURE", fmt.Sprintf("must be true or false, got %q", v)}
	}
	return c, nil
}

// parseSMTP reads KEYHOLD_SMTP_URL. Its messages never repeat the value:
// it may carry the SMTP password.
func parseSMTP(v string) (*SMTP, error) {
	bad := func(reason string) error { return &Error{"KEYHOLD_SMTP_URL", reason} }
	u, err := url.Parse(v)
	if err != nil {
		return nil, bad("is not a URL; use smtp://user:pass@host:port, smtps://… or smtp+insecure://host:port")
	}
	s := &SMTP{}
	switch u.Scheme {
	case "smtp":
		s.Security, s.Port = SMTPStartTLS, 587
	case "smtps":
		s.Security, s.Port = SMTPTLS, 465
	case "smtp+insecure":
		s.Security, s.Port = SMTPPlain, 25
	default:
		return nil, bad("must start with smtp://, smtps:// or smtp+insecure://")
	}
	if s.Host = u.Hostname(); s.Host == "" {
		return nil, bad("needs a host, e.g. smtp://user:pass@mail.example.com:587")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("has a port that is not a number from 1 to 65535")
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("takes no path or query, only scheme://user:pass@host:port")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return nil, bad("has a password but no user name")
		}
	}
	return s, nil
}

// SecureCookies reports whether cookies must carry the Secure flag: the
// public URL is https.
func (c *Config) SecureCookies() bool { return c.BaseURL.Scheme == "https" }

// isBearerToken reports whether t is an RFC 6750 b64token, the form a
// bearer token takes in an Authorization header.
func isBearerToken(t string) bool {
	end := len(strings.TrimRight(t, "="))
	if end == 0 {
		return false
	}
	for i := range end {
		switch b := t[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-' || b == '.' || b == '_' || b == '~' || b == '+' || b == '/':
		default:
			return false
		}
	}
	return true
}

// isPort reports whether p is a TCP port number, 0 to 65535.
func isPort(p string) bool {
	_, err := strconv.ParseUint(p, 10, 16)
	return err == nil
}
