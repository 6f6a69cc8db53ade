// Package plans owns the plan catalog: what each plan costs, which Stripe
// price sells it, and the limits it gives every key (rate per second with a
// burst, a monthly quota) and every account (how many keys, how many
// members). The catalog is
// built in or read from the JSON file named by KEYHOLD_PLANS_FILE.
package plans

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// Plan is one entry of the catalog.
type Plan struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Price         string `json:"price"`           // display price, e.g. "$29/mo"
	StripePriceID string `json:"stripe_price_id"` // empty for a free plan
	RatePerSecond int    `json:"rate_per_second"` // per key
	Burst         int    `json:"burst"`           // per key
	MonthlyQuota  int64  `json:"monthly_quota"`   // per key per quota window (per account when QuotaScope is ScopeAccount)
	MaxKeys       int    `json:"max_keys"`        // live keys per account
	// QuotaScope says whom MonthlyQuota is for: ScopeKey (each key has
	// its own; the default, also for "" in the plans file) or ScopeAccount
	// (one pool shared by all of an account's keys). Rate limits are per
	// key either way.
	QuotaScope string `json:"quota_scope,omitempty"`
	// MaxMembers bounds an account's members plus its pending
	// invitations; optional in the plans file, and 0 means no limit.
	MaxMembers int `json:"max_members,omitempty"`
}

// Quota scopes (Plan.QuotaScope).
const (
	ScopeKey     = "key"
	ScopeAccount = "account"
)

// Pooled reports whether the plan's quota is one pool for all of an
// account's keys (QuotaScope ScopeAccount).
func (p *Plan) Pooled() bool { return p.QuotaScope == ScopeAccount }

// Free reports whether the plan is sold without Stripe.
func (p *Plan) Free() bool { return p.StripePriceID == "" }

// Catalog is an ordered, validated list of plans.
type Catalog struct {
	plans   []*Plan
	byID    map[string]*Plan
	byPrice map[string]*Plan
	def     *Plan
}

// BuiltIn is the catalog used when KEYHOLD_PLANS_FILE is not set. Its paid
// plans have no Stripe price ids, so they cannot be bought until an operator
// supplies a plans file with real ones.
var BuiltIn = []Plan{
	{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10, Burst: 20, MonthlyQuota: 1_000, MaxKeys: 3},
	{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_keyhold_pro", RatePerSecond: 100, Burst: 200, MonthlyQuota: 100_000, MaxKeys: 10},
	{ID: "business", Name: "Business", Price: "$249/mo", StripePriceID: "price_keyhold_business", RatePerSecond: 1_000, Burst: 2_000, MonthlyQuota: 5_000_000, MaxKeys: 100},
}

// Bounds on limits, so the rate limiter's arithmetic (nanoseconds per
// call times the burst) stays exact.
const (
	MaxRate  = 1_000_000
	MaxBurst = 100_000_000
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// New validates plans and returns a Catalog. The first plan without a
// Stripe price id is the default every account starts on.
func New(list []Plan) (*Catalog, error) {
	if len(list) == 0 {
		return nil, errors.New("plans: the catalog is empty")
	}
	c := &Catalog{byID: map[string]*Plan{}, byPrice: map[string]*Plan{}}
	for i := range list {
		p := list[i]
		where := fmt.Sprintf("plan %d (%q)", i+1, p.ID)
		switch {
		case !idPattern.MatchString(p.ID):
			return nil, fmt.Errorf("plans: %s: id must be 1-32 characters of a-z, 0-9, _ or -", where)
		case p.Name == "":
			return nil, fmt.Errorf("plans: %s: name is required", where)
		case p.Price == "":
			return nil, fmt.Errorf("plans: %s: price is required", where)
		case p.RatePerSecond <= 0 || p.RatePerSecond > MaxRate:
			return nil, fmt.Errorf("plans: %s: rate_per_second must be from 1 to %d", where, MaxRate)
		case p.Burst < p.RatePerSecond || p.Burst > MaxBurst:
			return nil, fmt.Errorf("plans: %s: burst must be from rate_per_second to %d", where, MaxBurst)
		case p.MonthlyQuota <= 0:
			return nil, fmt.Errorf("plans: %s: monthly_quota must be positive", where)
		case p.MaxKeys <= 0:
			return nil, fmt.Errorf("plans: %s: max_keys must be positive", where)
		case p.MaxMembers < 0:
			return nil, fmt.Errorf("plans: %s: max_members must be 0 (no limit) or positive", where)
		case p.QuotaScope != "" && p.QuotaScope != ScopeKey && p.QuotaScope != ScopeAccount:
			return nil, fmt.Errorf("plans: %s: quota_scope must be %q or %q", where, ScopeKey, ScopeAccount)
		}
		if p.QuotaScope == "" {
			p.QuotaScope = ScopeKey
		}
		if _, dup := c.byID[p.ID]; dup {
			return nil, fmt.Errorf("plans: %s: duplicate id", where)
		}
		if p.StripePriceID != "" {
			if _, dup := c.byPrice[p.StripePriceID]; dup {
				return nil, fmt.Errorf("plans: %s: stripe_price_id %q is used twice", where, p.StripePriceID)
			}
		}
		pp := &p
		c.plans = append(c.plans, pp)
		c.byID[p.ID] = pp
		if p.StripePriceID != "" {
			c.byPrice[p.StripePriceID] = pp
		} else if c.def == nil {
			c.def = pp
		}
	}
	if c.def == nil {
		return nil, errors.New("plans: no free plan (one without stripe_price_id) for accounts to start on")
	}
	return c, nil
}

// Load reads a catalog from a JSON file (see DESIGN.md for the format);
// every field is required except a free plan's stripe_price_id, and unknown
// fields are refused so a typo does not pass silently.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("plans: %s is not a JSON array of plans: %w", path, err)
	}
	for i, m := range raw {
		for _, f := range []string{"id", "name", "price", "rate_per_second", "burst", "monthly_quota", "max_keys"} {
			if _, ok := m[f]; !ok {
				return nil, fmt.Errorf("plans: plan %d: %s is required", i+1, f)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var list []Plan
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("plans: %s: %w", path, err)
	}
	return New(list)
}

// All returns the plans in catalog order.
func (c *Catalog) All() []*Plan { return c.plans }

// Default returns the plan every account starts on.
func (c *Catalog) Default() *Plan { return c.def }

// Get returns a plan by id, or the default plan for an unknown id (a plan
// removed from the catalog must not lock its accounts out).
func (c *Catalog) Get(id string) *Plan {
	if p, ok := c.byID[id]; ok {
		return p
	}
	return c.def
}

// Lookup returns a plan by id and whether it exists.
func (c *Catalog) Lookup(id string) (*Plan, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// ByPrice returns the plan sold by a Stripe price id.
func (c *Catalog) ByPrice(priceID string) (*Plan, bool) {
	p, ok := c.byPrice[priceID]
	return p, ok
}
