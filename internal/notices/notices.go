// Package notices warns developers before a quota or a key runs out
// (DESIGN.md "Events: outbound webhooks and notices"): at 80 % and 100 % of
// a key's quota in a window and 7 days and 1 day before a key expires, a
// banner on the dashboard and the key page with a forecast and a fix, and a
// mail to the account's owners and admins, once per threshold per window
// and per expiry notice.
//
// Quota thresholds come from the verifier's counting (verify.ThresholdSink,
// implemented by Sink), never from polling keys or from a database read on
// the hot path: the verifier reports the take that crossed, Sink records it
// in the background, and a row inserted once per key, window and threshold
// makes it once across instances and restarts. Expiry notices come from an
// hourly job (ExpiryWorker). Banners are read from the live counts the
// pages already show (Banners), so a page shows a notice at once, whatever
// was recorded.
package notices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/quota"
)

// Kinds of notice: of a quota and of an expiry. They name the mails'
// preferences too.
const (
	KindQuota  = "quota"
	KindExpiry = "expiry"
)

// Expiry notices, in days before a key expires.
const (
	ExpiryWeek = 7
	ExpiryDay  = 1
)

// Crossing is a quota threshold a key, or an account's shared quota,
// crossed in a window.
type Crossing struct {
	KeyID, AccountID string // KeyID "": the account's shared quota (verify.ThresholdSink)
	Percent          int    // 80 or 100
	Used, Limit      int64
	Window           quota.Window
}

// Pooled reports whether the crossing is of the account's shared quota
// (plans.ScopeAccount) rather than of one key's.
func (c Crossing) Pooled() bool { return c.KeyID == "" }

// Subject is whose quota crossed: the key's id, or the account's for a
// shared quota. A notice is recorded once per subject, window and
// threshold.
func (c Crossing) Subject() string {
	if c.Pooled() {
		return c.AccountID
	}
	return c.KeyID
}

// Scopes of a quota.threshold event's "scope": a key's quota or an
// account's shared one (plans.ScopeKey, plans.ScopeAccount).
const (
	ScopeKey     = "key"
	ScopeAccount = "account"
)

// Scope is the crossing's quota scope, ScopeKey or ScopeAccount.
func (c Crossing) Scope() string {
	if c.Pooled() {
		return ScopeAccount
	}
	return ScopeKey
}

// Expiring is a key that expires soon, and which notice it is due.
type Expiring struct {
	KeyID, AccountID, Name string
	ExpiresAt              time.Time
	Days                   int // ExpiryWeek or ExpiryDay
}

// Mail is one notice mail to one recipient, as internal/mail renders it.
// It names the key by id and name, never by its secret.
type Mail struct {
	Kind        string // KindQuota or KindExpiry
	To          string
	AccountName string
	KeyID       string // "" for a shared quota's notice (Pooled)
	KeyName     string
	// Pooled: a KindQuota notice of the account's shared quota, which
	// all its keys draw on; it names no key.
	Pooled bool
	// KindQuota: the threshold, the count and the window's end.
	Percent   int
	Used      int64
	Limit     int64
	WindowEnd time.Time
	// KindExpiry: when the key expires and which notice this is.
	ExpiresAt time.Time
	Days      int
}

// Prefs are a user's notice mail preferences: each kind is on unless
// turned off.
type Prefs struct {
	QuotaMail  bool
	ExpiryMail bool
}

// DefaultPrefs are the preferences of a user who has set none.
var DefaultPrefs = Prefs{QuotaMail: true, ExpiryMail: true}

// Store is what notices keep in the database.
type Store interface {
	// RecordThreshold inserts c's row (c.Subject(), window start,
	// percent) once;
	// when it is new it queues, in the same transaction, the notice mail
	// to each owner and admin of c.AccountID who has not turned quota
	// mail off (when mail is true: email is on) and writes the
	// quota.threshold event. It reports whether the row was new.
	RecordThreshold(ctx context.Context, c Crossing, mail bool, now time.Time) (bool, error)
	// ExpiringKeys returns the keys, neither revoked nor expired, whose
	// expiry lies in (now, until].
	ExpiringKeys(ctx context.Context, now, until time.Time) ([]Expiring, error)
	// RecordExpiry inserts e's row (key, expiry, days) once and, when it
	// is new, queues the mails (as RecordThreshold, for expiry mail) and
	// writes the key.expiring event, in one transaction.
	RecordExpiry(ctx context.Context, e Expiring, mail bool, now time.Time) (bool, error)
	// Dismissed returns the notice ids the user dismissed, from among ids.
	Dismissed(ctx context.Context, userID string, ids []string) (map[string]bool, error)
	// Dismiss records that the user dismissed a notice (again: nothing).
	Dismiss(ctx context.Context, userID, noticeID string, now time.Time) error
	// NoticePrefs returns a user's preferences (DefaultPrefs when none).
	NoticePrefs(ctx context.Context, userID string) (Prefs, error)
	// SetNoticePrefs saves a user's preferences.
	SetNoticePrefs(ctx context.Context, userID string, p Prefs, now time.Time) error
	// PruneNotices deletes the quota notices of windows that ended before
	// windowsEnded, the expiry notices of expiries before expiredBefore
	// and the dismissals made before dismissedBefore, and returns how many
	// rows went.
	PruneNotices(ctx context.Context, windowsEnded, expiredBefore, dismissedBefore time.Time) (int64, error)
}

// Config configures a Service.
type Config struct {
	Store Store
	// EmailOn: notice mails are queued (KEYHOLD_SMTP_URL is set). Off,
	// notices are still recorded and shown, and no mail is queued, since
	// nothing would send it.
	EmailOn bool
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now; for tests
}

// Service records notices and answers the banners, dismissals and
// preferences of the pages.
type Service struct {
	store   Store
	emailOn bool
	log     *slog.Logger
	now     func() time.Time

	// What the Sink lost: crossings dropped on a full queue, and those
	// that could not be recorded; for /metrics (CrossingsLost).
	dropped, failed atomic.Int64
	lastDropLog     atomic.Int64 // unix seconds of the last "dropped" log line
}

// CrossingsLost returns how many threshold crossings were dropped because
// the Sink's queue was full, and how many could not be recorded (the
// database away for all of a crossing's attempts): each is a notice, a
// mail and a quota.threshold event that will not come this window.
func (s *Service) CrossingsLost() (dropped, failed int64) {
	return s.dropped.Load(), s.failed.Load()
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("notices: Store is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, emailOn: c.EmailOn, log: c.Logger, now: c.Now}, nil
}

// RecordThreshold records a crossing (once) with its mails and event.
func (s *Service) RecordThreshold(ctx context.Context, c Crossing) (bool, error) {
	if c.Percent != 80 && c.Percent != 100 {
		return false, fmt.Errorf("notices: threshold %d %%: only 80 and 100 are notices", c.Percent)
	}
	if c.AccountID == "" {
		return false, errors.New("notices: a crossing names no account")
	}
	created, err := s.store.RecordThreshold(ctx, c, s.emailOn, s.now())
	if err != nil {
		what := "key " + c.KeyID
		if c.Pooled() {
			what = "the shared quota of account " + c.AccountID
		}
		return false, fmt.Errorf("notices: record %d %% of %s: %w", c.Percent, what, err)
	}
	return created, nil
}

// Prefs returns a user's notice mail preferences.
func (s *Service) Prefs(ctx context.Context, userID string) (Prefs, error) {
	p, err := s.store.NoticePrefs(ctx, userID)
	if err != nil {
		return Prefs{}, fmt.Errorf("notices: preferences: %w", err)
	}
	return p, nil
}

// SetPrefs saves a user's notice mail preferences.
func (s *Service) SetPrefs(ctx context.Context, userID string, p Prefs) error {
	if userID == "" {
		return keyhold.Errorf(keyhold.EINVALID, "Sign in to change your notice emails.")
	}
	if err := s.store.SetNoticePrefs(ctx, userID, p, s.now()); err != nil {
		return fmt.Errorf("notices: save preferences: %w", err)
	}
	return nil
}

// Notice ids encode kind, level, key and window (or expiry), so that a
// dismissal hides exactly one notice: the next window, the next threshold
// or a new expiry shows again.
func quotaID(percent int, keyID string, w quota.Window) string {
	return "q" + strconv.Itoa(percent) + "." + keyID + "." + strconv.FormatInt(w.Start.Unix(), 10)
}

func expiryID(days int, keyID string, expiresAt time.Time) string {
	return "e" + strconv.Itoa(days) + "." + keyID + "." + strconv.FormatInt(expiresAt.Unix(), 10)
}

// validID reports whether id has the shape of a notice id (it says
// nothing of whose it is).
func validID(id string) bool {
	parts := strings.Split(id, ".")
	if len(parts) != 3 || len(id) > 100 {
		return false
	}
	switch parts[0] {
	case "q80", "q100", "e7", "e1":
	default:
		return false
	}
	if _, err := strconv.ParseInt(parts[2], 10, 64); err != nil || parts[1] == "" {
		return false
	}
	return true
}
