package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Config configures a Service.
type Config struct {
	Store  Store
	Secret []byte // instance secret; session signing key is derived from it
	// SessionTTL is how long a session lasts; default 7 days.
	SessionTTL time.Duration
	// AccountFailures and AddressFailures are the failed log-ins allowed per
	// account and per client address in FailureWindow; defaults 10, 50 and
	// 15 minutes.
	AccountFailures, AddressFailures int
	FailureWindow                    time.Duration
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// Service signs people up and in, and issues and checks their sessions.
type Service struct {
	store      Store
	tokens     tokens
	hasher     *hasher
	ttl        time.Duration
	byAccount  *Throttle
	byAddress  *Throttle
	now        func() time.Time
	throttleIn time.Duration
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("auth: no store")
	}
	if len(c.Secret) < 32 {
		return nil, errors.New("auth: secret shorter than 32 bytes")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 7 * 24 * time.Hour
	}
	if c.AccountFailures == 0 {
		c.AccountFailures = 10
	}
	if c.AddressFailures == 0 {
		c.AddressFailures = 50
	}
	if c.FailureWindow == 0 {
		c.FailureWindow = 15 * time.Minute
	}
	return &Service{
		store:      c.Store,
		tokens:     tokens{key: DeriveKey(c.Secret, "session-jwt"), now: c.Now},
		hasher:     newHasher(),
		ttl:        c.SessionTTL,
		byAccount:  NewThrottle(c.AccountFailures, c.FailureWindow, c.Now),
		byAddress:  NewThrottle(c.AddressFailures, c.FailureWindow, c.Now),
		now:        c.Now,
		throttleIn: c.FailureWindow,
	}, nil
}

// NormalizeEmail trims and lower-cases an email and checks it is a plain
// address without invisible or control characters (keyhold.CheckText). It
// returns an EINVALID error otherwise.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", keyhold.Errorf(keyhold.EINVALID, "Enter your email address.")
	}
	// net/mail takes any UTF-8 in an address, bidirectional overrides
	// included, and the email is what the operator reads an account by.
	if err := keyhold.CheckText("The email address", email); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "", keyhold.Errorf(keyhold.EINVALID, "Enter a valid email address, like you@example.com.")
	}
	return email, nil
}

func checkPassword(password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return keyhold.Errorf(keyhold.EINVALID, "Use a password of at least %d characters.", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return keyhold.Errorf(keyhold.EINVALID, "Use a password of at most %d characters.", MaxPasswordLen)
	}
	return nil
}

// Signup creates an account from the command line (keyhold admin
// create-user): its audit entry carries no client address. Errors:
// EINVALID, ECONFLICT.
func (s *Service) Signup(ctx context.Context, email, password string, admin bool) (*Account, error) {
	return s.signup(ctx, email, password, admin, "", "Created on the command line")
}

// SignupFrom creates an ordinary account for the sign-up form of the client
// at address. Errors: EINVALID, ECONFLICT.
func (s *Service) SignupFrom(ctx context.Context, email, password, address string) (*Account, error) {
	return s.signup(ctx, email, password, false, address, "Signed up")
}

func (s *Service) signup(ctx context.Context, email, password string, admin bool, address, detail string) (*Account, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &Account{ID: keyhold.NewID(), Email: email, PasswordHash: hash, IsAdmin: admin, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, ErrEmailTaken) {
			return nil, &keyhold.Error{Code: keyhold.ECONFLICT, Message: "An account with this email already exists. Log in instead?", Err: err}
		}
		return nil, fmt.Errorf("auth: sign up: %w", err)
	}
	if admin {
		detail += " (operator)"
	}
	if err := s.record(ctx, a.ID, a.ID, address, audit.AccountCreated, detail); err != nil {
		return nil, err
	}
	return a, nil
}

// record appends an audit entry about account accountID (empty: none known) by
// actorID (empty: nobody signed in) from address.
func (s *Service) record(ctx context.Context, accountID, actorID, address, action, detail string) error {
	e := audit.Entry{ID: keyhold.NewID(), AccountID: accountID, ActorID: actorID, Action: action, TargetType: audit.TargetAccount,
		TargetID: accountID, IP: address, Detail: detail, CreatedAt: s.now().UTC()}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("auth: audit %s: %w", action, err)
	}
	return nil
}

// errBadCredentials is the one answer for an unknown email and a wrong
// password, so the log-in form does not tell which accounts exist.
var errBadCredentials = keyhold.Errorf(keyhold.EUNAUTHORIZED, "Incorrect email or password.")

// Login checks an email and password from the client at address. Failures
// are counted per account and per address; past the limit every attempt is
// refused with ETOOMANY, right password or not, until the window ends.
func (s *Service) Login(ctx context.Context, email, password, address string) (*Account, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	acctKey, addrKey := "email:"+email, "addr:"+address
	for _, t := range []struct {
		th  *Throttle
		key string
	}{{s.byAccount, acctKey}, {s.byAddress, addrKey}} {
		if blocked, left := t.th.Blocked(t.key); blocked {
			mins := int(left.Minutes()) + 1
			return nil, keyhold.Errorf(keyhold.ETOOMANY, "Too many failed attempts. Try again in %d minute%s.", mins, plural(mins))
		}
	}
	if len(password) > MaxPasswordLen {
		s.byAccount.Fail(acctKey)
		s.byAddress.Fail(addrKey)
		return nil, errBadCredentials
	}
	a, err := s.store.AccountByEmail(ctx, email)
	hash := ""
	switch {
	case err == nil:
		hash = a.PasswordHash
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("auth: log in: %w", err)
	}
	ok, err := s.hasher.compare(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !ok || a == nil {
		s.byAccount.Fail(acctKey)
		s.byAddress.Fail(addrKey)
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
	s.byAccount.Reset(acctKey)
	if err := s.record(ctx, a.ID, a.ID, address, audit.LoggedIn, "Logged in"); err != nil {
		return nil, err
	}
	return a, nil
}

// StartSession creates a session for account and returns its signed token
// and expiry.
func (s *Service) StartSession(ctx context.Context, accountID, address, userAgent string) (string, time.Time, error) {
	now := s.now().UTC().Truncate(time.Second)
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	sess := &Session{ID: keyhold.NewID(), AccountID: accountID, CreatedAt: now, ExpiresAt: now.Add(s.ttl), IP: address, UserAgent: userAgent}
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

// Authenticate checks a session token and returns its account and session.
// A forged, tampered, expired or ended token is EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, token string) (*Account, *Session, error) {
	claims, err := s.tokens.parse(token)
	if err != nil {
		return nil, nil, &keyhold.Error{Code: keyhold.EUNAUTHORIZED, Message: errNoSession.Message, Err: err}
	}
	sess, err := s.store.SessionByID(ctx, claims.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: session: %w", err)
	}
	if sess.AccountID != claims.Subject || !s.now().Before(sess.ExpiresAt) {
		return nil, nil, errNoSession
	}
	a, err := s.store.AccountByID(ctx, sess.AccountID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: session account: %w", err)
	}
	return a, sess, nil
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
	return s.record(ctx, actor.AccountID, actor.AccountID, actor.IP, audit.LoggedOut, "Logged out")
}

// ChangePassword checks the current password, stores the new one and ends
// every session of the account, the caller's included: a stolen copy of any
// cookie dies with the old password. The caller starts a fresh session for
// the browser that made the change. The password is the actor's own.
// Errors: EINVALID.
func (s *Service) ChangePassword(ctx context.Context, actor audit.Actor, current, next string) error {
	accountID := actor.AccountID
	a, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	ok, err := s.hasher.compare(ctx, current, a.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return keyhold.Errorf(keyhold.EINVALID, "Your current password is not right.")
	}
	if err := checkPassword(next); err != nil {
		return err
	}
	if current == next {
		return keyhold.Errorf(keyhold.EINVALID, "Choose a password different from the current one.")
	}
	hash, err := s.hasher.hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, accountID, hash); err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	return s.record(ctx, accountID, accountID, actor.IP, audit.PasswordChanged, "Changed the password; every session ended")
}

// Account returns an account by id. ENOTFOUND when there is none.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
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
