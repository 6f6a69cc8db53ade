package events

import (
	"encoding/json"
	"slices"
	"time"
)

// Event types (DESIGN.md, "Events: outbound webhooks and notices"). An
// endpoint subscribes to some of them, or to all with an empty list.
const (
	AccountCreated     = "account.created"
	AccountPlanChanged = "account.plan_changed"
	AccountSuspended   = "account.suspended"
	MemberAdded        = "member.added"
	MemberRemoved      = "member.removed"
	KeyCreated         = "key.created"
	KeyUpdated         = "key.updated"
	KeyRotated         = "key.rotated"
	KeyRevoked         = "key.revoked"
	KeyExpiring        = "key.expiring"
	QuotaThreshold     = "quota.threshold"
)

// Types lists every event type an endpoint may subscribe to, in the order
// the console shows them.
var Types = []string{
	AccountCreated, AccountPlanChanged, AccountSuspended,
	MemberAdded, MemberRemoved,
	KeyCreated, KeyUpdated, KeyRotated, KeyRevoked, KeyExpiring,
	QuotaThreshold,
}

// TestType is the type of the message "Send test event" sends
// (Service.SendTest). It is not in Types: no endpoint subscribes to it, and
// it goes only to the endpoint it was sent to, whatever that endpoint's
// filter. Its data names the endpoint. Receivers should answer it 2xx and
// otherwise ignore it.
const TestType = "webhook.test"

// KnownType reports whether t is one of Types.
func KnownType(t string) bool { return slices.Contains(Types, t) }

// Event is one row of the outbox: something that happened, told to every
// enabled endpoint that subscribes to its type.
type Event struct {
	ID        string // "msg_" + a ULID: the webhook-id of every delivery of it
	Type      string
	AccountID string          // the account it is about; "" for none (a test event)
	Data      json.RawMessage // a JSON object: ids and the fields a receiver needs, snake_case, never a secret
	CreatedAt time.Time
}

// IDPrefix starts every event id (Svix's message ids look the same).
const IDPrefix = "msg_"

// Body returns the JSON a receiver gets: {"type", "timestamp", "data"},
// the timestamp the event's creation in RFC 3339.
func (e Event) Body() ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{e.Type, e.CreatedAt.UTC().Format(time.RFC3339), data})
}
