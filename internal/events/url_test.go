package events

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

func TestCheckURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 3000-len("https://example.com/"))
	cases := []struct {
		url      string
		insecure bool
		// want is a piece of the message, "" when the URL is accepted.
		want string
	}{
		{"https://example.com/webhooks", false, ""},
		{"https://example.com:8443/hooks?token=abc", false, ""},
		{"https://203.0.113.7/hooks", false, ""},
		{"https://[2001:db8::1]/hooks", false, ""},
		{"HTTPS://Example.COM/x", false, ""},
		{"https://example.com/" + strings.Repeat("a", 2048-len("https://example.com/")), false, ""},
		{"http://127.0.0.1:8080/hooks", true, ""},
		{"http://127.8.9.10/hooks", true, ""},
		{"http://[::1]:8080/hooks", true, ""},
		{"http://localhost:3000/hooks", true, ""},
		{"https://localhost/hooks", true, ""},
		{"https://127.0.0.1/hooks", true, ""},

		{"http://example.com/webhooks", false, "must use https://"},
		{"http://example.com/webhooks", true, "must use https://"},
		{"http://203.0.113.7/webhooks", true, "must use https://"},
		{"http://127.0.0.1:8080/hooks", false, "KEYHOLD_WEBHOOKS_ALLOW_INSECURE"},
		{"http://localhost:8080/hooks", false, "KEYHOLD_WEBHOOKS_ALLOW_INSECURE"},
		{"https://127.0.0.1/hooks", false, "loopback"},
		{"https://localhost/hooks", false, "loopback"},
		{"https://api.localhost/hooks", false, "loopback"},
		{"https://[::1]/", false, "loopback"},
		{"https://[::ffff:127.0.0.1]/", false, "loopback"},
		{"https://10.0.0.1/x", false, "private address"},
		{"https://10.0.0.1/x", true, "private address"},
		{"https://172.16.5.4/x", false, "private address"},
		{"https://172.31.255.255/x", false, "private address"},
		{"https://192.168.1.1/x", true, "private address"},
		{"https://[fd00::1]/x", false, "private address"},
		{"https://[::ffff:10.0.0.1]/", false, "private address"},
		{"https://[::ffff:10.0.0.1]/", true, "private address"},
		{"https://[64:ff9b::10.0.0.1]/", false, "NAT64 form of a private address"},
		{"https://[2002:a9fe:a9fe::1]/", false, "6to4 form of the cloud metadata address"},
		{"https://169.254.169.254/", false, "cloud metadata address"},
		{"https://169.254.169.254/latest/meta-data/", true, "cloud metadata address"},
		{"https://[::ffff:169.254.169.254]/", false, "cloud metadata address"},
		{"https://169.254.1.1/", false, "link-local"},
		{"https://[fe80::1]/", false, "link-local"},
		{"https://[fe80::1%25eth0]/", false, "zone"},
		{"https://0.0.0.0/", false, "unspecified"},
		{"https://0.0.0.0/", true, "unspecified"},
		{"https://[::]/", false, "unspecified"},
		{"https://0.1.2.3/", false, "reserved"},
		{"https://255.255.255.255/", false, "reserved"},
		{"https://224.0.0.1/", false, "multicast"},
		{"https://[ff02::1]/", false, "multicast"},
		{"https://100.64.0.1/", false, "carrier-grade NAT"},
		{"https://100.127.255.255/", false, "carrier-grade NAT"},
		{"https://2130706433/", false, "unusual form"},
		{"https://0x7f.0.0.1/", false, "unusual form"},
		{"https://127.1/", false, "unusual form"},
		{"https://user:pass@example.com/hooks", false, "user name or password"},
		{"https://user@example.com/hooks", false, "user name or password"},
		{long, false, "at most 2048 bytes"},
		{"not a url", false, "like https://example.com/webhooks"},
		{"example.com/hooks", false, "like https://example.com/webhooks"},
		{"", false, "Enter the URL"},
		{"   ", false, "Enter the URL"},
		{"ftp://example.com/hooks", false, "must start with https://"},
		{"javascript:alert(1)", false, "like https://example.com/webhooks"},
		{"https:///hooks", false, "like https://example.com/webhooks"},
		{"https://example.com:0/", false, "port must not be 0"},
		{"https://exa mple.com/", false, "like https://example.com/webhooks"},
	}
	for _, c := range cases {
		name := c.url
		if len(name) > 60 {
			name = name[:60] + "…"
		}
		if c.insecure {
			name += " (insecure)"
		}
		t.Run(name, func(t *testing.T) {
			err := CheckURL(c.url, c.insecure)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckURL = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckURL accepted it, want a refusal mentioning %q", c.want)
			}
			var ke *keyhold.Error
			if !errors.As(err, &ke) || ke.Code != keyhold.EINVALID {
				t.Fatalf("CheckURL = %#v, want a *keyhold.Error with Code EINVALID", err)
			}
			if !strings.Contains(ke.Message, c.want) {
				t.Fatalf("message %q does not mention %q", ke.Message, c.want)
			}
			if f := keyhold.Fields(err); f["url"] != ke.Message {
				t.Fatalf("fields = %v, want the message under url", f)
			}
			if strings.Contains(ke.Message, "pass@") || (len(c.url) > 12 && strings.Contains(ke.Message, c.url)) {
				t.Fatalf("message %q repeats the URL", ke.Message)
			}
		})
	}
}
