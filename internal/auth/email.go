package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Purposes of email tokens, and the kinds of Mail.
const (
	PurposePasswordReset = "password_reset"
	PurposeVerifyEmail   = "verify_email"
	PurposeChangeEmail   = "change_email"
	// MailEmailChanged is the notice to the old address after a change;
	// it carries no token.
	MailEmailChanged = "email_changed"
)

// How long the links work.
const (
	ResetTTL       = time.Hour
	VerifyTTL      = 24 * time.Hour
	ChangeEmailTTL = 24 * time.Hour
)

// Mail is an email auth wants sent. The store queues it in the transaction
// that saves its token (internal/mail sends it), so a link is mailed
// exactly when its token exists.
type Mail struct {
	Kind      string // a Purpose…, or MailEmailChanged
	To        string
	Token     string    // the token its link carries; empty for a notice
	ExpiresAt time.Time // when the token stops working; zero for a notice
	NewEmail  string    // MailEmailChanged: the address the account moved to
}

// EmailToken is a single-use token mailed in a link; only its hash is
// stored.
type EmailToken struct {
	Hash      string // hex SHA-256 of the token
	UserID    string
	Purpose   string
	Email     string // where the link was sent: the new address for PurposeChangeEmail
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Store errors of email tokens.
var (
	// ErrTokenUsed is returned when a token was used in the meantime.
	ErrTokenUsed = errors.New("auth: token used")
)

// EmailStore is what the email journeys need from the database. Every
// method that takes a *Mail queues it in the same transaction as its change
// (nil: nothing to send).
type EmailStore interface {
	// SaveEmailToken stores t, ending the unused tokens of the same account
	// and purpose (only the newest link works), and queues m.
	SaveEmailToken(ctx context.Context, t *EmailToken, m *Mail) error
	// EmailToken returns the token with this hash; ErrNotFound.
	EmailToken(ctx context.Context, hash string) (*EmailToken, error)
	// ResetPassword uses the token (ErrTokenUsed when it was used or has
	// expired by now), stores the password hash, ends every session of
	// the account and marks its address verified when the link went to
	// it.
	ResetPassword(ctx context.Context, hash string, now time.Time, passwordHash string) error
	// VerifyEmail uses the token and marks the address it was sent to
	// verified, when it is still the account's.
	VerifyEmail(ctx context.Context, hash string, now time.Time) error
	// ChangeEmail uses the token and moves the account to the address it
	// was sent to (verified), when the account's address is still old;
	// ErrEmailTaken when another account has it by now. It queues notice.
	ChangeEmail(ctx context.Context, hash string, now time.Time, old string, notice *Mail) error
}

// Errors of mailed links, one message each; callers tell them from a
// refused password with errors.Is.
var (
	ErrLinkUnknown = keyhold.Errorf(keyhold.ENOTFOUND, "This link is not valid. Check that you copied all of it, or ask for a new one.")
	ErrLinkUsed    = keyhold.Errorf(keyhold.EINVALID, "This link has been used already. Ask for a new one if you still need it.")
	ErrLinkExpired = keyhold.Errorf(keyhold.EINVALID, "This link has expired. Ask for a new one.")
)

var (
	errEmailOff = keyhold.Errorf(keyhold.EUNAVAILABLE, "Email is not set up on this Keyhold. Ask the operator for help.")
)

// TokenHash is the stored form of a link's token (keyhold.TokenHash).
func TokenHash(token string) string { return keyhold.TokenHash(token) }

// EmailEnabled reports whether mail can be sent (KEYHOLD_SMTP_URL).
func (s *Service) EmailEnabled() bool { return s.emailOn }

// token looks up a token from a link for purpose: ErrLinkUnknown,
// ErrLinkUsed or ErrLinkExpired when it does not work.
func (s *Service) token(ctx context.Context, token, purpose string) (*EmailToken, error) {
	if s.email == nil || token == "" || len(token) > keyhold.MaxTokenLen {
		return nil, ErrLinkUnknown
	}
	t, err := s.email.EmailToken(ctx, TokenHash(token))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrLinkUnknown
	case err != nil:
		return nil, fmt.Errorf("auth: token: %w", err)
	case t.Purpose != purpose:
		return nil, ErrLinkUnknown
	case t.UsedAt != nil:
		return nil, ErrLinkUsed
	case !s.now().Before(t.ExpiresAt):
		return nil, ErrLinkExpired
	}
	return t, nil
}

// usedErr turns the store's ErrTokenUsed (used or expired in the meantime)
// into the link's message.
func usedErr(err error, op string) error {
	if errors.Is(err, ErrTokenUsed) {
		return ErrLinkUsed
	}
	return fmt.Errorf("auth: %s: %w", op, err)
}

// issue stores a new token for account and purpose, mailed to email unless
// mail is false, and returns it.
func (s *Service) issue(ctx context.Context, a *User, purpose, email string, ttl time.Duration, mail bool) (string, error) {
	token, hash := keyhold.NewToken()
	now := s.now().UTC()
	t := &EmailToken{Hash: hash, UserID: a.ID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	var m *Mail
	if mail {
		// Only a mailed link names the address it reached: using it
		// proves the address (a reset verifies it). A link handed over
		// by an operator reached no address and proves none.
		t.Email = email
		m = &Mail{Kind: purpose, To: email, Token: token, ExpiresAt: t.ExpiresAt}
	}
	if err := s.email.SaveEmailToken(ctx, t, m); err != nil {
		return "", fmt.Errorf("auth: save %s token: %w", purpose, err)
	}
	return token, nil
}

// RequestPasswordReset mails a reset link to email when an account has it,
// and does nothing otherwise: the caller shows the same page either way.
// Each client address may ask ResetsPerAddress times and each email
// ResetsPerEmail times per ResetWindow. Errors: EINVALID (not an address),
// ETOOMANY (see RetryAfter), EUNAVAILABLE when email is off.
func (s *Service) RequestPasswordReset(ctx context.Context, email, address string) error {
	if !s.emailOn {
		return errEmailOff
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	limits := []Limit{
		{Key: s.throttleKey("reset:address", clientKey(address)), Max: s.resetsPerAddress, Window: s.resetWindow},
		{Key: s.throttleKey("reset:email", email), Max: s.resetsPerEmail, Window: s.resetWindow},
	}
	if _, err := s.take(ctx, limits, "Too many reset requests. Try again in %d minute%s."); err != nil {
		return err
	}
	a, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		// Same page, but not the same time: a known address also writes
		// its token and queues the mail. That tells no more than sign-up
		// does ("An account with this email already exists"), so the
		// answer is kept equal, not the time; both are throttled.
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: password reset: %w", err)
	}
	if _, err := s.issue(ctx, a, PurposePasswordReset, a.Email, ResetTTL, true); err != nil {
		return err
	}
	return s.record(ctx, a.ID, "", address, audit.PasswordResetRequested, "Asked for a password reset link by email")
}

// ResetLink makes a password reset link's token for the operator to hand
// over (the console shows it once; nothing is mailed). Audited as the
// operator's.
func (s *Service) ResetLink(ctx context.Context, actor audit.Actor, userID string) (string, error) {
	if s.email == nil {
		return "", errors.New("auth: no email store")
	}
	a, err := s.User(ctx, userID)
	if err != nil {
		return "", err
	}
	token, err := s.issue(ctx, a, PurposePasswordReset, a.Email, ResetTTL, false)
	if err != nil {
		return "", err
	}
	if err := s.record(ctx, a.ID, actor.UserID, actor.IP, audit.PasswordResetLinkMade, "An operator made a password reset link"); err != nil {
		return "", err
	}
	return token, nil
}

// CheckLink reports whether a mailed link of purpose still works, so its
// page can say so before anything is typed or pressed: nil, or
// ErrLinkUnknown, ErrLinkUsed, ErrLinkExpired.
func (s *Service) CheckLink(ctx context.Context, purpose, token string) error {
	_, err := s.token(ctx, token, purpose)
	return err
}

// ResetPassword sets a new password through a reset link: once, within
// ResetTTL. Every session of the account ends. Errors: ENOTFOUND (unknown
// link), EINVALID (used, expired, or a password the policy refuses).
func (s *Service) ResetPassword(ctx context.Context, token, password, address string) (*User, error) {
	t, err := s.token(ctx, token, PurposePasswordReset)
	if err != nil {
		return nil, err
	}
	a, err := s.User(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(password, a.Email); err != nil {
		return nil, err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	if err := s.email.ResetPassword(ctx, t.Hash, s.now().UTC(), hash); err != nil {
		return nil, usedErr(err, "reset password")
	}
	if err := s.record(ctx, a.ID, a.ID, address, audit.PasswordChanged, "Reset the password through a link; every session ended"); err != nil {
		return nil, err
	}
	return a, nil
}

// SendVerification mails a verification link to the account's address.
// Each account may ask VerificationsPerAccount times per ResetWindow.
// Errors: ETOOMANY, EUNAVAILABLE when email is off, EINVALID when the
// address is verified already.
func (s *Service) SendVerification(ctx context.Context, userID string) error {
	if !s.emailOn {
		return errEmailOff
	}
	a, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	if a.EmailVerifiedAt != nil {
		return keyhold.Errorf(keyhold.EINVALID, "Your address is verified already.")
	}
	limits := []Limit{{Key: s.throttleKey("verify:account", a.ID), Max: s.verificationsPerAccount, Window: s.resetWindow}}
	if _, err := s.take(ctx, limits, "Too many verification emails. Try again in %d minute%s."); err != nil {
		return err
	}
	_, err = s.issue(ctx, a, PurposeVerifyEmail, a.Email, VerifyTTL, true)
	return err
}

// VerifyEmail marks an address verified through its link. Errors:
// ENOTFOUND, EINVALID (used, expired, or the account has another address
// by now).
func (s *Service) VerifyEmail(ctx context.Context, token string) (*User, error) {
	t, err := s.token(ctx, token, PurposeVerifyEmail)
	if err != nil {
		return nil, err
	}
	a, err := s.User(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	if a.Email != t.Email {
		return nil, keyhold.Errorf(keyhold.EINVALID, "This link is for an address the account no longer uses.")
	}
	if err := s.email.VerifyEmail(ctx, t.Hash, s.now().UTC()); err != nil {
		return nil, usedErr(err, "verify email")
	}
	return a, s.record(ctx, a.ID, a.ID, "", audit.EmailVerified, "Verified "+a.Email)
}

// RequestEmailChange mails a confirmation link to the new address; the
// account keeps its address until the link is followed. The password is
// checked as on a password change (and counted as a log-in attempt).
// Errors: EINVALID, ECONFLICT (another account has the address), ETOOMANY,
// EUNAVAILABLE when email is off.
func (s *Service) RequestEmailChange(ctx context.Context, actor audit.Actor, newEmail, password string) error {
	if !s.emailOn {
		return errEmailOff
	}
	a, err := s.User(ctx, actor.UserID)
	if err != nil {
		return err
	}
	newEmail, err = NormalizeEmail(newEmail)
	if err != nil {
		return err
	}
	if newEmail == a.Email {
		return keyhold.Errorf(keyhold.EINVALID, "That is your address already.")
	}
	if err := s.checkPassword(ctx, a, actor.IP, password); err != nil {
		return err
	}
	limits := []Limit{{Key: s.throttleKey("change-email:account", a.ID), Max: s.verificationsPerAccount, Window: s.resetWindow}}
	if _, err := s.take(ctx, limits, "Too many email changes. Try again in %d minute%s."); err != nil {
		return err
	}
	switch _, err := s.store.UserByEmail(ctx, newEmail); {
	case err == nil:
		return errEmailInUse
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("auth: change email: %w", err)
	}
	if _, err := s.issue(ctx, a, PurposeChangeEmail, newEmail, ChangeEmailTTL, true); err != nil {
		return err
	}
	return s.record(ctx, a.ID, a.ID, actor.IP, audit.EmailChangeRequested, "Asked to change the address to "+newEmail)
}

var errEmailInUse = keyhold.Errorf(keyhold.ECONFLICT, "Another account uses this address.")

// ConfirmEmailChange moves the account to the new address through the link
// mailed there, and mails a notice to the old one. Uniqueness is checked
// again here: another account may have taken the address since. Errors:
// ENOTFOUND, EINVALID, ECONFLICT.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*User, error) {
	t, err := s.token(ctx, token, PurposeChangeEmail)
	if err != nil {
		return nil, err
	}
	a, err := s.User(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	notice := &Mail{Kind: MailEmailChanged, To: a.Email, NewEmail: t.Email}
	err = s.email.ChangeEmail(ctx, t.Hash, s.now().UTC(), a.Email, notice)
	if errors.Is(err, ErrEmailTaken) {
		return nil, errEmailInUse
	}
	if err != nil {
		return nil, usedErr(err, "change email")
	}
	old := a.Email
	a.Email = t.Email
	return a, s.record(ctx, a.ID, a.ID, "", audit.EmailChanged, "Changed the address from "+old+" to "+a.Email)
}

// checkPassword checks the account's current password from address,
// counted against the log-in limits like a log-in.
func (s *Service) checkPassword(ctx context.Context, a *User, address, password string) error {
	limits := s.loginLimits(a.Email, address)
	starts, err := s.take(ctx, limits, "Too many wrong passwords. Try again in %d minute%s.")
	if err != nil {
		return err
	}
	ok := false
	if utf8.RuneCountInString(password) <= MaxPasswordLen {
		if ok, err = s.hasher.compare(ctx, password, a.PasswordHash); err != nil {
			return err
		}
	}
	if !ok {
		return keyhold.Errorf(keyhold.EINVALID, "Your current password is not right.")
	}
	return s.succeeded(ctx, limits, starts)
}

// EmailVerified reports whether the user's address is verified, for
// KEYHOLD_REQUIRE_VERIFIED_EMAIL.
func (s *Service) EmailVerified(ctx context.Context, userID string) (bool, error) {
	a, err := s.User(ctx, userID)
	if err != nil {
		return false, err
	}
	return a.EmailVerifiedAt != nil, nil
}
