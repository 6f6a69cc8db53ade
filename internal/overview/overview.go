// Package overview is the read side of the portal: each method answers
// what one page (and, later, one management API resource) shows of an
// account or a key, merging the database's counts with the verifier's
// fresher live ones, in a handful of queries that do not grow with the
// number of keys. It checks ownership once per call. It returns plain Go
// values; the server turns them into view models.
package overview

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/quota"
)

// Spans of the usage a page shows.
const (
	ChartDays  = 30 // the 30-day charts
	ChartHours = 24 // the key page's hourly chart
	AuditLimit = 50 // audit entries on a key's page
	AdminTrail = 15 // audit entries on an operator's account page
)

// ErrNotFound is what a Store returns for an account or key that does not
// exist, or (for a key) is another account's.
var ErrNotFound = errors.New("overview: not found")

// The errors callers see; the server maps ENOTFOUND to 404. A key of
// another account is "not found" exactly as a key that does not exist.
var (
	errNoKey     = keyhold.Errorf(keyhold.ENOTFOUND, "We could not find that key.")
	errNoAccount = keyhold.Errorf(keyhold.ENOTFOUND, "No such account.")
)

// Store is what the read side needs from the database.
type Store interface {
	// AccountState returns an account with its subscription and its key
	// counts at now, in one query; ErrNotFound when there is none.
	AccountState(ctx context.Context, accountID string, now time.Time) (*Account, error)
	// KeyState returns a key with its account's state at now, in one
	// query; ErrNotFound when there is no such key or, with accountID not
	// empty, it is another account's.
	KeyState(ctx context.Context, accountID, keyID string, now time.Time) (*keys.Key, *Account, error)
	// AccountKeys returns the keys f selects, in f's order, each with the
	// quota it used in the window starting at windowStart, in one query.
	AccountKeys(ctx context.Context, f KeyFilter, windowStart, now time.Time) ([]Key, error)
	// QuotaUsed returns the quota units a key used in the window starting
	// at windowStart.
	QuotaUsed(ctx context.Context, keyID string, windowStart time.Time) (int64, error)
	// PoolUsed returns the quota units an account's pooled keys (those
	// without a quota override) used in the window starting at
	// windowStart.
	PoolUsed(ctx context.Context, accountID string, windowStart time.Time) (int64, error)
	// KeyUsageHourly returns a key's hourly usage from since on, oldest
	// first.
	KeyUsageHourly(ctx context.Context, keyID string, since time.Time) ([]keys.HourlyUsage, error)
	// AccountUsageHourly returns the hourly usage of all an account's keys
	// together from since on, oldest first.
	AccountUsageHourly(ctx context.Context, accountID string, since time.Time) ([]keys.HourlyUsage, error)
	// KeyAudit returns the newest audit entries about a key, with their
	// actors.
	KeyAudit(ctx context.Context, accountID, keyID string, limit int) ([]KeyEvent, error)
	// AuditLog returns the audit entries q selects, newest first.
	AuditLog(ctx context.Context, q auth.AuditQuery) ([]auth.AuditRecord, error)
}

// LiveUsage is this process's count of keys' quota used, fresher than the
// database's, which lags by up to one flush. The verifier satisfies it.
type LiveUsage interface {
	// QuotaUsed returns a key's quota used in the window w holding now
	// (a pooled key's own use); ok is false when this process has not
	// counted the key in it.
	QuotaUsed(keyID string, now time.Time) (used int64, w quota.Window, ok bool)
	// PoolUsed returns an account's pooled quota used in the window w
	// holding now; ok is false when this process has not counted the
	// pool in it.
	PoolUsed(accountID string, now time.Time) (used int64, w quota.Window, ok bool)
}

// Config configures a Service.
type Config struct {
	Store Store
	Plans *plans.Catalog
	Live  LiveUsage        // nil: the database's counts only
	Now   func() time.Time // nil: time.Now
}

// Service answers the portal's pages.
type Service struct {
	store Store
	plans *plans.Catalog
	live  LiveUsage
	now   func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Plans == nil {
		return nil, errors.New("overview: Store and Plans are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, plans: c.Plans, live: c.Live, now: c.Now}, nil
}

// Account is an account as the pages show it.
type Account struct {
	ID           string
	Name         string
	Suspended    bool // an operator suspended it: its keys answer DISABLED
	PlanID       string
	CustomerID   string // the Stripe customer (cus_…); empty without one
	CreatedAt    time.Time
	Subscription *billing.Subscription // nil: never subscribed
	Keys         int                   // keys held, revoked and expired ones included
	LiveKeys     int                   // keys active now: what the plan's MaxKeys counts
}

// Window is the quota window the account's keys count in at now.
func (a *Account) Window(now time.Time) quota.Window {
	return quota.WindowAt(now, a.Subscription.QuotaPeriod())
}

// Key is a key with its quota this window.
type Key struct {
	*keys.Key
	// Quota is the key's own quota this window: its override, else the
	// plan's; 0 when the key draws on its account's pool (Pooled).
	Quota int64
	Used  int64 // quota the key used this window, the freshest count known
	// Pooled: the key counts against its account's shared quota (a
	// pooled plan, and no quota override of its own); Used is then the
	// key's share of the pool's use.
	Pooled bool
}

// Pool is an account's shared quota this window (a plan whose
// QuotaScope is plans.ScopeAccount): every key without a quota override
// of its own counts against it.
type Pool struct {
	Limit  int64 // the plan's MonthlyQuota
	Used   int64 // by all the pooled keys together, the freshest count known
	Window quota.Window
}

// Usage is verifications counted over the spans a page shows.
type Usage struct {
	Window quota.Window
	Totals keys.UsageCounts   // this window, from the start of its UTC hour
	Days   []keys.DailyUsage  // the last ChartDays UTC days, oldest first
	Hours  []keys.HourlyUsage // the last ChartHours UTC hours (a key's page only)
}

// Key list filters and orders (the ?status= and ?sort= of /keys).
const (
	StatusAll    = "all"
	SortCreated  = "created" // newest first
	SortName     = "name"    // A to Z
	SortLastUsed = "used"    // most recently used first, never used last
)

// KeyFilter selects an account's keys.
type KeyFilter struct {
	AccountID string
	Status    string // keys.StatusActive, keys.StatusRevoked, keys.StatusExpired; "" or StatusAll: every key
	Sort      string // SortCreated (""), SortName or SortLastUsed
}

// KeyListQuery is what a key list asks for. Unknown values mean the
// defaults, so a hand-edited URL still shows a list.
type KeyListQuery struct {
	Status string // keys.StatusActive (default), keys.StatusRevoked or StatusAll
	Sort   string // SortCreated (default), SortName or SortLastUsed
}

// Normalize replaces unknown values by the defaults.
func (q KeyListQuery) Normalize() KeyListQuery {
	switch q.Status {
	case keys.StatusActive, keys.StatusRevoked, StatusAll:
	default:
		q.Status = keys.StatusActive
	}
	switch q.Sort {
	case SortCreated, SortName, SortLastUsed:
	default:
		q.Sort = SortCreated
	}
	return q
}

// Keys is an account's key list with its plan.
type Keys struct {
	Account *Account
	Plan    *plans.Plan
	Window  quota.Window
	Query   KeyListQuery // as applied
	Keys    []Key
	Pool    *Pool // the account's shared quota; nil unless the plan is pooled
}

// AccountOverview is what the dashboard shows: every key, newest first,
// and, when there is any, the usage of all of them.
type AccountOverview struct {
	Keys
	Usage *Usage // nil without keys
}

// KeyDetail is what a key's page shows.
type KeyDetail struct {
	Key     Key
	Account *Account
	Plan    *plans.Plan
	Pool    *Pool // the account's shared quota; nil unless the plan is pooled
	Usage   Usage
	Audit   []KeyEvent // newest first
}

// KeyEvent is an audit entry about a key with who acted: their email
// ("" for the system or a user since gone) and whether they are a member
// of the key's account (not: an operator acting from the console).
type KeyEvent struct {
	audit.Entry
	ActorEmail string
	ByMember   bool
}

// AdminAccount is what the operator's page of an account shows.
type AdminAccount struct {
	AccountOverview
	Used  int64              // quota used this window by all its keys
	Trail []auth.AuditRecord // the newest audit entries by or about it
}

// Account returns an account with its subscription and key counts, for
// a page that needs no list (the new key form). Errors: ENOTFOUND.
func (s *Service) Account(ctx context.Context, accountID string) (*Account, error) {
	return s.account(ctx, accountID, s.now())
}

// KeyList returns the account's keys that q selects, with its plan.
// Errors: ENOTFOUND when there is no such account.
func (s *Service) KeyList(ctx context.Context, accountID string, q KeyListQuery) (*Keys, error) {
	now := s.now()
	a, err := s.account(ctx, accountID, now)
	if err != nil {
		return nil, err
	}
	q = q.Normalize()
	f := KeyFilter{AccountID: accountID, Status: q.Status, Sort: q.Sort}
	if f.Status == StatusAll {
		f.Status = ""
	}
	return s.keyList(ctx, a, f, q, now)
}

// AccountOverview returns the dashboard's account: every key and, when
// there is any, the usage of all of them this window and the last
// ChartDays days. Errors: ENOTFOUND when there is no such account.
func (s *Service) AccountOverview(ctx context.Context, accountID string) (*AccountOverview, error) {
	now := s.now()
	a, err := s.account(ctx, accountID, now)
	if err != nil {
		return nil, err
	}
	return s.overview(ctx, a, now)
}

// AdminAccount returns an account for the operator: its keys, usage,
// quota used and the newest audit entries by or about it. Errors:
// ENOTFOUND.
func (s *Service) AdminAccount(ctx context.Context, accountID string) (*AdminAccount, error) {
	now := s.now()
	a, err := s.account(ctx, accountID, now)
	if err != nil {
		return nil, err
	}
	o, err := s.overview(ctx, a, now)
	if err != nil {
		return nil, err
	}
	trail, err := s.store.AuditLog(ctx, auth.AuditQuery{AccountID: accountID, Limit: AdminTrail})
	if err != nil {
		return nil, fmt.Errorf("overview: admin account: %w", err)
	}
	out := &AdminAccount{AccountOverview: *o, Trail: trail}
	for _, k := range o.Keys.Keys {
		out.Used += k.Used
	}
	return out, nil
}

// KeyDetail returns one of the account's keys with its usage this window,
// the last ChartDays days and ChartHours hours, and its audit entries.
// Errors: ENOTFOUND when the key is not the account's.
func (s *Service) KeyDetail(ctx context.Context, accountID, keyID string) (*KeyDetail, error) {
	if accountID == "" {
		return nil, errNoKey // "" would mean any account's key
	}
	return s.keyDetail(ctx, accountID, keyID)
}

// AdminKey returns any account's key, as KeyDetail does for its owner.
// Errors: ENOTFOUND.
func (s *Service) AdminKey(ctx context.Context, keyID string) (*KeyDetail, error) {
	return s.keyDetail(ctx, "", keyID)
}

func (s *Service) keyDetail(ctx context.Context, accountID, keyID string) (*KeyDetail, error) {
	now := s.now()
	k, a, err := s.store.KeyState(ctx, accountID, keyID, now)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("overview: key: %w", err)
	}
	k.EndGrace(now)
	plan := s.plans.Get(a.PlanID)
	w := a.Window(now)
	used, err := s.store.QuotaUsed(ctx, k.ID, w.Start)
	if err != nil {
		return nil, fmt.Errorf("overview: key: %w", err)
	}
	d := &KeyDetail{Key: s.withQuota(Key{Key: k, Used: used}, plan, w, now), Account: a, Plan: plan}
	if d.Pool, err = s.pool(ctx, a, plan, w, now); err != nil {
		return nil, err
	}
	hoursFrom := now.UTC().Truncate(time.Hour).Add(-(ChartHours - 1) * time.Hour)
	since := earliest(w.Start.UTC().Truncate(time.Hour), daysFrom(now), hoursFrom)
	rows, err := s.store.KeyUsageHourly(ctx, k.ID, since)
	if err != nil {
		return nil, fmt.Errorf("overview: key usage: %w", err)
	}
	d.Usage = usageOf(rows, w, now)
	d.Usage.Hours = keys.Hourly(rows, hoursFrom, ChartHours)
	if d.Audit, err = s.store.KeyAudit(ctx, k.AccountID, k.ID, AuditLimit); err != nil {
		return nil, fmt.Errorf("overview: key audit: %w", err)
	}
	return d, nil
}

// account reads an account's state, mapping none to ENOTFOUND.
func (s *Service) account(ctx context.Context, accountID string, now time.Time) (*Account, error) {
	a, err := s.store.AccountState(ctx, accountID, now)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoAccount
	}
	if err != nil {
		return nil, fmt.Errorf("overview: account: %w", err)
	}
	return a, nil
}

// overview is the dashboard's view of a.
func (s *Service) overview(ctx context.Context, a *Account, now time.Time) (*AccountOverview, error) {
	q := KeyListQuery{Status: StatusAll, Sort: SortCreated}
	ks, err := s.keyList(ctx, a, KeyFilter{AccountID: a.ID, Sort: SortCreated}, q, now)
	if err != nil {
		return nil, err
	}
	o := &AccountOverview{Keys: *ks}
	if a.Keys == 0 {
		return o, nil
	}
	rows, err := s.store.AccountUsageHourly(ctx, a.ID, earliest(ks.Window.Start.UTC().Truncate(time.Hour), daysFrom(now)))
	if err != nil {
		return nil, fmt.Errorf("overview: account usage: %w", err)
	}
	u := usageOf(rows, ks.Window, now)
	o.Usage = &u
	return o, nil
}

// keyList reads the keys f selects, with their quota this window.
func (s *Service) keyList(ctx context.Context, a *Account, f KeyFilter, q KeyListQuery, now time.Time) (*Keys, error) {
	plan := s.plans.Get(a.PlanID)
	w := a.Window(now)
	ks, err := s.store.AccountKeys(ctx, f, w.Start, now)
	if err != nil {
		return nil, fmt.Errorf("overview: keys: %w", err)
	}
	for i := range ks {
		ks[i] = s.withQuota(ks[i], plan, w, now)
	}
	pool, err := s.pool(ctx, a, plan, w, now)
	if err != nil {
		return nil, err
	}
	return &Keys{Account: a, Plan: plan, Window: w, Query: q, Keys: ks, Pool: pool}, nil
}

// pool is the account's shared quota in window w when its plan is
// pooled (nil otherwise): the database's count, or this process's live
// one of the same window when it is higher (the database lags by up to
// a flush; the live count may have begun from an older read).
func (s *Service) pool(ctx context.Context, a *Account, plan *plans.Plan, w quota.Window, now time.Time) (*Pool, error) {
	if !plan.Pooled() {
		return nil, nil
	}
	used, err := s.store.PoolUsed(ctx, a.ID, w.Start)
	if err != nil {
		return nil, fmt.Errorf("overview: pool: %w", err)
	}
	if s.live != nil {
		if u, lw, ok := s.live.PoolUsed(a.ID, now); ok && lw.Start.Equal(w.Start) && u > used {
			used = u
		}
	}
	return &Pool{Limit: plan.MonthlyQuota, Used: used, Window: w}, nil
}

// withQuota sets k's quota this window and, when this process has
// counted the key in window w, its live count of quota used, which is
// fresher than the last flush. A key of a pooled plan without an
// override of its own has no quota of its own (Pooled): its use is its
// share of the pool's.
func (s *Service) withQuota(k Key, plan *plans.Plan, w quota.Window, now time.Time) Key {
	k.Quota = plan.MonthlyQuota
	if k.QuotaOverride != nil {
		k.Quota = *k.QuotaOverride
	} else if plan.Pooled() {
		k.Quota, k.Pooled = 0, true
	}
	if s.live != nil {
		// The higher of the two: the live count is ahead of the database
		// by what is not flushed yet, but may be this instance's part
		// only (no Redis, or a pooled key's own use).
		if u, lw, ok := s.live.QuotaUsed(k.ID, now); ok && lw.Start.Equal(w.Start) {
			k.Used = max(k.Used, u)
		}
	}
	return k
}

// daysFrom is the first UTC midnight of the last ChartDays days.
func daysFrom(now time.Time) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(ChartDays - 1))
}

// usageOf sums hourly rows into window w's totals (counted, as usage is
// kept, from the start of the UTC hour holding w.Start) and the last
// ChartDays days.
func usageOf(rows []keys.HourlyUsage, w quota.Window, now time.Time) Usage {
	return Usage{Window: w, Totals: keys.Total(rows, w.Start.UTC().Truncate(time.Hour)), Days: keys.Daily(rows, daysFrom(now), ChartDays)}
}

// earliest is the earliest of ts: one read of hourly usage serves every
// span a page shows.
func earliest(ts ...time.Time) time.Time {
	e := ts[0]
	for _, t := range ts[1:] {
		if t.Before(e) {
			e = t
		}
	}
	return e
}
