package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/team"
)

// TestRevokedBySays: a revoked key's page names who revoked it as the
// reader sees it: "you" for themselves, the member's email for another
// member of the account, and "an operator" for someone from the console,
// whose address the account's members are not shown. The team account's
// id is no user's, so the names come from users, not accounts.
func TestRevokedBySays(t *testing.T) {
	h := MustServer(t)
	ctx := context.Background()
	owner := h.Browser()
	owner.MustSignup("owner@example.com")
	ownerID := accountID(t, h, "owner@example.com")
	acme, err := h.Team.CreateAccount(ctx, audit.Actor{UserID: ownerID}, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.DB.SetSessionAccount(ctx, sessionOf(t, h, ownerID), ownerID, acme.ID); err != nil {
		t.Fatal(err)
	}
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	joinAccount(t, h, "dev@example.com", acme.ID, team.Developer)
	h.MustAdmin("ops@example.com")

	byDev, _ := owner.MustCreateKey("revoked by dev", nil)
	byOps, _ := owner.MustCreateKey("revoked by ops", nil)
	p := dev.Submit("/keys/"+byDev, "/keys/"+byDev+"/revoke", url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("the developer's revoke: %d", p.StatusCode)
	}
	if _, err := h.Keys.RevokeAny(ctx, audit.Actor{UserID: accountID(t, h, "ops@example.com")}, byOps); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		who  *browser
		key  string
		want string
	}{
		{dev, byDev, " by you."},
		{owner, byDev, " by dev@example.com."},
		{owner, byOps, " by an operator."},
		{dev, byOps, " by an operator."},
	} {
		body := c.who.mustPage("/keys/" + c.key).Body
		if !strings.Contains(body, c.want) {
			t.Errorf("key %s: the page does not say %q", c.key, c.want)
		}
		if strings.Contains(body, "ops@example.com") {
			t.Errorf("key %s: a member's page shows the operator's address", c.key)
		}
	}
}
