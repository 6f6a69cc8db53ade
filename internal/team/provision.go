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

// Accounts made and changed by an API provider for its customers through
// the management API (DESIGN "Management API"): the account, its plan and
// its first owner in one transaction.

// MaxExternalIDLen bounds an account's external id.
const MaxExternalIDLen = 128

// CheckExternalID returns an EINVALID error for the "external_id" field
// unless id is at most MaxExternalIDLen characters of visible text. It is
// kept as given: it is the provider's id, compared exactly.
func CheckExternalID(id string) error {
	var fe keyhold.FieldErrors
	switch {
	case utf8.RuneCountInString(id) > MaxExternalIDLen:
		fe.Add("external_id", fmt.Sprintf("An external id has at most %d characters.", MaxExternalIDLen))
	case strings.TrimSpace(id) != id:
		fe.Add("external_id", "An external id cannot start or end with a space.")
	default:
		fe.AddErr("external_id", keyhold.CheckText("The external id", id))
	}
	return fe.Err()
}

// NewAccount is an account to provision.
type NewAccount struct {
	Name       string
	ExternalID string // "" for none
	PlanID     string // "" for the catalog's default plan; another is a comped plan
	// OwnerEmail is who owns the account: the user with that email, or
	// when there is none, whoever signs up through the owner invitation
	// mailed to it. "" for no owner yet.
	OwnerEmail string
}

// Provision is what the store writes for one provisioned account, in one
// transaction.
type Provision struct {
	Account *Account
	Entries []audit.Entry // account.created, and plan.assigned for a comped plan
	// OwnerEmail, when not "", is the owner's address: the user who has
	// it becomes the owner, with OwnerEntry (its TargetID is set to the
	// user's id); when none has it, Invitation is inserted with
	// InvitationEntry and Mail queued when it is not nil.
	OwnerEmail      string
	OwnerEntry      audit.Entry
	Invitation      *Invitation
	Mail            *InvitationMail
	InvitationEntry audit.Entry
}

// AccountChanges are changes to an account; nil changes nothing, an
// empty ExternalID clears it. PlanID is only checked here (CheckChanges):
// billing.Service.SetPlanManually makes that change.
type AccountChanges struct {
	Name, ExternalID, PlanID *string
}

// ProvisionStore is what Provision and Update need of the database
// (internal/store implements it, beside Store).
type ProvisionStore interface {
	// ProvisionAccount writes p; it returns the owner's user id, or ""
	// when an invitation was made instead (or no owner was asked for).
	// ErrExternalIDTaken when another account has the external id.
	ProvisionAccount(ctx context.Context, p *Provision) (string, error)
	// UpdateAccount applies c to the account and appends entries, in one
	// transaction. ErrNotFound, ErrExternalIDTaken.
	UpdateAccount(ctx context.Context, accountID string, c AccountChanges, entries []audit.Entry) error
	// AccountPage returns the accounts f selects, newest first.
	AccountPage(ctx context.Context, f AccountFilter) ([]Account, error)
}

// AccountFilter selects a page of accounts: those with ExternalID, of
// which the user with Email (normalized) is a member, on PlanID (each
// when not empty), older than the account StartingAfter, at most Limit.
type AccountFilter struct {
	ExternalID, Email, PlanID, StartingAfter string
	Limit                                    int
}

var errAPIOnly = keyhold.Errorf(keyhold.EFORBIDDEN, "Accounts are provisioned and edited for customers through the management API, with a root key.")

// externalIDTaken is the refusal of an external id another account has.
func externalIDTaken(id string, err error) error {
	msg := fmt.Sprintf("Another account has the external id %q.", id)
	return &keyhold.Error{Code: keyhold.ECONFLICT, Message: msg, Err: err,
		Fields: keyhold.FieldErrors{{Field: "external_id", Message: msg}}}
}

// checkNew checks every field of n at once, and returns n cleaned up with
// its plan.
func (s *Service) checkNew(n NewAccount) (NewAccount, *plans.Plan, error) {
	var fe keyhold.FieldErrors
	var err error
	n.Name, err = CheckAccountName(n.Name)
	fe.AddErr("name", err)
	fe.AddErr("external_id", CheckExternalID(n.ExternalID))
	p := s.plans.Default()
	if n.PlanID != "" {
		var ok bool
		if p, ok = s.plans.Lookup(n.PlanID); !ok {
			fe.Add("plan", s.planChoices())
		}
	}
	if n.OwnerEmail != "" {
		n.OwnerEmail, err = s.normalize(n.OwnerEmail)
		fe.AddErr("owner_email", err)
	}
	return n, p, fe.Err()
}

// planChoices is the message of an unknown plan id.
func (s *Service) planChoices() string {
	ids := make([]string, len(s.plans.All()))
	for i, p := range s.plans.All() {
		ids[i] = p.ID
	}
	return "Choose a plan of the catalog: " + strings.Join(ids, ", ") + "."
}

// Provision creates an account for an API provider's customer, in one
// transaction: on the default plan or a comped one (audited as
// plan.assigned, as billing.Service.SetPlanManually does; a new account
// has no Stripe subscription to refuse it), and, with an owner email,
// owned by the user who has it or else with a single-use owner invitation
// to it, mailed when email is on (its token is never returned: the person
// signs up through the mailed link). MaxOwnedAccounts does not apply: it
// bounds what one person makes for themselves, and here the API provider
// makes accounts for its customers. Only a root key may. Errors:
// EINVALID (every field at once), ECONFLICT (external id taken),
// EFORBIDDEN.
func (s *Service) Provision(ctx context.Context, actor audit.Actor, n NewAccount) (*Account, error) {
	if actor.RootKeyID == "" {
		return nil, errAPIOnly
	}
	n, plan, err := s.checkNew(n)
	if err != nil {
		return nil, err
	}
	// PostgreSQL keeps microseconds: the answer must say what a read
	// will.
	now := s.now().UTC().Truncate(time.Microsecond)
	a := &Account{ID: keyhold.NewID(), Name: n.Name, ExternalID: n.ExternalID, PlanID: plan.ID, CreatedAt: now, UpdatedAt: now}
	detail := "Created the account " + n.Name
	if n.ExternalID != "" {
		detail += " (external id " + n.ExternalID + ")"
	}
	p := &Provision{Account: a, Entries: []audit.Entry{s.entry(actor, a.ID, audit.AccountCreated, audit.TargetAccount, a.ID, detail)}}
	if def := s.plans.Default(); plan.ID != def.ID {
		p.Entries = append(p.Entries, s.entry(actor, a.ID, audit.PlanAssigned, audit.TargetAccount, a.ID,
			fmt.Sprintf("%s → %s, without Stripe", def.Name, plan.Name)))
	}
	if n.OwnerEmail != "" {
		p.OwnerEmail = n.OwnerEmail
		p.OwnerEntry = s.entry(actor, a.ID, audit.MemberAdded, audit.TargetMember, "", "Made "+n.OwnerEmail+" the owner")
		// The token goes only into the mail: nobody but the invited
		// person may hold it, so without email the link is lost and an
		// operator invites again from the console.
		token, hash := keyhold.NewToken()
		inv := &Invitation{ID: keyhold.NewID(), AccountID: a.ID, AccountName: a.Name, Email: n.OwnerEmail, Role: Owner,
			TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
		p.Invitation = inv
		p.InvitationEntry = s.entry(actor, a.ID, audit.MemberInvited, audit.TargetInvitation, inv.ID, "Invited "+n.OwnerEmail+" as owner")
		if s.emailOn {
			p.Mail = &InvitationMail{To: n.OwnerEmail, Token: token, AccountName: a.Name, Role: Owner, ExpiresAt: inv.ExpiresAt}
		}
	}
	switch _, err := s.store.ProvisionAccount(ctx, p); {
	case errors.Is(err, ErrExternalIDTaken):
		return nil, externalIDTaken(n.ExternalID, err)
	case err != nil:
		return nil, fmt.Errorf("team: provision: %w", err)
	}
	return a, nil
}

// Account returns any account, for the management API and the console.
// Errors: ENOTFOUND.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
	a, err := s.store.TeamAccount(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, keyhold.Errorf(keyhold.ENOTFOUND, "No account has the id %q.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("team: account: %w", err)
	}
	return a, nil
}

// Accounts returns the accounts f selects, newest first (by id, a ULID
// made when the account is), for the management API.
func (s *Service) Accounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	as, err := s.store.AccountPage(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("team: accounts: %w", err)
	}
	return as, nil
}

// CheckChanges checks every field of c at once and returns it cleaned
// up.
func (s *Service) CheckChanges(c AccountChanges) (AccountChanges, error) {
	var fe keyhold.FieldErrors
	if c.Name != nil {
		name, err := CheckAccountName(*c.Name)
		fe.AddErr("name", err)
		c.Name = &name
	}
	if c.ExternalID != nil {
		fe.AddErr("external_id", CheckExternalID(*c.ExternalID))
	}
	if c.PlanID != nil {
		if _, ok := s.plans.Lookup(*c.PlanID); !ok {
			fe.Add("plan", s.planChoices())
		}
	}
	return c, fe.Err()
}

// Update renames an account and sets or clears its external id, audited
// as account.edited, in one transaction; what does not change is left
// out. Only a root key may. Errors: EINVALID, ENOTFOUND, ECONFLICT
// (external id taken), EFORBIDDEN.
func (s *Service) Update(ctx context.Context, actor audit.Actor, id string, c AccountChanges) (*Account, error) {
	if actor.RootKeyID == "" {
		return nil, errAPIOnly
	}
	c, err := s.CheckChanges(c)
	if err != nil {
		return nil, err
	}
	a, err := s.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	var entries []audit.Entry
	if c.Name != nil && *c.Name != a.Name {
		entries = append(entries, s.entry(actor, id, audit.AccountEdited, audit.TargetAccount, id,
			fmt.Sprintf("Renamed %s to %s", a.Name, *c.Name)))
	} else {
		c.Name = nil
	}
	if c.ExternalID != nil && *c.ExternalID != a.ExternalID {
		detail := "Set the external id to " + *c.ExternalID
		if *c.ExternalID == "" {
			detail = "Cleared the external id " + a.ExternalID
		}
		entries = append(entries, s.entry(actor, id, audit.AccountEdited, audit.TargetAccount, id, detail))
	} else {
		c.ExternalID = nil
	}
	if len(entries) == 0 {
		return a, nil
	}
	switch err := s.store.UpdateAccount(ctx, id, c, entries); {
	case errors.Is(err, ErrExternalIDTaken):
		return nil, externalIDTaken(*c.ExternalID, err)
	case errors.Is(err, ErrNotFound):
		return nil, keyhold.Errorf(keyhold.ENOTFOUND, "No account has the id %q.", id)
	case err != nil:
		return nil, fmt.Errorf("team: update account: %w", err)
	}
	return s.Account(ctx, id)
}
