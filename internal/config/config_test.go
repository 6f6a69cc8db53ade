package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.BaseURL.String() != "http://localhost:8080" || c.DatabaseURL != "sqlite://keyhold.db" {
		t.Errorf("defaults: got %q %q %q", c.Addr, c.BaseURL, c.DatabaseURL)
	}
	if c.LogLevel != slog.LevelInfo || c.LogFormat != "text" || c.UsageFlushInterval != time.Second {
		t.Errorf("defaults: got %v %q %v", c.LogLevel, c.LogFormat, c.UsageFlushInterval)
	}
	if c.Secret != nil || c.SecureCookies() {
		t.Errorf("no secret and no secure cookies by default")
	}
}

// TestDefaultBaseURL checks the one rule for the base URL when
// KEYHOLD_BASE_URL is unset: the port served on, on this machine, so that
// links and the dashboard's snippets reach the server.
func TestDefaultBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://localhost:8080",
		":9000":          "http://localhost:9000",
		"0.0.0.0:9000":   "http://localhost:9000",
		"[::]:9000":      "http://localhost:9000",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"[::1]:9000":     "http://[::1]:9000",
		"10.1.2.3:80":    "http://10.1.2.3:80",
		"localhost:7000": "http://localhost:7000",
	} {
		if got := DefaultBaseURL(addr).String(); got != want {
			t.Errorf("DefaultBaseURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestLoadBaseURL checks that Load derives the base URL from KEYHOLD_ADDR
// only when KEYHOLD_BASE_URL is unset, and says that it did.
func TestLoadBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, addr, base string
		want             string
		derived          bool
	}{
		{"defaults", "", "", "http://localhost:8080", true},
		{"other port", ":9000", "", "http://localhost:9000", true},
		{"loopback only", "127.0.0.1:9000", "", "http://127.0.0.1:9000", true},
		{"blank is unset", ":9000", "  ", "http://localhost:9000", true},
		{"set wins", ":9000", "https://keys.example.com", "https://keys.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"KEYHOLD_ADDR": tc.addr, "KEYHOLD_BASE_URL": tc.base}))
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL.String() != tc.want || c.BaseURLDerived != tc.derived {
				t.Errorf("base URL %q (derived %v), want %q (derived %v)", c.BaseURL, c.BaseURLDerived, tc.want, tc.derived)
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"KEYHOLD_ADDR":                 "127.0.0.1:9000",
		"KEYHOLD_BASE_URL":             "https://keys.example.com/",
		"KEYHOLD_DATABASE_URL":         "postgres://u:p@db/keyhold",
		"KEYHOLD_SECRET":               strings.Repeat("s", 32),
		"KEYHOLD_LOG_LEVEL":            "debug",
		"KEYHOLD_LOG_FORMAT":           "json",
		"KEYHOLD_TRUSTED_PROXIES":      "10.0.0.0/8, 192.168.1.7",
		"KEYHOLD_USAGE_FLUSH_INTERVAL": "250ms",
		"STRIPE_API_BASE":              "http://127.0.0.1:12111/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SecureCookies() || c.BaseURL.String() != "https://keys.example.com" {
		t.Errorf("base url: %q", c.BaseURL)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.7/32" {
		t.Errorf("proxies: %v", c.TrustedProxies)
	}
	if c.LogLevel != slog.LevelDebug || c.UsageFlushInterval != 250*time.Millisecond {
		t.Errorf("level/flush: %v %v", c.LogLevel, c.UsageFlushInterval)
	}
	if c.StripeAPIBase != "http://127.0.0.1:12111" {
		t.Errorf("stripe base: %q", c.StripeAPIBase)
	}
}

// TestLoadAddr checks the listen addresses that are accepted as given.
func TestLoadAddr(t *testing.T) {
	for _, addr := range []string{":8080", ":0", "127.0.0.1:9000", "localhost:65535", "[::1]:8080", "[::]:80"} {
		c, err := Load(env(map[string]string{"KEYHOLD_ADDR": addr}))
		if err != nil {
			t.Errorf("KEYHOLD_ADDR=%s: %v", addr, err)
			continue
		}
		if c.Addr != addr {
			t.Errorf("KEYHOLD_ADDR=%s: Addr is %q", addr, c.Addr)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"KEYHOLD_ADDR", "8080"},
		{"KEYHOLD_ADDR", ":http"},
		{"KEYHOLD_ADDR", "localhost:"},
		{"KEYHOLD_ADDR", ":65536"},
		{"KEYHOLD_ADDR", ":-1"},
		{"KEYHOLD_ADDR", "::1:8080"},
		{"KEYHOLD_BASE_URL", "localhost:8080"},
		{"KEYHOLD_BASE_URL", "ftp://x"},
		{"KEYHOLD_BASE_URL", "https://x.example/portal"},
		{"KEYHOLD_DATABASE_URL", "mysql://x"},
		{"KEYHOLD_DATABASE_URL", "sqlite://"},
		{"KEYHOLD_REDIS_URL", "localhost:6379"},
		{"KEYHOLD_REDIS_URL", "redis://10.0.0.1:6379?addr=10.0.0.2"},
		{"KEYHOLD_REDIS_URL", "redis://10.0.0.1:6379?cluster=maybe"},
		{"KEYHOLD_REDIS_URL", "redis://10.0.0.1:6379?cluster=false&addr=10.0.0.2:6379"},
		{"KEYHOLD_SECRET", "short"},
		{"STRIPE_WEBHOOK_SECRET", "secret"},
		{"STRIPE_SECRET_KEY", "pk_test_123"},
		{"STRIPE_API_BASE", "localhost"},
		{"KEYHOLD_LOG_LEVEL", "loud"},
		{"KEYHOLD_LOG_FORMAT", "xml"},
		{"KEYHOLD_TRUSTED_PROXIES", "10.0.0.0/8,nonsense"},
		{"KEYHOLD_USAGE_FLUSH_INTERVAL", "soon"},
		{"KEYHOLD_USAGE_FLUSH_INTERVAL", "1ns"},
		{"KEYHOLD_METRICS_TOKEN", "short"},
		{"KEYHOLD_METRICS_TOKEN", "fifteen-chars-x"},
		{"KEYHOLD_METRICS_TOKEN", "long enough but has spaces"},
		{"KEYHOLD_METRICS_TOKEN", "sixteen-chars-ok\u00e9"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			if ce.Var != tt.name || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

func TestLoadMetricsToken(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"unset leaves /metrics open", "", ""},
		{"16 characters", "0123456789abcdef", "0123456789abcdef"},
		{"base64 with padding", "q83vEjRWeJCrze8SNFZ4kA==", "q83vEjRWeJCrze8SNFZ4kA=="},
		{"surrounding space is trimmed", "  0123456789abcdef\n", "0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"KEYHOLD_METRICS_TOKEN": tt.value}))
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsToken != tt.want {
				t.Errorf("MetricsToken = %q, want %q", c.MetricsToken, tt.want)
			}
		})
	}
	// A refused token is a secret all the same: the message must not show it.
	const bad = "secret-but-short"
	if _, err := Load(env(map[string]string{"KEYHOLD_METRICS_TOKEN": bad[:10]})); err == nil || strings.Contains(err.Error(), bad[:10]) {
		t.Errorf("short token: error %v (want one that does not show the value)", err)
	}
}

func TestLoadSMTP(t *testing.T) {
	tests := []struct {
		url  string
		want SMTP
	}{
		{"smtp://me:p%40ss@mail.example.com:2525", SMTP{Host: "mail.example.com", Port: 2525, Security: SMTPStartTLS, Username: "me", Password: "p@ss"}},
		{"smtp://mail.example.com", SMTP{Host: "mail.example.com", Port: 587, Security: SMTPStartTLS}},
		{"smtps://me:pw@mail.example.com", SMTP{Host: "mail.example.com", Port: 465, Security: SMTPTLS, Username: "me", Password: "pw"}},
		{"smtp+insecure://127.0.0.1:1025", SMTP{Host: "127.0.0.1", Port: 1025, Security: SMTPPlain}},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"KEYHOLD_SMTP_URL": tt.url}))
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if *c.SMTP != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.url, *c.SMTP, tt.want)
		}
		if strings.Contains(c.SMTP.String(), "pw") || strings.Contains(c.SMTP.String(), "p@ss") {
			t.Errorf("%s: String() shows the password: %s", tt.url, c.SMTP)
		}
	}
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP != nil || c.EmailFrom.String() != `"Keyhold" <keyhold@localhost>` || c.RequireVerifiedEmail {
		t.Errorf("defaults: smtp %v, from %v, require %v", c.SMTP, c.EmailFrom, c.RequireVerifiedEmail)
	}
	c, err = Load(env(map[string]string{"KEYHOLD_EMAIL_FROM": "Acme Keys <keys@acme.test>", "KEYHOLD_REQUIRE_VERIFIED_EMAIL": "true", "KEYHOLD_SMTP_URL": "smtp+insecure://127.0.0.1:1025"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.EmailFrom.Address != "keys@acme.test" || c.EmailFrom.Name != "Acme Keys" || !c.RequireVerifiedEmail {
		t.Errorf("got from %v, require %v", c.EmailFrom, c.RequireVerifiedEmail)
	}
}

// TestLoadRejectsSMTP: every bad form of the email variables stops start-up
// with a line naming the variable, and the SMTP password never appears in
// it.
func TestLoadRejectsSMTP(t *testing.T) {
	const password = "hunter2-secret"
	tests := []struct{ name, value string }{
		{"KEYHOLD_SMTP_URL", "mail.example.com:587"},
		{"KEYHOLD_SMTP_URL", "http://u:" + password + "@mail.example.com"},
		{"KEYHOLD_SMTP_URL", "smtp://u:" + password + "@:587"},
		{"KEYHOLD_SMTP_URL", "smtp://u:" + password + "@mail.example.com:99999"},
		{"KEYHOLD_SMTP_URL", "smtp://u:" + password + "@mail.example.com:port"},
		{"KEYHOLD_SMTP_URL", "smtps://u:" + password + "@mail.example.com/path"},
		{"KEYHOLD_SMTP_URL", "smtp://u:" + password + "@mail.example.com?x=1"},
		{"KEYHOLD_SMTP_URL", "smtp://:" + password + "@mail.example.com"},
		{"KEYHOLD_SMTP_URL", "smtp://u:" + password + "@mail.example.com:25\x7f"},
		{"KEYHOLD_EMAIL_FROM", "not an address"},
		{"KEYHOLD_REQUIRE_VERIFIED_EMAIL", "yes"},
		{"KEYHOLD_REQUIRE_VERIFIED_EMAIL", "true"}, // without KEYHOLD_SMTP_URL
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tt.name {
				t.Fatalf("got %v, want an error naming %s", err, tt.name)
			}
			if msg := err.Error(); strings.Contains(msg, password) || strings.Contains(msg, "\n") {
				t.Errorf("message shows the password or is not one line: %q", msg)
			}
		})
	}
}

func TestLoadTokenAudiences(t *testing.T) {
	c, err := Load(env(map[string]string{"KEYHOLD_TOKEN_AUDIENCES": " https://api.example.com , billing,"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TokenAudiences) != 2 || c.TokenAudiences[0] != "https://api.example.com" || c.TokenAudiences[1] != "billing" {
		t.Errorf("audiences %q", c.TokenAudiences)
	}
	_, err = Load(env(map[string]string{"KEYHOLD_TOKEN_AUDIENCES": `a b`}))
	if err == nil || !strings.Contains(err.Error(), "KEYHOLD_TOKEN_AUDIENCES") {
		t.Errorf("an audience with a space: %v", err)
	}
}

// TestLoadWebhooksAllowInsecure: off by default, true or false, anything
// else refused naming the variable.
func TestLoadWebhooksAllowInsecure(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.WebhooksAllowInsecure {
		t.Fatalf("default: %v, %v", c.WebhooksAllowInsecure, err)
	}
	c, err = Load(env(map[string]string{"KEYHOLD_WEBHOOKS_ALLOW_INSECURE": "true"}))
	if err != nil || !c.WebhooksAllowInsecure {
		t.Fatalf("true: %v, %v", c.WebhooksAllowInsecure, err)
	}
	_, err = Load(env(map[string]string{"KEYHOLD_WEBHOOKS_ALLOW_INSECURE": "yes"}))
	if err == nil || !strings.Contains(err.Error(), "KEYHOLD_WEBHOOKS_ALLOW_INSECURE") {
		t.Errorf("yes: %v", err)
	}
}

// TestLoadRedisCluster: the cluster forms of KEYHOLD_REDIS_URL are taken
// as given (verify.DialRedis reads them).
func TestLoadRedisCluster(t *testing.T) {
	for _, u := range []string{
		"redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379",
		"redis://10.0.0.1:6379?cluster=true",
		"rediss://user:pw@[::1]:6379?addr=[::2]:6379&cluster=true",
	} {
		c, err := Load(env(map[string]string{"KEYHOLD_REDIS_URL": u}))
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if c.RedisURL != u {
			t.Errorf("RedisURL = %q, want %q", c.RedisURL, u)
		}
	}
}
