package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// AuditStore reads the audit log for the API.
type AuditStore interface {
	// AuditPage returns the entries f selects, newest first.
	AuditPage(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID         string     `json:"id" doc:"The entry's id."`
	Object     string     `json:"object" enum:"audit_entry"`
	AccountID  string     `json:"account_id" doc:"The account whose resource changed; empty for a user's own events and root keys."`
	Action     string     `json:"action" doc:"What happened, as resource.verb: key.created, key.revoked, account.suspended, …" example:"key.created"`
	Actor      AuditActor `json:"actor"`
	TargetType string     `json:"target_type" doc:"The kind of resource acted on: key, account, user, member, invitation, root_key, stripe_event." example:"key"`
	TargetID   string     `json:"target_id"`
	IP         string     `json:"ip" doc:"The address the change came from; empty for the system."`
	Detail     string     `json:"detail" doc:"A short summary for people; never a secret." example:"Created \"production\" (kh_live_…a1b2)"`
	CreatedAt  time.Time  `json:"created_at"`
}

// AuditActor is who made a change.
type AuditActor struct {
	Type string `json:"type" enum:"user,root_key,system" doc:"user: someone signed in to the portal or console; root_key: a management API call; system: Stripe or the command line."`
	ID   string `json:"id" doc:"The user's or root key's id; empty for the system."`
}

func auditEntry(e audit.Entry) AuditEntry {
	actor := AuditActor{Type: "system"}
	switch {
	case e.RootKeyID != "":
		actor = AuditActor{Type: "root_key", ID: e.RootKeyID}
	case e.ActorID != "":
		actor = AuditActor{Type: "user", ID: e.ActorID}
	}
	return AuditEntry{ID: e.ID, Object: "audit_entry", AccountID: e.AccountID, Action: e.Action, Actor: actor,
		TargetType: e.TargetType, TargetID: e.TargetID, IP: e.IP, Detail: e.Detail, CreatedAt: e.CreatedAt.UTC()}
}

type auditListInput struct {
	ListParams
	AccountID string `query:"account_id" maxLength:"64" doc:"Only this account's entries."`
	Action    string `query:"action" maxLength:"64" doc:"Only entries of this action (key.created), or of every action of a resource when it ends in a dot (key.)."`
}

func (a *API) registerAudit() {
	register(a, "Audit", operation(http.MethodGet, "/v1/audit", "list-audit", "List audit entries", rootkey.AuditRead,
		"Every change made in the portal, the console, on the command line, by Stripe or through this API, newest first. "+
			"Changes made through the API name the root key as actor."),
		func(ctx context.Context, in *auditListInput) (*ListOutput[AuditEntry], error) {
			es, err := a.store.AuditPage(ctx, audit.Filter{AccountID: in.AccountID, Action: in.Action,
				StartingAfter: in.StartingAfter, Limit: in.Limit + 1})
			if err != nil {
				return nil, fmt.Errorf("api: audit: %w", err)
			}
			out := make([]AuditEntry, len(es))
			for i, e := range es {
				out[i] = auditEntry(e)
			}
			return page(out, in.Limit), nil
		})
}
