package mail_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/mail"
)

// TestRenderPoolNoticeMails: a shared quota's notice speaks of the
// account's shared quota, names no key and links to the dashboard.
func TestRenderPoolNoticeMails(t *testing.T) {
	base, _ := url.Parse("https://keys.example.com")
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		percent int
		subject string
	}{
		{80, "Your Keyhold account Acme has used 80 % of its shared quota"},
		{100, "Your Keyhold account Acme has used its shared quota"},
	} {
		a := mail.Args{Mail: mail.KindNoticeQuota, To: "o@example.com", Account: "Acme", Pooled: true, Percent: tc.percent, Used: 80_000, Limit: 100_000, WindowEnd: end}
		m, err := mail.Render(base, a, "")
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != tc.subject {
			t.Errorf("%d %%: subject %q, want %q", tc.percent, m.Subject, tc.subject)
		}
		for _, body := range []string{m.Text, m.HTML} {
			for _, want := range []string{"https://keys.example.com/dashboard", "shared quota", "80,000", "100,000", "Jan 1, 2027", "/account"} {
				if !strings.Contains(body, want) {
					t.Errorf("%d %%: body lacks %q:\n%s", tc.percent, want, body)
				}
			}
			if strings.Contains(body, "/keys/") || strings.Contains(body, "The key ") {
				t.Errorf("%d %%: a shared quota's mail names a key:\n%s", tc.percent, body)
			}
		}
	}
}
