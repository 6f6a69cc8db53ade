// Package templates holds Keyhold's templ components: one layout and one
// exported component per page, each taking a typed view model built by the
// handlers in internal/server. It imports no service: everything a page
// shows arrives in its view model.
package templates

import "time"

// Layout is the shell data every page needs. Handlers build it with one
// helper (server.layout) instead of filling it per page.
type Layout struct {
	Title   string   // page title, without the product name
	Account *Account // nil for anonymous pages (login, sign-up, errors)
	CSRF    string   // value for the hidden _csrf field of every form
	Flashes []Flash  // one-time messages, shown with role="alert"
	Nav     string   // active nav item: "dashboard", "keys", "billing", "account", "admin"
	Assets  Assets
	Now     time.Time // the request's time, for "3 minutes ago"
}

// Account is the signed-in user and the account (team) they act in, as
// the shell shows them.
type Account struct {
	ID      string // the current account's id
	Name    string // the current account's name
	Role    string // the user's role in it: owner, admin, developer, billing, viewer
	UserID  string
	Email   string // the user's email
	IsAdmin bool   // the user is an operator
	Plan    string // the current account's plan name, e.g. "Free"
	// Unverified shows the banner asking to verify the address (only
	// when email is set up).
	Unverified bool
	// Accounts are every account the user belongs to, for the header
	// switcher (data-testid="account-switcher", POST /accounts/switch with
	// account_id), ordered by name; the current one is marked.
	Accounts []AccountChoice
}

// AccountChoice is one account of the header switcher.
type AccountChoice struct {
	ID, Name, Role string
	Current        bool
}

// Assets are the versioned URLs of the built front-end files.
type Assets struct {
	CSS string // e.g. /static/css/app.css?v=3f2a…
	JS  string // e.g. /static/js/app.js?v=9c1b…
	// Icon is the favicon's versioned URL; empty: the unversioned
	// /static/favicon.svg.
	Icon string
}

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashError   = "error"
	FlashInfo    = "info"
)

// Flash is a one-time message.
type Flash struct {
	Kind    string // FlashSuccess, FlashError or FlashInfo
	Message string
}

// AuthPage is the view model of the log-in and sign-up pages.
type AuthPage struct {
	Layout
	Email  string            // what the user typed, re-shown after an error
	Error  string            // shown with role="alert" above the form; empty for none
	Fields map[string]string // field name ("email", "password") → its error, shown under it
}

// DashboardPage is the view model of /dashboard.
type DashboardPage struct {
	Layout
	BaseURL string   // public URL, for the quickstart curl call
	Keys    []KeyRow // the account's keys, newest first; empty: show the empty state
	Plan    Plan
	Usage   UsageView // all keys together: this period's totals and the last 30 days
	Notices []NoticeBanner
	Pool    *PoolQuota // the account's shared quota; nil unless its plan pools it
}

// PoolQuota is an account's shared quota this period (a plan whose quota
// is one pool for all of the account's keys), shown as one bar
// (data-testid="pool-quota").
type PoolQuota struct {
	Used    int64     // by all the account's pooled keys together
	Limit   int64     // the plan's monthly quota
	Resets  time.Time // the period's end
	Keyless bool      // the account has no keys yet
}

// Plan is the account's plan as the key pages show it.
type Plan struct {
	ID           string // "free": what /v1/verify answers as "plan"
	Name         string // "Free"
	MaxKeys      int    // live keys allowed
	LiveKeys     int    // live keys held
	MonthlyQuota int64  // per key, or for all keys together when Pooled
	RatePerSec   int    // per key
	Burst        int    // per key
	// Pooled: MonthlyQuota is one pool shared by all of the account's
	// keys, not each key's.
	Pooled bool
	// Upgrades is true when plans can be bought (Stripe is configured):
	// only then do the key pages offer an upgrade.
	Upgrades bool
}

// AtLimit reports whether the account may create no more keys.
func (p Plan) AtLimit() bool { return p.MaxKeys > 0 && p.LiveKeys >= p.MaxKeys }

// Key statuses, as KeyRow.Status carries them.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
	KeyExpired = "expired"
)

// KeyRow is a key as lists and the detail page show it. It never holds the
// secret.
type KeyRow struct {
	ID        string
	Name      string
	Display   string // kh_live_…abcd
	Scopes    []string
	Status    string // KeyActive, KeyRevoked or KeyExpired
	CreatedAt time.Time
	LastUsed  *time.Time // nil: never used
	ExpiresAt *time.Time // nil: never expires
	RevokedAt *time.Time
	Used      int64 // verifications counted against the quota this period
	Quota     int64 // the key's quota this period; 0: unknown, hide the bar
	// Pooled: the key has no quota of its own but draws on its
	// account's shared one; PoolUsed is what all the pooled keys used,
	// so the row can show the key's share of it.
	Pooled   bool
	PoolUsed int64
	// CreatedBy is the email of the user who created the key; "" when
	// unknown (made by the operator's tools or a user since removed).
	CreatedBy string
}

// KeysPage is the view model of /keys.
type KeysPage struct {
	Layout
	Keys   []KeyRow
	Plan   Plan
	Filter KeyListFilter
	Pool   *PoolQuota // the account's shared quota; nil unless its plan pools it
}

// KeyListFilter is the key list's status filter and sort order, as links
// that keep ?status= and ?sort= in the URL.
type KeyListFilter struct {
	Statuses []KeyListOption // Active, Revoked, All
	Sorts    []KeyListOption // Created, Name, Last used
	Total    int             // keys held in all, whatever the filter
}

// KeyListOption is one choice of the key list's filter or sort.
type KeyListOption struct {
	Value, Label, URL string
	Current           bool
}

// KeyForm holds the raw inputs of the key form, re-shown after an error.
type KeyForm struct {
	Name   string // field "name"
	Scopes string // field "scopes": comma- or space-separated
	Meta   string // field "meta": a JSON object, may be empty
	// IPAllowlist is field "ip_allowlist": CIDRs one a line or
	// comma-separated; empty for any address. A stored key's list is
	// shown normalised, one a line.
	IPAllowlist string
	Expiry      string // field "expiry" (new-key form): days of a preset, "custom" or "never"
	Expires     string // field "expires": YYYY-MM-DD, empty for never
}

// KeyNewPage is the view model of /keys/new (form "POST /keys").
type KeyNewPage struct {
	Layout
	Form   KeyForm
	Error  string            // an error of the whole form, role="alert"
	Fields map[string]string // field name → its error, shown under it
	Plan   Plan              // when Plan.AtLimit(), say so and link to /billing
	// ScopeSuggestions are the scopes the account's keys already use,
	// offered as chips and a datalist.
	ScopeSuggestions []string
	ExpiryPresets    []int // "expires in" choices, in days
}

// KeyCreatedPage shows a new or rotated secret, once. The page answers the
// POST that made the secret; it must replace its URL with /keys/{id} (via
// app.js and data-replace-url) so a reload does not resubmit the form.
type KeyCreatedPage struct {
	Layout
	Key        KeyRow
	Secret     string     // the full key, in data-testid="new-key"
	BaseURL    string     // for the ready curl call with the key filled in
	Rotated    bool       // true after a rotation, false after a create
	GraceUntil *time.Time // rotation only: the old secret works until then; nil: stopped at once
}

// GraceOption is one choice of the rotate form's "grace" select.
type GraceOption struct {
	Value   string // "0", "1h", "24h", "168h"
	Label   string // "None: stop the old secret now", …
	Default bool   // pre-selected
}

// AuditRow is one audit-log line about a key.
type AuditRow struct {
	Action string // e.g. "key.rotated"
	Detail string
	IP     string
	At     time.Time
}

// KeyDetailPage is the view model of /keys/{id}: settings form (POST
// /keys/{id}), rotate (POST /keys/{id}/rotate, select "grace"), revoke (POST
// /keys/{id}/revoke, with data-confirm), and the audit trail.
type KeyDetailPage struct {
	Layout
	Key          KeyRow
	Form         KeyForm           // current settings, or the user's input after an error
	Error        string            // settings error of the whole form, role="alert"
	Fields       map[string]string // settings field name → its error, shown under it
	Meta         string            // pretty-printed metadata JSON
	IPAllowlist  []string          // the key's stored IP allow-list; empty: any address
	Plan         Plan
	GraceOptions []GraceOption
	Audit        []AuditRow
	BaseURL      string
	Usage        UsageView  // this period's totals, the last 30 days and the last 24 hours
	Pool         *PoolQuota // the account's shared quota; nil unless its plan pools it
	// OldSecretUntil is when the previous secret stops, during a
	// rotation's grace period (with "expire it now"); nil: none works.
	OldSecretUntil *time.Time
	// A revoked key's summary: who revoked it ("you", "an operator", ""
	// for unknown) and its usage over its whole life.
	RevokedBy   string
	UsageToDate UsageTotals
	Notices     []NoticeBanner // this key's notices
	// Extended: the settings form's expiry was pre-filled later by a
	// notice's Rotate fix, and says so.
	Extended bool
}

// AccountPage is the view model of /account.
type AccountPage struct {
	Layout
	Email     string
	CreatedAt time.Time
	Error     string            // password-change error of the whole form, role="alert"
	Fields    map[string]string // password form field ("current_password", "password") → its error
	// Verified says the address is verified; EmailOn that email is set up
	// (the email-change form needs it).
	Verified bool
	EmailOn  bool
	// NewEmail and EmailError are the email-change form's input and error.
	NewEmail   string
	EmailError string
	// NoticePrefs are which notice emails the user gets (POST
	// /account/notices, boxes quota_mail and expiry_mail).
	QuotaMail, ExpiryMail bool
}

// ErrorPage is the view model of the 404/500/… pages.
type ErrorPage struct {
	Layout
	Status  int
	Title   string
	Message string
}

// PlanCard is one plan of the catalog as the billing page shows it.
type PlanCard struct {
	ID           string
	Name         string
	Price        string // display price, e.g. "$29/mo"
	RatePerSec   int    // per key
	Burst        int    // per key
	MonthlyQuota int64  // per key, or for all keys together when Pooled
	Pooled       bool   // one quota shared by all of an account's keys
	MaxKeys      int
	Current      bool // the account's plan: data-testid="current-plan"
	Paid         bool // sold through Stripe: its button posts /billing/checkout with plan=ID
}

// BillingPage is the view model of /billing.
type BillingPage struct {
	Layout
	Enabled      bool       // false: billing is not configured (no STRIPE_SECRET_KEY); say how to configure it
	Plans        []PlanCard // the catalog, in order
	Current      PlanCard
	Status       string     // the subscription's status ("active", "trialing", "past_due", "canceled", "incomplete", …); "" without one
	RenewsAt     *time.Time // end of the current period, when it renews
	CancelsAt    *time.Time // end of the current period, when set to cancel then
	CanceledAt   *time.Time // when the subscription was canceled
	PaymentState string     // "", "paid" or "failed" (the latest invoice)
	HasCustomer  bool       // show "Manage billing" (POST /billing/portal)
	Subscribed   bool       // a live paid subscription: plan changes go through the portal, not Checkout
	Checkout     string     // "success" or "canceled" when coming back from Checkout
}

// ForgotPage is /password/forgot.
type ForgotPage struct {
	Layout
	EmailOn bool   // without email, the page says to ask the operator
	Email   string // what the user typed, re-shown after an error
	Error   string
	Sent    bool // the request was taken: "if an account has this address, …"
}

// ResetPage is /password/reset/{token}.
type ResetPage struct {
	Layout
	Token string // goes back in the form's action only
	Error string
	// Dead is set when the link does not work (unknown, used, expired):
	// the page shows Error and a way to ask for a new link, no form.
	Dead bool
}

// TokenPage is the confirmation step of a mailed link (/email/verify/…,
// /email/change/…): a button that POSTs back, so that a mail scanner that
// follows links does not use the token.
type TokenPage struct {
	Layout
	Heading string
	Text    string
	Action  string // the form's action: the link's own path
	Button  string
	Error   string
	Dead    bool // the link does not work; no button
}

// AdminResetLinkPage shows an operator a password reset link, once.
type AdminResetLinkPage struct {
	Layout
	UserID  string
	Email   string
	Link    string
	Expires time.Time
}
