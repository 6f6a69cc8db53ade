package team_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// TestRules pins the role table of DESIGN.md: every role × action, so a
// change to Rules shows here as a decision, not a side effect.
func TestRules(t *testing.T) {
	want := map[team.Action]string{ // the roles that may, by first letter: o a d b v
		team.ViewAccount:   "oadbv",
		team.ManageKeys:    "oad",
		team.ManageBilling: "oab",
		team.ManageMembers: "oa",
		team.ManageOwners:  "o",
	}
	if len(want) != len(team.Rules) {
		t.Fatalf("Rules has %d actions, the test knows %d", len(team.Rules), len(want))
	}
	for action, letters := range want {
		for _, role := range team.Roles {
			allowed := strings.ContainsRune(letters, rune(role[0]))
			if got := team.Can(role, action); got != allowed {
				t.Errorf("Can(%s, %s) = %v, want %v", role, action, got, allowed)
			}
			err := team.Require(role, action)
			if allowed != (err == nil) {
				t.Errorf("Require(%s, %s) = %v", role, action, err)
			}
			if err != nil {
				if keyhold.ErrorCode(err) != keyhold.EFORBIDDEN || !errors.Is(err, team.ErrForbidden) {
					t.Errorf("Require(%s, %s): code %q", role, action, keyhold.ErrorCode(err))
				}
				msg := keyhold.ErrorMessage(err)
				for _, r := range team.Rules[action] {
					if !strings.Contains(msg, string(r)) {
						t.Errorf("Require(%s, %s) message %q does not name %s", role, action, msg, r)
					}
				}
			}
		}
	}
	if team.Can("", team.ViewAccount) || team.Require("", team.ViewAccount) == nil {
		t.Error("no role may view an account")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range team.Roles {
		if got, err := team.ParseRole(" " + string(r) + " "); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "Owner", "root", "operator"} {
		if _, err := team.ParseRole(bad); keyhold.ErrorCode(err) != keyhold.EINVALID {
			t.Errorf("ParseRole(%q) = %v, want EINVALID", bad, err)
		}
	}
}
