package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyhold/keyhold/internal/audit"
)

// TestAuditNamesTheCommandLine: an entry without an actor says who that
// was: Stripe for a plan Stripe changed, nobody signed in for a failed
// log-in, and the command line for an operator's command (here a root key
// made with keyhold admin create-root-key).
func TestAuditNamesTheCommandLine(t *testing.T) {
	h := MustServer(t)
	ops := h.MustAdmin("ops@example.com")
	if _, _, err := h.RootKeys.Create(context.Background(), audit.Actor{}, "ci", []string{"keys.read"}); err != nil {
		t.Fatal(err)
	}
	h.Browser().Submit("/login", "/login", map[string][]string{"email": {"ops@example.com"}, "password": {"wrong password here"}})
	log := ops.mustPage("/admin/audit")
	actor := func(action string) string {
		var who string
		log.Doc.Find(`[data-testid="audit-row"][data-action="` + action + `"]`).First().Each(func(_ int, s *goquery.Selection) {
			who = strings.TrimSpace(s.Find(`[data-testid="audit-actor"]`).Text())
		})
		return who
	}
	if got := actor(audit.RootKeyCreated); got != "the command line" {
		t.Errorf("a root key made on the command line: actor %q", got)
	}
	if got := actor(audit.LoginFailed); got != "someone not signed in" {
		t.Errorf("a failed log-in: actor %q", got)
	}
}
