package team

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
)

// Store is what the team service needs from the database (internal/store
// implements it). Every change takes the audit entry that describes it and
// writes it in the change's transaction.
type Store interface {
	ProvisionStore
	// TeamAccount returns an account; ErrNotFound.
	TeamAccount(ctx context.Context, id string) (*Account, error)
	// Membership returns the user's membership of the account;
	// ErrNotFound.
	Membership(ctx context.Context, accountID, userID string) (*Membership, error)
	// Memberships returns the user's memberships, by account name.
	Memberships(ctx context.Context, userID string) ([]Membership, error)
	// Members returns the account's members by email, and its invitations
	// pending at now (neither accepted nor revoked, expiring after now),
	// newest first, with the inviter's email.
	Members(ctx context.Context, accountID string, now time.Time) ([]Member, []Invitation, error)
	// MemberList returns the account's members by email.
	MemberList(ctx context.Context, accountID string) ([]Member, error)
	// CreateTeamAccount inserts the account and ownerID's owner
	// membership; ErrTooManyAccounts when ownerID owns maxOwned accounts
	// already (counted in the insert's transaction).
	CreateTeamAccount(ctx context.Context, a *Account, ownerID string, maxOwned int, e audit.Entry) error
	// CreateInvitation inserts inv, revoking the account's pending
	// invitations to the same email, and queues m when it is not nil. It
	// fills the InviterMail of inv (and of m) from the inviter's user.
	// ErrAlreadyMember when a user with that email is a member;
	// ErrSeatsFull when maxMembers > 0 and the account's members plus its
	// other pending invitations reach it (counted in the transaction).
	CreateInvitation(ctx context.Context, inv *Invitation, maxMembers int, m *InvitationMail, e audit.Entry) error
	// InvitationByHash returns the invitation whose token has this hash,
	// in any state, with the account's name and the inviter's email;
	// ErrNotFound.
	InvitationByHash(ctx context.Context, hash string) (*Invitation, error)
	// RevokeInvitation revokes a pending invitation of the account;
	// ErrNotFound when there is none (another account's, used, revoked).
	RevokeInvitation(ctx context.Context, accountID, id string, now time.Time, e audit.Entry) error
	// AcceptInvitation uses the invitation with this hash (ErrNotFound
	// when it is no longer open at now) and makes userID a member with
	// its role. ErrAlreadyMember, or ErrSeatsFull when maxMembers > 0 and
	// the members reach it; either way the invitation stays unused.
	AcceptInvitation(ctx context.Context, hash, userID string, now time.Time, maxMembers int, e audit.Entry) (*Invitation, error)
	// SetRole changes the member's role from `from` to `to`. ErrNotFound
	// when userID is not a member with role from (any more); ErrLastOwner
	// when from is Owner, to is not, and no other owner would remain.
	SetRole(ctx context.Context, accountID, userID string, from, to Role, e audit.Entry) error
	// RemoveMember ends the membership, if its role is still from.
	// ErrNotFound, ErrLastOwner as SetRole.
	RemoveMember(ctx context.Context, accountID, userID string, from Role, e audit.Entry) error
}

// Config configures a Service.
type Config struct {
	// Store is the database (*store.DB). Required.
	Store Store
	// Plans is the catalog whose max_members bounds each account.
	// Required.
	Plans *plans.Catalog
	// NormalizeEmail checks and lower-cases an email address as sign-up
	// does (auth.NormalizeEmail): team cannot import auth, which imports
	// team for its roles. Required.
	NormalizeEmail func(string) (string, error)
	// EmailOn says mail can be sent (KEYHOLD_SMTP_URL): invitations are
	// then mailed, else only shown to copy.
	EmailOn bool
	// Now is the clock; nil: time.Now. For tests.
	Now func() time.Time
}

// Service manages accounts as teams: members, roles and invitations.
// Every change is checked against Rules through Require, then refused with
// a *keyhold.Error when it cannot be made.
type Service struct {
	store     Store
	plans     *plans.Catalog
	normalize func(string) (string, error)
	emailOn   bool
	now       func() time.Time
}

// NewService returns a Service for c.
func NewService(c Config) (*Service, error) {
	if c.Store == nil || c.Plans == nil || c.NormalizeEmail == nil {
		return nil, errors.New("team: Store, Plans and NormalizeEmail are required")
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: c.Store, plans: c.Plans, normalize: c.NormalizeEmail, emailOn: c.EmailOn, now: now}, nil
}

// EmailEnabled reports whether invitations are mailed.
func (s *Service) EmailEnabled() bool { return s.emailOn }

// Errors the service refuses with.
var (
	errNoMember        = keyhold.Errorf(keyhold.ENOTFOUND, "This person is not a member of this account.")
	errNoInvitation    = keyhold.Errorf(keyhold.ENOTFOUND, "There is no pending invitation like this. It may have been accepted or revoked already.")
	errYouAreMember    = keyhold.Errorf(keyhold.ECONFLICT, "You are a member of this account already.")
	errChangedMeantime = keyhold.Errorf(keyhold.ECONFLICT, "This member was changed in the meantime. Reload the page and try again.")
	errLinkUnknown     = keyhold.Errorf(keyhold.ENOTFOUND, "This invitation link is not valid. Check that you copied all of it, or ask for a new invitation.")
	errLinkAccepted    = keyhold.Errorf(keyhold.EINVALID, "This invitation has been accepted already. Ask for a new one if you still need it.")
	errLinkExpired     = keyhold.Errorf(keyhold.EINVALID, "This invitation has expired. Ask an owner or admin of the account for a new one.")
	errLinkRevoked     = keyhold.Errorf(keyhold.EINVALID, "This invitation was revoked. Ask an owner or admin of the account for a new one.")
)

// entry is the audit entry of a change to account by actor.
func (s *Service) entry(actor audit.Actor, accountID, action, targetType, targetID, detail string) audit.Entry {
	return actor.Entry(accountID, action, targetType, targetID, detail, s.now())
}

// account returns the actor's current account.
func (s *Service) account(ctx context.Context, actor audit.Actor) (*Account, error) {
	return s.Account(ctx, actor.AccountID)
}

// Members returns the actor's account's members and its pending
// invitations. Needs ViewAccount.
func (s *Service) Members(ctx context.Context, actor audit.Actor) ([]Member, []Invitation, error) {
	if err := Authorize(actor, ViewAccount); err != nil {
		return nil, nil, err
	}
	ms, invs, err := s.store.Members(ctx, actor.AccountID, s.now().UTC())
	if err != nil {
		return nil, nil, fmt.Errorf("team: members: %w", err)
	}
	return ms, invs, nil
}

// AccountMembers returns any account's members, for the operator's
// console: the caller checks that the user is an operator, as for every
// console read.
func (s *Service) AccountMembers(ctx context.Context, accountID string) ([]Member, error) {
	ms, err := s.store.MemberList(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("team: account members: %w", err)
	}
	return ms, nil
}

// seatsFull is the refusal of a plan's max_members.
func seatsFull(p *plans.Plan) error {
	return keyhold.Errorf(keyhold.ELIMIT, "The %s plan allows %d members, pending invitations included. Revoke an invitation, remove a member or upgrade the plan.", p.Name, p.MaxMembers)
}

// Invite invites email to the actor's account with role, replacing an
// earlier pending invitation to the same email. It returns the link's
// token (shown once), the invitation, and whether it was mailed (EmailOn).
// Needs ManageMembers, and ManageOwners to invite an owner. Errors:
// EINVALID (email, role), ECONFLICT (a member already), ELIMIT (the
// plan's max_members).
func (s *Service) Invite(ctx context.Context, actor audit.Actor, email, role string) (string, *Invitation, bool, error) {
	if err := Authorize(actor, ManageMembers); err != nil {
		return "", nil, false, err
	}
	var fe keyhold.FieldErrors
	if strings.TrimSpace(email) == "" {
		// The sign-up wording ("Enter your email") would be wrong here.
		fe.Add("email", "Enter the email address of the person to invite.")
	} else {
		var err error
		email, err = s.normalize(email)
		fe.AddErr("email", err)
	}
	r, err := ParseRole(role)
	fe.AddErr("role", err)
	if err := fe.Err(); err != nil {
		return "", nil, false, err
	}
	if r == Owner {
		if err := Authorize(actor, ManageOwners); err != nil {
			return "", nil, false, err
		}
	}
	a, err := s.account(ctx, actor)
	if err != nil {
		return "", nil, false, err
	}
	token, hash := keyhold.NewToken()
	now := s.now().UTC()
	inv := &Invitation{ID: keyhold.NewID(), AccountID: a.ID, AccountName: a.Name, Email: email, Role: r,
		TokenHash: hash, InvitedBy: actor.UserID, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	var m *InvitationMail
	if s.emailOn {
		m = &InvitationMail{To: email, Token: token, AccountName: a.Name, Role: r, ExpiresAt: inv.ExpiresAt}
	}
	p := s.plans.Get(a.PlanID)
	e := s.entry(actor, a.ID, audit.MemberInvited, audit.TargetInvitation, inv.ID, "Invited "+email+" as "+string(r))
	switch err := s.store.CreateInvitation(ctx, inv, p.MaxMembers, m, e); {
	case errors.Is(err, ErrAlreadyMember):
		return "", nil, false, keyhold.Errorf(keyhold.ECONFLICT, "%s is a member of %s already.", email, a.Name)
	case errors.Is(err, ErrSeatsFull):
		return "", nil, false, seatsFull(p)
	case err != nil:
		return "", nil, false, fmt.Errorf("team: invite: %w", err)
	}
	return token, inv, m != nil, nil
}

// RevokeInvitation revokes a pending invitation of the actor's account.
// Needs ManageMembers. Errors: ENOTFOUND (another account's, accepted or
// revoked already).
func (s *Service) RevokeInvitation(ctx context.Context, actor audit.Actor, id string) error {
	if err := Authorize(actor, ManageMembers); err != nil {
		return err
	}
	e := s.entry(actor, actor.AccountID, audit.MemberInvitationRevoked, audit.TargetInvitation, id, "Revoked an invitation")
	switch err := s.store.RevokeInvitation(ctx, actor.AccountID, id, s.now().UTC(), e); {
	case errors.Is(err, ErrNotFound):
		return errNoInvitation
	case err != nil:
		return fmt.Errorf("team: revoke invitation: %w", err)
	}
	return nil
}

// lastOwner is the refusal of a change that would leave the account
// without an owner; you says whether the actor is the owner concerned.
func (s *Service) lastOwner(ctx context.Context, actor audit.Actor, you bool) error {
	name := "this account"
	if a, err := s.store.TeamAccount(ctx, actor.AccountID); err == nil {
		name = a.Name
	}
	if you {
		return keyhold.Errorf(keyhold.ECONFLICT, "You are the last owner of %s: make someone else an owner first.", name)
	}
	return keyhold.Errorf(keyhold.ECONFLICT, "This is the last owner of %s: make someone else an owner first.", name)
}

// member returns userID's membership of the actor's account.
func (s *Service) member(ctx context.Context, actor audit.Actor, userID string) (*Membership, error) {
	m, err := s.store.Membership(ctx, actor.AccountID, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoMember
	}
	if err != nil {
		return nil, fmt.Errorf("team: member: %w", err)
	}
	return m, nil
}

// SetRole gives a member of the actor's account another role. Needs
// ManageMembers, and ManageOwners when the member is an owner or becomes
// one. Errors: EINVALID (role), ENOTFOUND (not a member), ECONFLICT (the
// last owner, or the member changed in the meantime).
func (s *Service) SetRole(ctx context.Context, actor audit.Actor, userID, role string) error {
	if err := Authorize(actor, ManageMembers); err != nil {
		return err
	}
	to, err := ParseRole(role)
	if err != nil {
		return err
	}
	m, err := s.member(ctx, actor, userID)
	if err != nil {
		return err
	}
	if m.Role == Owner || to == Owner {
		if err := Authorize(actor, ManageOwners); err != nil {
			return err
		}
	}
	if m.Role == to {
		return nil
	}
	e := s.entry(actor, actor.AccountID, audit.MemberRoleChanged, audit.TargetMember, userID,
		"Changed a member's role from "+string(m.Role)+" to "+string(to))
	switch err := s.store.SetRole(ctx, actor.AccountID, userID, m.Role, to, e); {
	case errors.Is(err, ErrLastOwner):
		return s.lastOwner(ctx, actor, userID == actor.UserID)
	case errors.Is(err, ErrNotFound):
		return errChangedMeantime
	case err != nil:
		return fmt.Errorf("team: set role: %w", err)
	}
	return nil
}

// Remove takes a member out of the actor's account; removing yourself is
// Leave. Needs ManageMembers, and ManageOwners for an owner. Errors:
// ENOTFOUND, ECONFLICT (the last owner, or changed in the meantime).
func (s *Service) Remove(ctx context.Context, actor audit.Actor, userID string) error {
	if err := Authorize(actor, ManageMembers); err != nil {
		return err
	}
	if userID == actor.UserID {
		return s.Leave(ctx, actor)
	}
	m, err := s.member(ctx, actor, userID)
	if err != nil {
		return err
	}
	if m.Role == Owner {
		if err := Authorize(actor, ManageOwners); err != nil {
			return err
		}
	}
	e := s.entry(actor, actor.AccountID, audit.MemberRemoved, audit.TargetMember, userID, "Removed a member ("+string(m.Role)+")")
	switch err := s.store.RemoveMember(ctx, actor.AccountID, userID, m.Role, e); {
	case errors.Is(err, ErrLastOwner):
		return s.lastOwner(ctx, actor, false)
	case errors.Is(err, ErrNotFound):
		return errChangedMeantime
	case err != nil:
		return fmt.Errorf("team: remove: %w", err)
	}
	return nil
}

// Leave takes the actor out of their account. Any member may. Errors:
// ENOTFOUND (not a member), ECONFLICT (the last owner).
func (s *Service) Leave(ctx context.Context, actor audit.Actor) error {
	if err := Authorize(actor, ViewAccount); err != nil {
		return err
	}
	m, err := s.member(ctx, actor, actor.UserID)
	if err != nil {
		return err
	}
	e := s.entry(actor, actor.AccountID, audit.MemberLeft, audit.TargetMember, actor.UserID, "Left the account ("+string(m.Role)+")")
	switch err := s.store.RemoveMember(ctx, actor.AccountID, actor.UserID, m.Role, e); {
	case errors.Is(err, ErrLastOwner):
		return s.lastOwner(ctx, actor, true)
	case errors.Is(err, ErrNotFound):
		return errChangedMeantime
	case err != nil:
		return fmt.Errorf("team: leave: %w", err)
	}
	return nil
}

// Invitation returns the invitation of a link's token and its state
// (Invitation…); the invitation is nil when the state is
// InvitationUnknown. Anyone with the link may look.
func (s *Service) Invitation(ctx context.Context, token string) (*Invitation, string, error) {
	if token == "" || len(token) > keyhold.MaxTokenLen {
		return nil, InvitationUnknown, nil
	}
	inv, err := s.store.InvitationByHash(ctx, keyhold.TokenHash(token))
	if errors.Is(err, ErrNotFound) {
		return nil, InvitationUnknown, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("team: invitation: %w", err)
	}
	return inv, s.state(inv), nil
}

// state is an invitation's state now.
func (s *Service) state(inv *Invitation) string {
	switch {
	case inv.AcceptedAt != nil:
		return InvitationAccepted
	case inv.RevokedAt != nil:
		return InvitationRevoked
	case !s.now().Before(inv.ExpiresAt):
		return InvitationExpired
	}
	return InvitationOpen
}

// stateErr is the refusal to accept an invitation in state.
func stateErr(state string) error {
	switch state {
	case InvitationAccepted:
		return errLinkAccepted
	case InvitationExpired:
		return errLinkExpired
	case InvitationRevoked:
		return errLinkRevoked
	}
	return errLinkUnknown
}

// Accept makes the signed-in user (userID, whose address is userEmail) a
// member through an invitation's token, once. Errors: ENOTFOUND (unknown
// link), EINVALID (accepted, expired or revoked), EFORBIDDEN (the
// invitation is for another address), ECONFLICT (a member already),
// ELIMIT (the plan's max_members); nothing changes on any of them.
func (s *Service) Accept(ctx context.Context, actor audit.Actor, userEmail, token string) (*Invitation, error) {
	userID := actor.UserID
	inv, state, err := s.Invitation(ctx, token)
	if err != nil {
		return nil, err
	}
	if state != InvitationOpen {
		return nil, stateErr(state)
	}
	if !strings.EqualFold(strings.TrimSpace(userEmail), inv.Email) {
		return nil, keyhold.Errorf(keyhold.EFORBIDDEN, "This invitation is for %s. Sign in with that address to accept it.", inv.Email)
	}
	a, err := s.store.TeamAccount(ctx, inv.AccountID)
	if err != nil {
		return nil, fmt.Errorf("team: accept: %w", err)
	}
	p := s.plans.Get(a.PlanID)
	e := s.entry(actor, a.ID, audit.MemberAdded, audit.TargetMember, userID,
		"Joined as "+string(inv.Role)+" through an invitation")
	got, err := s.store.AcceptInvitation(ctx, inv.TokenHash, userID, s.now().UTC(), p.MaxMembers, e)
	switch {
	case errors.Is(err, ErrAlreadyMember):
		return nil, errYouAreMember
	case errors.Is(err, ErrSeatsFull):
		return nil, keyhold.Errorf(keyhold.ELIMIT, "%s is full: its %s plan allows %d members. Ask an owner to remove a member or upgrade the plan.", a.Name, p.Name, p.MaxMembers)
	case errors.Is(err, ErrNotFound):
		// Accepted, revoked or expired since it was read: say which.
		if _, now, err := s.Invitation(ctx, token); err == nil {
			return nil, stateErr(now)
		}
		return nil, errLinkUnknown
	case err != nil:
		return nil, fmt.Errorf("team: accept: %w", err)
	}
	got.AccountName = a.Name
	return got, nil
}

// CheckAccountName returns name trimmed, or an EINVALID error for the
// "name" field: 1 to MaxNameLen characters of visible text.
func CheckAccountName(name string) (string, error) {
	name = strings.TrimSpace(name)
	var fe keyhold.FieldErrors
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		fe.Add("name", "Enter a name for the account.")
	case n > MaxNameLen:
		fe.Add("name", fmt.Sprintf("An account name has at most %d characters.", MaxNameLen))
	default:
		fe.AddErr("name", keyhold.CheckText("The account name", name))
	}
	return name, fe.Err()
}

// MaxOwnedAccounts is how many accounts one user may own. Every account
// starts on the default plan with its own key limit and quotas, so without
// a bound one user could multiply the free plan at will.
const MaxOwnedAccounts = 20

// CreateAccount creates an account named name, on the default plan, with
// the actor as its owner. Errors: EINVALID (name), ELIMIT (the actor owns
// MaxOwnedAccounts already).
func (s *Service) CreateAccount(ctx context.Context, actor audit.Actor, name string) (*Account, error) {
	userID := actor.UserID
	name, err := CheckAccountName(name)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &Account{ID: keyhold.NewID(), Name: name, PlanID: s.plans.Default().ID, CreatedAt: now, UpdatedAt: now}
	e := s.entry(actor, a.ID, audit.AccountCreated, audit.TargetAccount, a.ID, "Created the account "+name)
	err = s.store.CreateTeamAccount(ctx, a, userID, MaxOwnedAccounts, e)
	if errors.Is(err, ErrTooManyAccounts) {
		return nil, &keyhold.Error{Code: keyhold.ELIMIT, Err: err, Message: fmt.Sprintf(
			"You own %d accounts, the most one person may. Leave or hand over one you no longer need first.", MaxOwnedAccounts)}
	}
	if err != nil {
		return nil, fmt.Errorf("team: create account: %w", err)
	}
	return a, nil
}

// Memberships returns the user's accounts with their role in each, by
// account name: the switcher's list.
func (s *Service) Memberships(ctx context.Context, userID string) ([]Membership, error) {
	ms, err := s.store.Memberships(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("team: memberships: %w", err)
	}
	return ms, nil
}
