package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/rootkey"
	"github.com/keyhold/keyhold/internal/team"
)

// Account is an account: one customer of the API provider, owning keys,
// a plan and usage.
type Account struct {
	ID         string    `json:"id" doc:"The account's id." example:"01jd8m2x4k9q7r3t5v6w8y0z1a"`
	Object     string    `json:"object" enum:"account" doc:"Always account."`
	Name       string    `json:"name" doc:"The account's name, shown in the portal." example:"Acme Inc."`
	ExternalID *string   `json:"external_id" doc:"Your own id for this customer, unique among accounts; null for none." example:"cus_4711"`
	Plan       string    `json:"plan" doc:"The id of the account's plan." example:"free"`
	Suspended  bool      `json:"suspended" doc:"Whether the account is suspended: its keys answer DISABLED."`
	CreatedAt  time.Time `json:"created_at" doc:"When the account was made." example:"2026-01-02T15:04:05Z"`
}

func apiAccount(a *team.Account) Account {
	out := Account{ID: a.ID, Object: "account", Name: a.Name, Plan: a.PlanID, Suspended: a.Suspended, CreatedAt: a.CreatedAt.UTC()}
	if a.ExternalID != "" {
		out.ExternalID = ptr(a.ExternalID)
	}
	return out
}

// accountOutput is the answer of one account.
type accountOutput struct {
	Location string `header:"Location" doc:"The account's URL (on creation)."`
	Body     Account
}

type accountCreateInput struct {
	Body struct {
		Name       string `json:"name" doc:"The account's name: 1 to 64 characters of visible text." example:"Acme Inc."`
		ExternalID string `json:"external_id,omitempty" doc:"Your own id for this customer: at most 128 characters of visible text, unique among accounts." example:"cus_4711"`
		Plan       string `json:"plan,omitempty" doc:"The id of a plan of the catalog; absent: the default plan. Another plan is given without Stripe (comped)." example:"free"`
		OwnerEmail string `json:"owner_email,omitempty" doc:"The owner's email: a user who has it becomes the owner; otherwise an owner invitation is sent to it, and the person signs up through its link." example:"ada@acme.example"`
	}
}

type accountListInput struct {
	ListParams
	ExternalID string `query:"external_id" maxLength:"128" doc:"Only the account with this external id."`
	Email      string `query:"email" maxLength:"254" doc:"Only the accounts whose members include the user with this email."`
	Plan       string `query:"plan" maxLength:"64" doc:"Only the accounts on this plan."`
}

type accountIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"The account's id."`
}

type accountPatchInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The account's id."`
	Body *struct {
		Name       *string `json:"name,omitempty" doc:"A new name: 1 to 64 characters of visible text." example:"Acme Corporation"`
		ExternalID *string `json:"external_id,omitempty" doc:"A new external id, unique among accounts; the empty string clears it." example:"cus_4711"`
		Plan       *string `json:"plan,omitempty" doc:"A plan of the catalog, given without Stripe (comped). Refused (409) while the account pays through a Stripe subscription." example:"pro"`
		Suspended  *bool   `json:"suspended,omitempty" doc:"true suspends the account (its keys answer DISABLED from the next verification), false lifts the suspension."`
	} `required:"false" doc:"The fields to change. A field that is absent or null stays as it is."`
}

func (a *API) registerAccounts() {
	create := operation(http.MethodPost, "/v1/accounts", "create-account", "Create an account", rootkey.AccountsWrite,
		"Makes an account for one of your customers: on the default plan or a comped one, owned by the user with owner_email, "+
			"or with an owner invitation mailed to that address when no user has it (its link is never in the answer).")
	create.DefaultStatus = http.StatusCreated
	register(a, "Accounts", create, func(ctx context.Context, in *accountCreateInput) (*accountOutput, error) {
		b := in.Body
		acc, err := a.team.Provision(ctx, actorOf(ctx), team.NewAccount{Name: b.Name, ExternalID: b.ExternalID, PlanID: b.Plan, OwnerEmail: b.OwnerEmail})
		if err != nil {
			return nil, err
		}
		return &accountOutput{Location: "/v1/accounts/" + url.PathEscape(acc.ID), Body: apiAccount(acc)}, nil
	})

	register(a, "Accounts", operation(http.MethodGet, "/v1/accounts", "list-accounts", "List accounts", rootkey.AccountsRead,
		"Accounts, newest first, optionally only those with an external id, a member's email or a plan."),
		func(ctx context.Context, in *accountListInput) (*ListOutput[Account], error) {
			f := team.AccountFilter{ExternalID: in.ExternalID, PlanID: in.Plan, StartingAfter: in.StartingAfter, Limit: in.Limit + 1}
			if strings.TrimSpace(in.Email) != "" {
				email, err := auth.NormalizeEmail(in.Email)
				if err != nil {
					return nil, huma.NewError(http.StatusUnprocessableEntity, "The email filter is not an email address.",
						&huma.ErrorDetail{Location: "query.email", Message: keyhold.ErrorMessage(err), Value: in.Email})
				}
				f.Email = email
			}
			as, err := a.team.Accounts(ctx, f)
			if err != nil {
				return nil, err
			}
			out := make([]Account, len(as))
			for i := range as {
				out[i] = apiAccount(&as[i])
			}
			return page(out, in.Limit), nil
		})

	get := operation(http.MethodGet, "/v1/accounts/{id}", "get-account", "Get an account", rootkey.AccountsRead, "One account.")
	get.Errors = append(get.Errors, http.StatusNotFound)
	register(a, "Accounts", get, func(ctx context.Context, in *accountIDInput) (*accountOutput, error) {
		acc, err := a.team.Account(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &accountOutput{Body: apiAccount(acc)}, nil
	})

	patch := operation(http.MethodPatch, "/v1/accounts/{id}", "update-account", "Update an account", rootkey.AccountsWrite,
		"Changes the fields given and leaves the others; an empty body changes nothing. Every field is checked before anything changes.")
	patch.Errors = append(patch.Errors, http.StatusNotFound, http.StatusConflict)
	register(a, "Accounts", patch, func(ctx context.Context, in *accountPatchInput) (*accountOutput, error) {
		actor := actorOf(ctx)
		var c team.AccountChanges
		var suspended *bool
		if b := in.Body; b != nil {
			c, suspended = team.AccountChanges{Name: b.Name, ExternalID: b.ExternalID, PlanID: b.Plan}, b.Suspended
		}
		c, err := a.team.CheckChanges(c)
		if err != nil {
			return nil, err
		}
		acc, err := a.team.Account(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		plan := c.PlanID != nil && *c.PlanID != acc.PlanID
		if plan {
			// Asked first, so that a refused plan leaves the other
			// fields unchanged too.
			if err := a.billing.CanSetPlanManually(ctx, acc.ID); err != nil {
				return nil, err
			}
		}
		if c.Name != nil || c.ExternalID != nil {
			if _, err := a.team.Update(ctx, actor, acc.ID, c); err != nil {
				return nil, err
			}
		}
		if plan {
			if err := a.billing.SetPlanManually(ctx, actor, acc.ID, *c.PlanID); err != nil {
				return nil, err
			}
		}
		if suspended != nil {
			if _, err := a.auth.SetSuspended(ctx, actor, acc.ID, *suspended); err != nil {
				return nil, err
			}
		}
		if acc, err = a.team.Account(ctx, acc.ID); err != nil {
			return nil, err
		}
		return &accountOutput{Body: apiAccount(acc)}, nil
	})
}
