package templates

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The operator console's view models (admin*.templ). Every admin page
// shows keys by their display form only (kh_live_…abcd), never a secret.

// The console's tabs.
const (
	AdminTabOverview = "overview"
	AdminTabAccounts = "accounts"
	AdminTabKeys     = "keys"
	AdminTabEvents   = "events"
	AdminTabAudit    = "audit"
	AdminTabRootKeys = "root-keys"
	AdminTabWebhooks = "webhooks"
)

// AdminPager is the position in a long list and the links to its neighbours,
// which carry the list's filters.
type AdminPager struct {
	First, Last int    // 1-based numbers of the rows shown; 0, 0: none
	PrevURL     string // "" on the first page
	NextURL     string // "" on the last page
}

// AdminOption is one choice of a filter's select.
type AdminOption struct {
	Value string
	Label string
}

// AdminPlan is a plan of the catalog with how many accounts are on it.
type AdminPlan struct {
	ID, Name, Price string
	RatePerSec      int
	Burst           int
	MonthlyQuota    int64
	Pooled          bool // MonthlyQuota is one pool per account, not per key
	MaxKeys         int
	Paid            bool
	Accounts        int
}

// AdminKeyVolume is one of the busiest keys.
type AdminKeyVolume struct {
	KeyID, Name, Display string
	OwnerID, OwnerEmail  string
	Revoked              bool
	UsageTotals
}

// AdminOverviewPage is /admin: usage across every account, the busiest
// keys, the plans and what needs attention.
type AdminOverviewPage struct {
	Layout
	Accounts     int         // every account
	Plans        []AdminPlan // the catalog, in order
	Usage        UsageSeries // every key, per day, the last 30 days
	Totals       UsageTotals // the same, summed
	TopKeys      []AdminKeyVolume
	FailedEvents int  // Stripe events whose effect failed, but for those below
	FailedMore   bool // there are more failed events than were counted
	// WrongVersionEvents are failed events refused for arriving in another
	// Stripe API version than APIVersion; WrongVersions are the versions
	// they came in, newest first.
	WrongVersionEvents int
	WrongVersions      []string
	APIVersion         string
	// BillingEnabled is false when STRIPE_SECRET_KEY is not set: the
	// overview then says how to turn billing on (customers are only told
	// that upgrades are not available yet).
	BillingEnabled bool
	// DisabledWebhooks are the outbound webhook endpoints Keyhold
	// disabled itself (five days of failures, or 410 Gone).
	DisabledWebhooks []AdminWebhookRow
}

// AdminAccountFilter is the accounts list's filter (query q, plan, status).
type AdminAccountFilter struct {
	Q      string // part of the email
	Plan   string // plan id
	Status string // subscription status, or "none"
}

// AdminAccountRow is an account in the operator's lists.
type AdminAccountRow struct {
	ID, Email  string // Email: the first owner's
	Name       string // the account's name
	Members    int
	IsAdmin    bool
	Suspended  bool
	PlanID     string
	PlanName   string
	Status     string // subscription status; "" without one
	LiveKeys   int
	Keys       int
	Used       int64 // quota units its keys used this period
	CreatedAt  time.Time
	CustomerID string
}

// AdminAccountsPage is /admin/accounts.
type AdminAccountsPage struct {
	Layout
	Filter   AdminAccountFilter
	Plans    []AdminOption // the plan filter's choices
	Statuses []AdminOption // the status filter's choices
	Accounts []AdminAccountRow
	Pager    AdminPager
}

// AdminSubscription is an account's subscription as the operator sees it.
type AdminSubscription struct {
	ID, Status, PriceID  string
	PeriodStart          *time.Time
	PeriodEnd            *time.Time
	CancelAtPeriodEnd    bool
	CanceledAt           *time.Time
	PaymentState         string // "", "paid", "failed"
	Live                 bool   // paid for now: its plan is Stripe's to change
	CustomerID           string // cus_…; "" without one
	CustomerDashboardURL string // the customer in Stripe's dashboard
}

// AdminKeyRow is a key in the operator's lists. It has no secret.
type AdminKeyRow struct {
	ID, Name, Display   string
	Status              string // KeyActive, KeyRevoked, KeyExpired
	OwnerID, OwnerEmail string
	CreatedAt           time.Time
	LastUsed            *time.Time
	Used, Quota         int64 // this period, on the account page; Quota 0: not shown
	// Pooled: the key draws on its account's shared quota (of which
	// PoolUsed is used), on the account and key pages.
	Pooled     bool
	PoolUsed   int64
	Volume     int64 // verifications in the last 30 days, on the keys list
	Overridden bool  // the operator changed its limits
}

// AdminAuditRow is one line of the audit log.
type AdminAuditRow struct {
	ID, Action, Detail, IP  string
	At                      time.Time
	AccountID, AccountEmail string // whose resource
	ActorID, ActorEmail     string // who acted; "" for Stripe or nobody signed in
	TargetType, TargetID    string
	TargetURL               string // the admin page of the target, when there is one
	RootKeyID               string // the root key the management API call came with; "" otherwise
	ActorIsSystem           bool   // Stripe acted
	ActorIsCLI              bool   // an operator on the command line acted; no actor and neither: nobody was signed in (a failed log-in)
}

// AdminAccountPage is /admin/accounts/{id}: the account, its plan and
// subscription, the plan form (POST /admin/accounts/{id}/plan, field
// "plan"), its keys and its audit trail.
type AdminAccountPage struct {
	Layout
	Account      AdminAccountRow
	Subscription *AdminSubscription // nil: never subscribed
	Plans        []AdminOption      // the plan form's choices
	Usage        UsageView          // this period's totals and the last 30 days
	Keys         []AdminKeyRow
	Audit        []AdminAuditRow  // the newest entries
	AuditURL     string           // the whole trail in the audit log
	Self         bool             // the account is the operator's own
	Members      []AdminMemberRow // its members, owners first
	Pool         *PoolQuota       // its shared quota; nil unless its plan pools it
}

// AdminKeyFilter is the keys list's filter (q, status, account).
type AdminKeyFilter struct {
	Q       string // part of the name, or the last four characters
	Status  string // KeyActive, KeyRevoked, KeyExpired; "": any
	Account string // account id
}

// AdminKeysPage is /admin/keys.
type AdminKeysPage struct {
	Layout
	Filter       AdminKeyFilter
	AccountEmail string // the email of Filter.Account, when set
	Statuses     []AdminOption
	Keys         []AdminKeyRow
	Pager        AdminPager
}

// AdminLimits are a key's rate limit, burst and monthly quota.
type AdminLimits struct {
	RatePerSec int
	Burst      int
	Quota      int64
}

// AdminOverrideForm holds the raw inputs of the overrides form; empty means the
// plan's.
type AdminOverrideForm struct {
	Rate  string // field "rate"
	Burst string // field "burst"
	Quota string // field "quota"
}

// AdminKeyPage is /admin/keys/{id}: the key, its owner, usage and limits,
// the overrides form (POST /admin/keys/{id}/overrides) and its audit
// trail.
type AdminKeyPage struct {
	Layout
	Key       AdminKeyRow
	Scopes    []string
	ExpiresAt *time.Time
	RevokedAt *time.Time
	PlanName  string
	Plan      AdminLimits       // the plan's
	Effective AdminLimits       // what the verifier applies
	Form      AdminOverrideForm // what the form shows: the saved overrides, or the operator's input after an error
	Saved     AdminOverrideForm // the overrides in force, which the limits card marks
	Error     string            // an error of the whole form, role="alert"
	Fields    map[string]string // field name → its error, shown under it
	Usage     UsageView         // this period's totals and the last 30 days
	Audit     []AdminAuditRow
	AuditURL  string
	// Pool is the account's shared quota when its plan pools it; the key
	// draws on it unless it has a quota override (Key.Pooled).
	Pool *PoolQuota
}

// AdminEventFilter is the events list's filter (outcome, type).
type AdminEventFilter struct {
	Outcome string
	Type    string
}

// AdminEventRow is one Stripe webhook event.
type AdminEventRow struct {
	ID, Type, Outcome, Detail string
	AccountID, AccountEmail   string
	Created                   time.Time // when Stripe made it
	ReceivedAt                time.Time
	DashboardURL              string // the event in Stripe's dashboard
	CanReapply                bool   // failed, with its payload kept
}

// AdminEventsPage is /admin/events, with a re-apply form (POST
// /admin/events/{id}/reapply, field "back") on each failed event.
type AdminEventsPage struct {
	Layout
	Filter   AdminEventFilter
	Outcomes []AdminOption
	Types    []AdminOption
	Events   []AdminEventRow
	Pager    AdminPager
	Back     string // this page's URL, where a re-apply returns
	Enabled  bool   // webhooks are configured (STRIPE_WEBHOOK_SECRET)
}

// AdminAuditFilter is the audit log's filter (account, action, from, to).
type AdminAuditFilter struct {
	Account string // account id or email
	Action  string // an action, or a prefix ending in "."
	From    string // YYYY-MM-DD, inclusive
	To      string // YYYY-MM-DD, inclusive
}

// AdminAuditPage is /admin/audit.
type AdminAuditPage struct {
	Layout
	Filter       AdminAuditFilter
	AccountEmail string // of Filter.Account, when it names one
	Actions      []AdminOption
	Entries      []AdminAuditRow
	Pager        AdminPager
	Error        string // a filter that could not be read
}

// adminTabs are the console's sections.
var adminTabs = []navItem{
	{Key: AdminTabOverview, Label: "Overview", Href: "/admin"},
	{Key: AdminTabAccounts, Label: "Accounts", Href: "/admin/accounts"},
	{Key: AdminTabKeys, Label: "Keys", Href: "/admin/keys"},
	{Key: AdminTabEvents, Label: "Stripe events", Href: "/admin/events"},
	{Key: AdminTabAudit, Label: "Audit log", Href: "/admin/audit"},
	{Key: AdminTabRootKeys, Label: "Root keys", Href: "/admin/root-keys"},
	{Key: AdminTabWebhooks, Label: "Webhooks", Href: "/admin/webhooks"},
}

// adminAccountURL is the operator's page of an account.
func adminAccountURL(id string) string { return "/admin/accounts/" + url.PathEscape(id) }

// adminKeyURL is the operator's page of a key.
func adminKeyURL(id string) string { return "/admin/keys/" + url.PathEscape(id) }

// adminEventReapplyURL is the re-apply form's action for an event.
func adminEventReapplyURL(id string) string {
	return "/admin/events/" + url.PathEscape(id) + "/reapply"
}

// adminQueryURL is path with the non-empty values of pairs (name, value, …)
// as its query.
func adminQueryURL(path string, pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// adminPagerLine is "51–100", or "" for an empty list.
func adminPagerLine(p AdminPager) string {
	if p.First <= 0 {
		return ""
	}
	return formatCount(int64(p.First)) + "–" + formatCount(int64(p.Last))
}

// adminOutcomeClass colours a webhook event's outcome.
func adminOutcomeClass(outcome string) string {
	switch outcome {
	case "applied":
		return "badge badge-success"
	case "failed":
		return "badge badge-danger"
	case "processing":
		return "badge badge-info"
	default:
		return "badge badge-gray"
	}
}

// adminOutcomeLabel is a webhook event's outcome as its badge says it.
func adminOutcomeLabel(outcome string) string {
	if outcome == "" {
		return "Unknown"
	}
	return strings.ToUpper(outcome[:1]) + outcome[1:]
}

// adminAuditLabels name the actions of the whole audit log.
var adminAuditLabels = map[string]string{
	"account.created":          "Created account",
	"account.edited":           "Edited account",
	"account.login":            "Logged in",
	"account.login_failed":     "Failed log-in",
	"account.logout":           "Logged out",
	"account.password_changed": "Changed password",
	"account.promoted":         "Made operator",
	"account.demoted":          "Operator role removed",
	"account.suspended":        "Suspended",
	"account.unsuspended":      "Suspension lifted",
	"key.created":              "Created key",
	"key.renamed":              "Renamed key",
	"key.edited":               "Edited key",
	"key.rotated":              "Rotated key",
	"key.revoked":              "Revoked key",
	"key.overrides_changed":    "Changed key limits",
	"plan.changed":             "Plan changed by Stripe",
	"plan.assigned":            "Plan assigned",
	"stripe.event_reapplied":   "Re-applied Stripe event",

	"account.password_reset_requested": "Asked for a reset link",
	"account.password_reset_link_made": "Made a reset link",
	"account.email_verified":           "Verified email",
	"account.email_change_requested":   "Asked to change email",
	"account.email_changed":            "Changed email",

	"member.invited":            "Invited a member",
	"member.invitation_revoked": "Revoked an invitation",
	"member.added":              "Joined",
	"member.role_changed":       "Changed a role",
	"member.removed":            "Removed a member",
	"member.left":               "Left",

	"root_key.created": "Created root key",
	"root_key.revoked": "Revoked root key",
}

// adminAuditLabel names an action of the audit log; an unknown one shows
// as it is stored.
func adminAuditLabel(action string) string {
	if l, ok := adminAuditLabels[action]; ok {
		return l
	}
	return action
}

// adminAuditDotClass colours the dot of an audit line: failures red,
// operator actions indigo, creations green, the rest grey.
func adminAuditDotClass(action string) string {
	switch action {
	case "account.login_failed", "key.revoked", "account.suspended", "root_key.revoked":
		return "bg-red-500"
	case "key.overrides_changed", "plan.assigned", "stripe.event_reapplied",
		"account.promoted", "account.demoted", "account.unsuspended", "root_key.created":
		return "bg-indigo-500"
	case "account.created", "key.created", "plan.changed":
		return "bg-emerald-500"
	default:
		return "bg-gray-400"
	}
}

// adminRate is "100/s".
func adminRate(n int) string { return formatCount(int64(n)) + "/s" }

// adminOverrideHint is the hint under an override field: what the plan gives.
func adminOverrideHint(planValue string) string { return "Empty: the plan's " + planValue + "." }

// adminShortID is the first characters of an id, for dense tables; the whole id
// goes in a title.
func adminShortID(id string) string {
	if len(id) <= 10 {
		return id
	}
	return id[:10] + "…"
}

// adminAccountsCount is "1 account" or "n accounts".
func adminAccountsCount(n int) string {
	if n == 1 {
		return "1 account"
	}
	return formatCount(int64(n)) + " accounts"
}

// adminKeysLine is "2 active, 3 in all", or "2 active" when that is all.
func adminKeysLine(live, all int) string {
	s := strconv.Itoa(live) + " active"
	if all > live {
		s += ", " + strconv.Itoa(all) + " in all"
	}
	return s
}

// overrideDescribedBy is an override input's aria-describedby: its error,
// when it has one, then its hint.
func overrideDescribedBy(id, errMsg string) string {
	if errMsg != "" {
		return id + "-error " + id + "-hint"
	}
	return id + "-hint"
}
