package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
)

// Config configures a Service.
type Config struct {
	Store Store
	// Attempts keeps the throttle counters. Production passes the store, so
	// that counts survive a restart and are shared by every instance; nil
	// keeps them in this process's memory (NewThrottle).
	Attempts Attempts
	Secret   []byte // instance secret; session signing key is derived from it
	// SessionTTL is how long a session lasts; default 7 days.
	SessionTTL time.Duration
	// Log-in throttling, in windows of FailureWindow (default 15 minutes).
	// Wrong current passwords on the account page count as failed log-ins.
	//
	// AccountAddressFailures is the low limit: failures per account from
	// one client address (default 10). It stops guessing without letting a
	// stranger lock the owner out: the owner's own address has its own
	// count. AccountFailures is the ceiling per account from every address
	// together (default 100, NIST SP 800-63B's most), for guessing spread
	// over many addresses. AddressFailures bounds one address over every
	// account (default 50).
	AccountAddressFailures, AccountFailures, AddressFailures int
	FailureWindow                                            time.Duration
	// SignupsPerAddress is how many sign-ups one client address may make in
	// SignupWindow; defaults 20 and 1 hour.
	SignupsPerAddress int
	SignupWindow      time.Duration
	// Email keeps the tokens of the email journeys (password reset,
	// verification, email change); nil: they are off.
	Email EmailStore
	// EmailEnabled says mail can be sent (KEYHOLD_SMTP_URL): without it
	// nothing is mailed, and only an operator's reset link works.
	EmailEnabled bool
	// Throttles of the email journeys, per ResetWindow (default 1 hour):
	// reset requests per client address (default 10) and per email
	// (default 3), verification and change mails per account (default 5).
	ResetsPerAddress, ResetsPerEmail, VerificationsPerAccount int
	ResetWindow                                               time.Duration
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
	// CheapHashing hashes new passwords with the cheapest argon2id
	// parameters instead of OWASP's. For tests only, that sign up and log
	// in hundreds of times: nothing outside tests sets it, and no setting
	// or environment variable reaches it (TestCheapHashingOnlyInTests).
	// Hashes already stored verify either way, by their own parameters.
	CheapHashing bool
}

// Service signs people up and in, and issues and checks their sessions.
type Service struct {
	store    Store
	attempts Attempts
	keyKey   []byte // keys the digests that name throttle counters
	tokens   tokens
	hasher   *hasher
	ttl      time.Duration
	now      func() time.Time

	pairFailures, accountFailures, addressFailures int
	failureWindow                                  time.Duration
	signups                                        int
	signupWindow                                   time.Duration

	changes                                                   listeners // told of suspensions (operator_actions.go)
	email                                                     EmailStore
	emailOn                                                   bool
	resetsPerAddress, resetsPerEmail, verificationsPerAccount int
	resetWindow                                               time.Duration
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("auth: no store")
	}
	if len(c.Secret) < 32 {
		return nil, errors.New("auth: secret shorter than 32 bytes")
	}
	if c.Attempts == nil {
		c.Attempts = NewThrottle(0)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 7 * 24 * time.Hour
	}
	orDefault := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	orDefault(&c.AccountAddressFailures, 10)
	orDefault(&c.AccountFailures, 100)
	orDefault(&c.AddressFailures, 50)
	orDefault(&c.SignupsPerAddress, 20)
	if c.FailureWindow <= 0 {
		c.FailureWindow = 15 * time.Minute
	}
	if c.SignupWindow <= 0 {
		c.SignupWindow = time.Hour
	}
	orDefault(&c.ResetsPerAddress, 10)
	orDefault(&c.ResetsPerEmail, 3)
	orDefault(&c.VerificationsPerAccount, 5)
	if c.ResetWindow <= 0 {
		c.ResetWindow = time.Hour
	}
	if c.EmailEnabled && c.Email == nil {
		return nil, errors.New("auth: EmailEnabled without an Email store")
	}
	return &Service{
		store:           c.Store,
		attempts:        c.Attempts,
		keyKey:          DeriveKey(c.Secret, "throttle-key"),
		tokens:          tokens{key: DeriveKey(c.Secret, "session-jwt"), now: c.Now},
		hasher:          newHasher(hashParams(c.CheapHashing)),
		ttl:             c.SessionTTL,
		now:             c.Now,
		pairFailures:    c.AccountAddressFailures,
		accountFailures: c.AccountFailures,
		addressFailures: c.AddressFailures,
		failureWindow:   c.FailureWindow,
		signups:         c.SignupsPerAddress,
		signupWindow:    c.SignupWindow,

		email:                   c.Email,
		emailOn:                 c.EmailEnabled,
		resetsPerAddress:        c.ResetsPerAddress,
		resetsPerEmail:          c.ResetsPerEmail,
		verificationsPerAccount: c.VerificationsPerAccount,
		resetWindow:             c.ResetWindow,
	}, nil
}

// hashParams returns the argon2id parameters of new hashes.
func hashParams(cheap bool) *argon2id.Params {
	if cheap {
		return cheapParams
	}
	return params
}

// NormalizeEmail trims and lower-cases an email and checks it is a plain
// address without invisible or control characters (keyhold.CheckText). It
// returns an EINVALID error otherwise.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", keyhold.Errorf(keyhold.EINVALID, "Enter your email address.")
	}
	if len(email) > MaxEmailLen {
		return "", errEmailTooLong
	}
	// net/mail takes any UTF-8 in an address, bidirectional overrides
	// included, and the email is what the operator reads an account by.
	if err := keyhold.CheckText("The email address", email); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "", keyhold.Errorf(keyhold.EINVALID, "Enter a valid email address, like you@example.com.")
	}
	return email, nil
}

// errEmailTooLong refuses an email longer than any address can be, before
// it is stored or counted anywhere.
var errEmailTooLong = keyhold.Errorf(keyhold.EINVALID, "An email address has at most %d characters.", MaxEmailLen)

// Signup creates a user and their personal account from the command line
// (keyhold admin create-user): its audit entry carries no client address,
// and the operator is not throttled. Errors: EINVALID, ECONFLICT.
func (s *Service) Signup(ctx context.Context, email, password string, admin bool) (*User, error) {
	return s.signup(ctx, email, password, admin, "", "Created on the command line", false, true)
}

// SignupFrom creates an ordinary account for the sign-up form of the client
// at address. Each address may sign up SignupsPerAddress times per
// SignupWindow (every attempt that gets as far as hashing its password
// counts), and sign-ups hash within their share of the hashing slots.
// Errors: EINVALID, ECONFLICT, ETOOMANY (see RetryAfter).
func (s *Service) SignupFrom(ctx context.Context, email, password, address string) (*User, error) {
	return s.signup(ctx, email, password, false, address, "Signed up", true, false)
}

// SignupInvited is SignupFrom through an invitation's link. The address
// is NOT marked verified, although DESIGN.md's first wording said it would
// be: whoever invites sees the link too (it is shown once to copy), so an
// inviter could sign up as anyone's address and hold it verified, past
// KEYHOLD_REQUIRE_VERIFIED_EMAIL. The new user verifies as every user
// does, through the mail that sign-up sends. The caller has checked that
// the invitation is open and for this email.
func (s *Service) SignupInvited(ctx context.Context, email, password, address string) (*User, error) {
	return s.signup(ctx, email, password, false, address, "Signed up through an invitation", true, false)
}

func (s *Service) signup(ctx context.Context, email, password string, admin bool, address, detail string, fromForm, verified bool) (*User, error) {
	// Both fields at once (fields "email" and "password"), so the form
	// does not take two submits.
	var fe keyhold.FieldErrors
	email, err := NormalizeEmail(email)
	fe.AddErr("email", err)
	fe.AddErr("password", CheckPassword(password, email))
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var hash string
	if fromForm {
		// Counted before hashing, so a burst cannot get ahead of the count.
		limits := []Limit{{Key: s.throttleKey("signup:address", clientKey(address)), Max: s.signups, Window: s.signupWindow}}
		if _, err := s.take(ctx, limits, "Too many sign-ups from your network. Try again in %d minute%s."); err != nil {
			return nil, err
		}
		hash, err = s.hasher.hashSignup(ctx, password)
	} else {
		hash, err = s.hasher.hash(ctx, password)
	}
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &User{ID: keyhold.NewID(), Email: email, PasswordHash: hash, IsAdmin: admin, CreatedAt: now, UpdatedAt: now}
	if verified {
		// The operator typed the address on the command line (there is
		// nobody to verify it from), or an invitation mailed to it was
		// followed.
		a.EmailVerifiedAt = &now
	}
	// Every user starts with a personal account they own, named by their
	// address. It shares the user's id, as the accounts that migration
	// 0013 split into a user and an account do: ids are per table, and a
	// personal account's id never changes. Every other account (a team)
	// has an id of its own.
	personal := &team.Account{ID: a.ID, Name: email, CreatedAt: now, UpdatedAt: now}
	if admin {
		detail += " (operator)"
	}
	// The entry (and its account.created event) is written in the user's
	// transaction: a sign-up that fails leaves no account without its
	// event, and no address taken by a user it did not make.
	e := audit.Entry{ID: keyhold.NewID(), AccountID: personal.ID, ActorID: a.ID, Action: audit.AccountCreated, TargetType: audit.TargetAccount,
		TargetID: personal.ID, IP: address, Detail: detail, CreatedAt: now}
	if err := s.store.CreateUser(ctx, a, personal, &e); err != nil {
		if errors.Is(err, ErrEmailTaken) {
			return nil, &keyhold.Error{Code: keyhold.ECONFLICT, Message: "An account with this email already exists. Log in instead?", Err: err}
		}
		return nil, fmt.Errorf("auth: sign up: %w", err)
	}
	if fromForm && !verified && s.emailOn {
		if _, err := s.issue(ctx, a, PurposeVerifyEmail, a.Email, VerifyTTL, true); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// record appends an audit entry about user userID (empty: none known) by
// actorID (empty: nobody signed in) from address. A user belongs to no one
// account, so the entry names none.
func (s *Service) record(ctx context.Context, userID, actorID, address, action, detail string) error {
	e := audit.Entry{ID: keyhold.NewID(), ActorID: actorID, Action: action, TargetType: audit.TargetUser,
		TargetID: userID, IP: address, Detail: detail, CreatedAt: s.now().UTC()}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("auth: audit %s: %w", action, err)
	}
	return nil
}

// errBadCredentials is the one answer for an unknown email and a wrong
// password, so the log-in form does not tell which accounts exist.
var errBadCredentials = keyhold.Errorf(keyhold.EUNAUTHORIZED, "Incorrect email or password.")

// Login checks an email and password from the client at address.
//
// Each attempt is counted before its password is hashed, against three
// limits (see Config): the account from this address, the account from
// anywhere, and this address over every account. Counting and checking are
// one step, so a burst of parallel attempts gets no more password checks
// than the limits allow; a successful log-in takes its attempt back and
// clears the account's failures from this address. Past a limit every
// attempt is refused with ETOOMANY, right password or not, until the window
// ends. Errors: EINVALID (an email longer than MaxEmailLen), EUNAUTHORIZED,
// ETOOMANY (see RetryAfter).
func (s *Service) Login(ctx context.Context, email, password, address string) (*User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > MaxEmailLen {
		return nil, errEmailTooLong
	}
	limits := s.loginLimits(email, address)
	starts, err := s.take(ctx, limits, "Too many failed attempts. Try again in %d minute%s.")
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(password) > MaxPasswordLen {
		return nil, errBadCredentials // counted, never hashed
	}
	a, err := s.store.UserByEmail(ctx, email)
	hash := ""
	switch {
	case err == nil:
		hash = a.PasswordHash
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("auth: log in: %w", err)
	}
	// Unknown emails are compared against a dummy hash: the same time, the
	// same counts, the same answer as a wrong password.
	ok, err := s.hasher.compare(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !ok || a == nil {
		// Throttled attempts (above) are not logged: they change nothing
		// and would let one client fill the log. The typed email is not
		// kept either: people paste passwords into it.
		accountID, detail := "", "Unknown email"
		if a != nil {
			accountID, detail = a.ID, "Wrong password"
		}
		if err := s.record(ctx, accountID, "", address, audit.LoginFailed, detail); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	if err := s.succeeded(ctx, limits, starts); err != nil {
		return nil, fmt.Errorf("auth: log in: %w", err)
	}
	if err := s.record(ctx, a.ID, a.ID, address, audit.LoggedIn, "Logged in"); err != nil {
		return nil, err
	}
	return a, nil
}

// loginLimits are the limits a log-in (or a check of the current password)
// for email from address counts against. The first is the account from
// this address, which a success clears.
func (s *Service) loginLimits(email, address string) []Limit {
	addr := clientKey(address)
	return []Limit{
		{Key: s.throttleKey("login:account-address", email, addr), Max: s.pairFailures, Window: s.failureWindow},
		{Key: s.throttleKey("login:account", email), Max: s.accountFailures, Window: s.failureWindow},
		{Key: s.throttleKey("login:address", addr), Max: s.addressFailures, Window: s.failureWindow},
	}
}

// succeeded undoes what a successful check of a password counted against
// loginLimits: the attempt is taken back from the account and the address,
// and the account's failures from this address are forgotten.
func (s *Service) succeeded(ctx context.Context, limits []Limit, starts []time.Time) error {
	if err := s.attempts.ForgetAttempts(ctx, limits[0].Key); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	for i := 1; i < len(limits); i++ {
		if err := s.attempts.RefundAttempt(ctx, limits[i].Key, starts[i]); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	return nil
}

// take counts an attempt against limits. When one is used up it returns
// ETOOMANY with message, formatted with the minutes left and their plural
// ending, and the wait as its cause (RetryAfter).
func (s *Service) take(ctx context.Context, limits []Limit, message string) ([]time.Time, error) {
	now := s.now()
	starts, until, err := s.attempts.TakeAttempts(ctx, now, limits)
	if err != nil {
		return nil, fmt.Errorf("auth: throttle: %w", err)
	}
	if until.IsZero() {
		return starts, nil
	}
	left := max(until.Sub(now), time.Second)
	mins := int((left + time.Minute - 1) / time.Minute)
	return nil, &keyhold.Error{Code: keyhold.ETOOMANY, Message: fmt.Sprintf(message, mins, plural(mins)), Err: throttled{retryAfter: left}}
}

// throttleKey names a counter: an HMAC of the scope and values under a key
// derived from the instance secret, cut to 128 bits. Fixed-size whatever
// was typed, and a stored counter cannot be traced back to an email (or a
// password pasted into the email field) without the secret.
func (s *Service) throttleKey(scope string, values ...string) ThrottleKey {
	m := hmac.New(sha256.New, s.keyKey)
	m.Write([]byte(scope))
	for _, v := range values {
		m.Write([]byte{0})
		m.Write([]byte(v))
	}
	var k ThrottleKey
	copy(k[:], m.Sum(nil))
	return k
}

// clientKey is the client address as throttles count it: an IPv4 address
// as is, an IPv6 address by its /64, since one subscriber is given a whole
// /64 and could otherwise rotate through 2^64 budgets. Anything unparsable
// is kept as given.
func clientKey(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// maxUserAgent is how many bytes of a user agent a session keeps.
const maxUserAgent = 256

// StartSession creates a session for a user and returns its signed token
// and expiry. Its current account is the user's oldest membership
// (Authenticate picks it).
func (s *Service) StartSession(ctx context.Context, userID, address, userAgent string) (string, time.Time, error) {
	return s.StartSessionIn(ctx, userID, "", address, userAgent)
}

// StartSessionIn is StartSession with accountID as the current account;
// an account the user is not a member of is never used (Authenticate
// falls back to their oldest membership).
func (s *Service) StartSessionIn(ctx context.Context, userID, accountID, address, userAgent string) (string, time.Time, error) {
	now := s.now().UTC().Truncate(time.Second)
	if len(userAgent) > maxUserAgent {
		// Cut between characters: half a character is invalid UTF-8, which
		// PostgreSQL refuses in a TEXT column, and the session would fail.
		// n > 0: a header of stray continuation bytes must not panic.
		n := maxUserAgent
		for n > 0 && !utf8.RuneStart(userAgent[n]) {
			n--
		}
		userAgent = userAgent[:n]
	}
	sess := &Session{ID: keyhold.NewID(), UserID: userID, AccountID: accountID, CreatedAt: now, ExpiresAt: now.Add(s.ttl), IP: address, UserAgent: userAgent}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: start session: %w", err)
	}
	tok, err := s.tokens.sign(sess)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, sess.ExpiresAt, nil
}

// errNoSession is the answer for any token that does not name a live
// session.
var errNoSession = keyhold.Errorf(keyhold.EUNAUTHORIZED, "Your session has ended. Please log in again.")

// Authenticate checks a session token and returns what it stands for: the
// session, its user and their accounts, read on every request, so a user
// removed from an account loses it on their next request on every
// instance. When the session's current account is gone (or none was
// picked) the user's oldest membership becomes current. A forged,
// tampered, expired or ended token is EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, token string) (*Visit, error) {
	claims, err := s.tokens.parse(token)
	if err != nil {
		return nil, &keyhold.Error{Code: keyhold.EUNAUTHORIZED, Message: errNoSession.Message, Err: err}
	}
	v, err := s.store.Visit(ctx, claims.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("auth: session: %w", err)
	}
	if v.Session.UserID != claims.Subject || !s.now().Before(v.Session.ExpiresAt) {
		return nil, errNoSession
	}
	for i := range v.Memberships {
		if v.Memberships[i].AccountID == v.Session.AccountID {
			v.Current = &v.Memberships[i]
			return v, nil
		}
	}
	if len(v.Memberships) == 0 {
		return v, nil
	}
	oldest := &v.Memberships[0]
	for i := range v.Memberships {
		if v.Memberships[i].CreatedAt.Before(oldest.CreatedAt) {
			oldest = &v.Memberships[i]
		}
	}
	err = s.store.SetSessionAccount(ctx, v.Session.ID, v.User.ID, oldest.AccountID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("auth: session account: %w", err)
	}
	v.Session.AccountID, v.Current = oldest.AccountID, oldest
	return v, nil
}

// errNoSuchAccount answers a switch to an account the user is not in:
// as for any other account's resource, it does not say whether it exists.
var errNoSuchAccount = keyhold.Errorf(keyhold.ENOTFOUND, "No such account.")

// SwitchAccount makes accountID the current account of the visit's
// session; ENOTFOUND unless the user is a member of it.
func (s *Service) SwitchAccount(ctx context.Context, v *Visit, accountID string) error {
	err := s.store.SetSessionAccount(ctx, v.Session.ID, v.User.ID, accountID)
	if errors.Is(err, ErrNotFound) {
		return errNoSuchAccount
	}
	if err != nil {
		return fmt.Errorf("auth: switch account: %w", err)
	}
	return nil
}

// Logout ends the actor's session: every copy of its token stops working.
func (s *Service) Logout(ctx context.Context, actor audit.Actor, sessionID string) error {
	err := s.store.DeleteSession(ctx, sessionID)
	if errors.Is(err, ErrNotFound) {
		return nil // ended already: nothing happened to log
	}
	if err != nil {
		return fmt.Errorf("auth: log out: %w", err)
	}
	return s.record(ctx, actor.UserID, actor.UserID, actor.IP, audit.LoggedOut, "Logged out")
}

// ChangePassword checks the current password, stores the new one and ends
// every session of the account, the caller's included: a stolen copy of any
// cookie dies with the old password. The caller starts a fresh session for
// the browser that made the change. The password is the actor's own.
//
// The new password is checked first (CheckPassword), then the current one,
// which is counted as a log-in attempt of the account from the actor's
// address: with a stolen session the form is a guessing oracle, and it
// shares the log-in limits. Errors: EINVALID, ETOOMANY (see RetryAfter).
func (s *Service) ChangePassword(ctx context.Context, actor audit.Actor, current, next string) error {
	userID := actor.UserID
	a, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	// What needs no hashing is reported at once, per field
	// ("current_password", "password"); the current password is compared
	// (and counted) only when the rest is sound.
	var fe keyhold.FieldErrors
	if current == "" {
		fe.Add("current_password", "Enter your current password.")
	}
	if fe.AddErr("password", CheckPassword(next, a.Email)) && current == next {
		fe.Add("password", "Choose a password different from the current one.")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	limits := s.loginLimits(a.Email, actor.IP)
	starts, err := s.take(ctx, limits, "Too many wrong passwords. Try again in %d minute%s.")
	if err != nil {
		return err
	}
	ok := false
	if utf8.RuneCountInString(current) <= MaxPasswordLen {
		if ok, err = s.hasher.compare(ctx, current, a.PasswordHash); err != nil {
			return err
		}
	}
	if !ok {
		var fe keyhold.FieldErrors
		fe.Add("current_password", "Your current password is not right.")
		return fe.Err()
	}
	if err := s.succeeded(ctx, limits, starts); err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	hash, err := s.hasher.hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, userID, hash); err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	return s.record(ctx, userID, userID, actor.IP, audit.PasswordChanged, "Changed the password; every session ended")
}

// User returns a user by id. ENOTFOUND when there is none.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, &keyhold.Error{Code: keyhold.ENOTFOUND, Message: "No such user.", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user: %w", err)
	}
	return u, nil
}

// Account returns an account by id. ENOTFOUND when there is none.
func (s *Service) Account(ctx context.Context, id string) (*team.Account, error) {
	a, err := s.store.AccountByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, &keyhold.Error{Code: keyhold.ENOTFOUND, Message: "No such account.", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: account: %w", err)
	}
	return a, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
