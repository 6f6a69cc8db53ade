package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// The operator's actions on accounts: granting and removing the operator
// flag, suspending and unsuspending. Callers check that the actor is an
// operator (the console's middleware; the command line has the database).

// listeners are the functions told, synchronously, of an account whose
// keys must be read again.
type listeners struct {
	mu  sync.RWMutex
	fns []func(accountID string)
}

func (l *listeners) publish(accountID string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, fn := range l.fns {
		fn(accountID)
	}
}

// Subscribe registers fn to be called, synchronously, after an account is
// suspended or unsuspended. The verifier uses it, as it does billing's
// plan changes, to drop the account's cached keys on every instance.
func (s *Service) Subscribe(fn func(accountID string)) {
	s.changes.mu.Lock()
	s.changes.fns = append(s.changes.fns, fn)
	s.changes.mu.Unlock()
}

var (
	errLastOperator = keyhold.Errorf(keyhold.ECONFLICT,
		"You are the only operator who can use the console, so you cannot remove your own operator role. Make someone else an operator first.")
	errSuspendSelf = keyhold.Errorf(keyhold.EINVALID, "You cannot suspend your own account.")
	errNoAccount   = keyhold.Errorf(keyhold.ENOTFOUND, "No such account.")
	errNoUser      = keyhold.Errorf(keyhold.ENOTFOUND, "No such user.")
)

// SetOperator makes a user an operator, or no longer one, and reports
// whether that changed anything. An actor removing their own flag while no
// other operator exists is refused, so the console is never left without
// one by accident; the command line (an actor without a user) may, since it
// can always promote again. Errors: ENOTFOUND, ECONFLICT.
func (s *Service) SetOperator(ctx context.Context, actor audit.Actor, userID string, operator bool) (bool, error) {
	a, err := s.User(ctx, userID)
	if err != nil {
		return false, err
	}
	if a.IsAdmin == operator {
		return false, nil
	}
	// The detail names the account: the actor's own trail lists it too.
	action, detail := audit.Promoted, "Made "+a.Email+" an operator"
	if !operator {
		action, detail = audit.Demoted, "Removed the operator role of "+a.Email
	}
	if actor.UserID == "" {
		detail += " on the command line"
	}
	keepOne := !operator && actor.UserID == userID
	e := s.entry(actor, "", action, detail)
	e.TargetType, e.TargetID = audit.TargetUser, userID
	err = s.store.SetOperator(ctx, userID, operator, keepOne, e)
	switch {
	case errors.Is(err, ErrLastOperator):
		return false, &keyhold.Error{Code: keyhold.ECONFLICT, Message: errLastOperator.Message, Err: err}
	case errors.Is(err, ErrNotFound):
		return false, errNoUser
	case err != nil:
		return false, fmt.Errorf("auth: set operator: %w", err)
	}
	return true, nil
}

// UserByEmail returns the user with an email, in any case.
// Errors: EINVALID (not an email), ENOTFOUND.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	a, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return nil, &keyhold.Error{Code: keyhold.ENOTFOUND, Message: "No user has the email " + email + ".", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user by email: %w", err)
	}
	return a, nil
}

// SetSuspended suspends an account, or lifts its suspension, and reports
// whether that changed anything. A suspended account's keys answer
// DISABLED from the next verification on every instance (listeners are
// told after the change is committed), and its user sees only a page
// saying so. An operator cannot suspend the account they act in. Errors:
// ENOTFOUND, EINVALID.
func (s *Service) SetSuspended(ctx context.Context, actor audit.Actor, accountID string, suspended bool) (bool, error) {
	if suspended && actor.AccountID == accountID {
		return false, errSuspendSelf
	}
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return false, err
	}
	if a.Suspended == suspended {
		return false, nil
	}
	action, detail := audit.Suspended, "Suspended "+a.Name+": its keys answer DISABLED"
	if !suspended {
		action, detail = audit.Unsuspended, "Lifted the suspension of "+a.Name
	}
	err = s.store.SetSuspended(ctx, accountID, suspended, s.entry(actor, accountID, action, detail))
	switch {
	case errors.Is(err, ErrNotFound):
		return false, errNoAccount
	case err != nil:
		return false, fmt.Errorf("auth: set suspended: %w", err)
	}
	s.changes.publish(accountID)
	return true, nil
}

// entry is an audit entry about account accountID by actor.
func (s *Service) entry(actor audit.Actor, accountID, action, detail string) audit.Entry {
	return actor.Entry(accountID, action, audit.TargetAccount, accountID, detail, s.now())
}
