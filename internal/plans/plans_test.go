package plans

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltIn(t *testing.T) {
	c, err := New(BuiltIn)
	if err != nil {
		t.Fatal(err)
	}
	if c.Default().ID != "free" || len(c.All()) != 3 {
		t.Errorf("default %q, %d plans", c.Default().ID, len(c.All()))
	}
	if p, ok := c.ByPrice("price_keyhold_pro"); !ok || p.ID != "pro" {
		t.Errorf("ByPrice: %v %v", p, ok)
	}
	if c.Get("gone").ID != "free" {
		t.Error("an unknown plan id must fall back to the default plan")
	}
}

func writeFile(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plans.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c, err := Load(writeFile(t, `[
 {"id": "hobby", "name": "Hobby", "price": "$0", "stripe_price_id": "",
  "rate_per_second": 5, "burst": 5, "monthly_quota": 500, "max_keys": 1},
 {"id": "team", "name": "Team", "price": "$99/mo", "stripe_price_id": "price_123",
  "rate_per_second": 50, "burst": 100, "monthly_quota": 50000, "max_keys": 20}]`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Default().ID != "hobby" || c.Get("team").MonthlyQuota != 50000 {
		t.Errorf("loaded %+v", c.All())
	}
}

// TestLoadMaxMembers: max_members is optional; absent and 0 both mean no
// limit, and a positive value is kept.
func TestLoadMaxMembers(t *testing.T) {
	c, err := Load(writeFile(t, `[
 {"id": "a", "name": "A", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1},
 {"id": "b", "name": "B", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "max_members": 0},
 {"id": "c", "name": "C", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "max_members": 5}]`))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"a": 0, "b": 0, "c": 5} {
		if got := c.Get(id).MaxMembers; got != want {
			t.Errorf("plan %s: MaxMembers %d, want %d", id, got, want)
		}
	}
	for _, p := range BuiltIn {
		if p.MaxMembers != 0 {
			t.Errorf("built-in plan %s limits members to %d; the built-ins are unlimited", p.ID, p.MaxMembers)
		}
	}
}

// TestLoadQuotaScope: quota_scope is optional and means "key" when absent;
// "account" makes the quota one pool per account.
func TestLoadQuotaScope(t *testing.T) {
	c, err := Load(writeFile(t, `[
 {"id": "a", "name": "A", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1},
 {"id": "b", "name": "B", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "quota_scope": "key"},
 {"id": "c", "name": "C", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "quota_scope": "account"}]`))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"a": ScopeKey, "b": ScopeKey, "c": ScopeAccount} {
		p := c.Get(id)
		if p.QuotaScope != want || p.Pooled() != (want == ScopeAccount) {
			t.Errorf("plan %s: QuotaScope %q (pooled %v), want %q", id, p.QuotaScope, p.Pooled(), want)
		}
	}
	b, err := New(BuiltIn)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.All() {
		if p.Pooled() {
			t.Errorf("built-in plan %s is pooled; the built-ins count per key", p.ID)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	plan := func(over string) string {
		base := `"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1`
		if over != "" {
			base = over
		}
		return "[{" + base + "}]"
	}
	tests := map[string]struct{ file, want string }{
		"not json":             {`{`, "not a JSON array"},
		"empty":                {`[]`, "empty"},
		"missing field":        {`[{"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "max_keys": 1}]`, "monthly_quota is required"},
		"unknown field":        {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "quota": 5`), "unknown field"},
		"bad id":               {plan(`"id": "P P", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1`), "id must be"},
		"zero rate":            {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": 0, "burst": 1, "monthly_quota": 1, "max_keys": 1`), "rate_per_second"},
		"burst < rate":         {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": 5, "burst": 1, "monthly_quota": 1, "max_keys": 1`), "burst"},
		"no free plan":         {plan(`"id": "p", "name": "P", "price": "$9", "stripe_price_id": "price_1", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1`), "no free plan"},
		"duplicate ids":        {`[{"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1},{"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1}]`, "duplicate"},
		"wrong type":           {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": "fast", "burst": 1, "monthly_quota": 1, "max_keys": 1`), "cannot unmarshal"},
		"bad quota_scope":      {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "quota_scope": "team"`), `plan 1 ("p"): quota_scope must be "key" or "account"`},
		"negative max_members": {plan(`"id": "p", "name": "P", "price": "$0", "rate_per_second": 1, "burst": 1, "monthly_quota": 1, "max_keys": 1, "max_members": -1`), "plan 1 (\"p\"): max_members must be 0 (no limit) or positive"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
