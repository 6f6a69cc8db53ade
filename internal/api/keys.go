package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// KeyStore reads keys for the API: keys.Service lists one account's keys,
// the API pages through every account's by id.
type KeyStore interface {
	// KeyPage returns the keys f selects, newest (highest id) first.
	KeyPage(ctx context.Context, f keys.PageFilter) ([]keys.PagedKey, error)
}

// keyFields are the API's names of the key service's fields.
var keyFields = Fields{"expires": "expires_at", "rate": "ratelimit.rate", "burst": "ratelimit.burst", "quota": "quota.limit"}

// RateLimit is a key's override of its plan's rate limit.
type RateLimit struct {
	Rate  int `json:"rate" doc:"Requests per second, 1 to 1000000." example:"50"`
	Burst int `json:"burst" doc:"Requests at once: at least rate, at most 100000000." example:"100"`
}

// Quota is a key's override of its plan's quota.
type Quota struct {
	Limit int64 `json:"limit" doc:"Verifications per quota window, 1 to 10^12." example:"100000"`
}

// Key is an API key; never its secret.
type Key struct {
	ID                 string         `json:"id" example:"01jdq4v7b3k0c8x2m5n6p7q8r9"`
	Object             string         `json:"object" enum:"key"`
	AccountID          string         `json:"account_id" example:"01jdq4t1a2b3c4d5e6f7g8h9j0"`
	Name               string         `json:"name" example:"production"`
	Display            string         `json:"display" doc:"The key's visible form: its prefix and last four characters, never the secret." example:"kh_live_…a1b2"`
	Status             string         `json:"status" enum:"active,expired,revoked"`
	Scopes             []string       `json:"scopes" nullable:"false" example:"[\"read\",\"write\"]"`
	Meta               map[string]any `json:"meta" doc:"Your metadata, given back on every verification." example:"{\"customer\":\"acme\"}"`
	ExpiresAt          *time.Time     `json:"expires_at" nullable:"true" doc:"When the key stops working; null: never."`
	RevokedAt          *time.Time     `json:"revoked_at" nullable:"true"`
	LastUsedAt         *time.Time     `json:"last_used_at" nullable:"true" doc:"The last verification, to within a minute."`
	OldSecretExpiresAt *time.Time     `json:"old_secret_expires_at" nullable:"true" doc:"While a rotation's grace period runs, when the previous secret stops working."`
	RateLimit          *RateLimit     `json:"ratelimit" doc:"The key's override of its plan's rate limit; null: the plan's."`
	Quota              *Quota         `json:"quota" doc:"The key's override of its plan's quota; null: the plan's."`
	IPAllowlist        []string       `json:"ip_allowlist" nullable:"false" doc:"The CIDRs the key verifies from (the ip of /v1/verify), normalised; []: any address." example:"[\"203.0.113.0/24\",\"2001:db8::/32\"]"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

// KeyWithSecret is a key as created or rotated: the only answers that
// carry its secret.
type KeyWithSecret struct {
	Key
	Secret string `json:"secret" doc:"The key itself. Shown this once: store it now, Keyhold keeps only its hash." example:"kh_live_4eC39HqLyjWDarjtT1zdp7dc0a1b2c"`
}

type keyOutput struct{ Body Key }

type keyWithSecretOutput struct{ Body KeyWithSecret }

// meta decodes stored metadata, numbers kept as written.
func meta(raw []byte) map[string]any {
	raw, _ = keys.ReadableMeta(raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

func (a *API) keyOf(r keys.PagedKey) Key {
	k, now := r.Key, a.now()
	k.EndGrace(now)
	out := Key{ID: k.ID, Object: "key", AccountID: k.AccountID, Name: k.Name, Display: k.Display, Status: k.Status(now),
		Scopes: k.Scopes, Meta: meta(k.Meta), ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsed,
		OldSecretExpiresAt: k.OldSecretUntil, IPAllowlist: keys.AllowlistStrings(k.IPAllowlist), CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if k.RateOverride != nil || k.BurstOverride != nil {
		plan := a.plans.Get(r.PlanID)
		rl := RateLimit{Rate: plan.RatePerSecond, Burst: plan.Burst}
		if k.RateOverride != nil {
			rl.Rate = *k.RateOverride
		}
		if k.BurstOverride != nil {
			rl.Burst = *k.BurstOverride
		}
		out.RateLimit = &rl
	}
	if k.QuotaOverride != nil {
		out.Quota = &Quota{Limit: *k.QuotaOverride}
	}
	return out
}

var errNoKey = errf(http.StatusNotFound, "We could not find that key.")

// key reads one key of any account: a root key is the platform's and
// sees them all.
func (a *API) key(ctx context.Context, id string) (keys.PagedKey, error) {
	rows, err := a.store.KeyPage(ctx, keys.PageFilter{ID: id, Limit: 1})
	if err != nil {
		return keys.PagedKey{}, fmt.Errorf("api: key: %w", err)
	}
	if len(rows) == 0 {
		return keys.PagedKey{}, errNoKey
	}
	return rows[0], nil
}

// keyActor is the root key's actor acting in the key's account: the key
// service lets a member manage only their account's keys, and a root key
// may manage every account's.
func keyActor(ctx context.Context, accountID string) audit.Actor {
	actor := actorOf(ctx)
	actor.AccountID = accountID
	return actor
}

func limitsOf(rl *RateLimit, q *Quota, base *keys.Limits) *keys.Limits {
	if rl == nil && q == nil {
		return nil
	}
	l := &keys.Limits{}
	if base != nil {
		*l = *base
	}
	if rl != nil {
		l.Rate, l.Burst = &rl.Rate, &rl.Burst
	}
	if q != nil {
		l.Quota = &q.Limit
	}
	return l
}

type keyCreateInput struct {
	AccountID string `path:"id" maxLength:"64" doc:"The account's id."`
	Body      struct {
		Name        string         `json:"name" maxLength:"64" doc:"What the key is for, for people." example:"production"`
		Scopes      []string       `json:"scopes,omitempty" maxItems:"32" doc:"What the key may do; /v1/verify checks the scopes it is asked for. Letters, digits and : . _ / * -." example:"[\"read\",\"write\"]"`
		Meta        map[string]any `json:"meta,omitempty" doc:"An object of your own, at most 1 KiB of JSON, given back on every verification." example:"{\"customer\":\"acme\"}"`
		ExpiresAt   *time.Time     `json:"expires_at,omitempty" doc:"When the key stops working, within five years; absent: never." example:"2027-01-31T00:00:00Z"`
		RateLimit   *RateLimit     `json:"ratelimit,omitempty" doc:"Overrides the plan's rate limit for this key."`
		Quota       *Quota         `json:"quota,omitempty" doc:"Overrides the plan's quota for this key."`
		IPAllowlist []string       `json:"ip_allowlist,omitempty" maxItems:"32" doc:"CIDRs (IPv4 or IPv6; a bare address is a /32 or /128), at most 32: /v1/verify then answers FORBIDDEN unless its ip is in one. An entry with bits set past its prefix length (10.1.2.3/8) is refused; IPv4-mapped IPv6 is stored as IPv4." example:"[\"203.0.113.0/24\",\"2001:db8::1\"]"`
	}
}

type keyListInput struct {
	ListParams
	AccountID string `query:"account_id" maxLength:"64" doc:"Only this account's keys."`
	Status    string `query:"status" enum:"active,expired,revoked" doc:"Only keys in this status."`
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"The key's id."`
}

type keyUpdateInput struct {
	ID   string    `path:"id" maxLength:"64" doc:"The key's id."`
	Body *KeyPatch `required:"false"`
}

// KeyPatch is a key's change: absent fields stay as they are.
type KeyPatch struct {
	Name      *string        `json:"name,omitempty" maxLength:"64" example:"production"`
	Scopes    []string       `json:"scopes,omitempty" maxItems:"32" doc:"Replaces the scopes; [] removes them all." example:"[\"read\"]"`
	Meta      map[string]any `json:"meta,omitempty" doc:"Replaces the metadata; {} removes it." example:"{\"customer\":\"acme\"}"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty" doc:"A new expiry, within five years." example:"2027-01-31T00:00:00Z"`
	RateLimit *RateLimit     `json:"ratelimit,omitempty" doc:"A new override of the plan's rate limit."`
	Quota     *Quota         `json:"quota,omitempty" doc:"A new override of the plan's quota."`
	// IPAllowlist replaces the list when given; [] clears it.
	IPAllowlist []string `json:"ip_allowlist,omitempty" maxItems:"32" doc:"Replaces the IP allow-list; [] removes it (any address); absent or null: unchanged. CIDRs (IPv4 or IPv6; a bare address is a /32 or /128), at most 32: /v1/verify then answers FORBIDDEN unless its ip is in one. An entry with bits set past its prefix length (10.1.2.3/8) is refused; IPv4-mapped IPv6 is stored as IPv4." example:"[\"203.0.113.0/24\"]"`
}

type keyRotateInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The key's id."`
	Body *struct {
		GraceSeconds int `json:"grace_seconds,omitempty" enum:"0,3600,86400,604800" default:"0" doc:"How long the old secret keeps working: 0 (stops at once), an hour, a day or a week." example:"3600"`
	} `required:"false"`
}

func (a *API) registerKeys() {
	create := operation(http.MethodPost, "/v1/accounts/{id}/keys", "create-key", "Create a key", rootkey.KeysWrite,
		"Makes an API key for the account, within its plan's key limit (409 when reached; 409 too when the account is suspended). "+
			"The answer carries the key's `secret`, the only time it is shown.")
	create.DefaultStatus = http.StatusCreated
	create.Errors = append(create.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, "Keys", create, func(ctx context.Context, in *keyCreateInput) (*keyWithSecretOutput, error) {
		b := in.Body
		st := keys.Settings{Name: b.Name, Scopes: b.Scopes, Meta: b.Meta, ExpiresAt: b.ExpiresAt, IPAllowlist: b.IPAllowlist,
			Limits: limitsOf(b.RateLimit, b.Quota, nil)}
		k, secret, err := a.keys.Create(ctx, keyActor(ctx, in.AccountID), in.AccountID, st)
		if err != nil {
			return nil, a.problemIn(ctx, err, keyFields)
		}
		r, err := a.key(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		return &keyWithSecretOutput{Body: KeyWithSecret{Key: a.keyOf(r), Secret: secret.Reveal()}}, nil
	})

	register(a, "Keys", operation(http.MethodGet, "/v1/keys", "list-keys", "List keys", rootkey.KeysRead,
		"Every account's keys, or one account's, newest first."),
		func(ctx context.Context, in *keyListInput) (*ListOutput[Key], error) {
			rows, err := a.store.KeyPage(ctx, keys.PageFilter{AccountID: in.AccountID, Status: in.Status, StartingAfter: in.StartingAfter,
				Now: a.now(), Limit: in.Limit + 1})
			if err != nil {
				return nil, fmt.Errorf("api: keys: %w", err)
			}
			out := make([]Key, len(rows))
			for i, r := range rows {
				out[i] = a.keyOf(r)
			}
			return page(out, in.Limit), nil
		})

	get := operation(http.MethodGet, "/v1/keys/{id}", "get-key", "Get a key", rootkey.KeysRead, "")
	get.Errors = append(get.Errors, http.StatusNotFound)
	register(a, "Keys", get, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		r, err := a.key(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &keyOutput{Body: a.keyOf(r)}, nil
	})

	update := operation(http.MethodPatch, "/v1/keys/{id}", "update-key", "Update a key", rootkey.KeysWrite,
		"Changes the fields given; the others stay. A revoked key cannot be changed (422). Every field's problem is reported at once.")
	update.Errors = append(update.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, "Keys", update, func(ctx context.Context, in *keyUpdateInput) (*keyOutput, error) {
		r, err := a.key(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		k, b := r.Key, in.Body
		if b == nil {
			b = &KeyPatch{}
		}
		st := keys.Settings{Name: k.Name, Scopes: k.Scopes, Meta: meta(k.Meta), ExpiresAt: k.ExpiresAt,
			Limits: limitsOf(b.RateLimit, b.Quota, &keys.Limits{Rate: k.RateOverride, Burst: k.BurstOverride, Quota: k.QuotaOverride})}
		if b.Name != nil {
			st.Name = *b.Name
		}
		if b.Scopes != nil {
			st.Scopes = b.Scopes
		}
		if b.Meta != nil {
			st.Meta = b.Meta
		}
		if b.ExpiresAt != nil {
			st.ExpiresAt = b.ExpiresAt
		}
		// Nil (absent or null) leaves the list as it is; [] clears it.
		st.IPAllowlist = b.IPAllowlist
		if _, err := a.keys.Update(ctx, keyActor(ctx, k.AccountID), k.AccountID, k.ID, st); err != nil {
			return nil, a.problemIn(ctx, err, keyFields)
		}
		if r, err = a.key(ctx, k.ID); err != nil {
			return nil, err
		}
		return &keyOutput{Body: a.keyOf(r)}, nil
	})

	revoke := operation(http.MethodPost, "/v1/keys/{id}/revoke", "revoke-key", "Revoke a key", rootkey.KeysWrite,
		"Makes the key invalid at once, on every instance. Revoking a revoked key changes nothing and answers the key as it is.")
	revoke.Errors = append(revoke.Errors, http.StatusNotFound)
	register(a, "Keys", revoke, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		r, err := a.key(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if k := r.Key; k.RevokedAt == nil {
			err := a.keys.Revoke(ctx, keyActor(ctx, k.AccountID), k.AccountID, k.ID)
			// Another call may have revoked it between the read and
			// now: the answer is the same.
			if err != nil && keyhold.ErrorCode(err) != keyhold.ENOTFOUND && keyhold.ErrorCode(err) != keyhold.EINVALID {
				return nil, err
			}
			if r, err = a.key(ctx, k.ID); err != nil {
				return nil, err
			}
			if r.Key.RevokedAt == nil {
				return nil, fmt.Errorf("api: revoke %s: not revoked after revoking", k.ID)
			}
		}
		return &keyOutput{Body: a.keyOf(r)}, nil
	})

	rotate := operation(http.MethodPost, "/v1/keys/{id}/rotate", "rotate-key", "Rotate a key", rootkey.KeysWrite,
		"Gives the key a new secret, keeping its id, settings and usage. The old secret keeps working for `grace_seconds`, then answers EXPIRED. "+
			"The answer carries the new `secret`, the only time it is shown.")
	rotate.Errors = append(rotate.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(a, "Keys", rotate, func(ctx context.Context, in *keyRotateInput) (*keyWithSecretOutput, error) {
		r, err := a.key(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		grace := time.Duration(0)
		if in.Body != nil {
			grace = time.Duration(in.Body.GraceSeconds) * time.Second
		}
		k := r.Key
		_, secret, err := a.keys.Rotate(ctx, keyActor(ctx, k.AccountID), k.AccountID, k.ID, grace)
		if err != nil {
			return nil, a.problemIn(ctx, err, Fields{"grace": "grace_seconds"})
		}
		if r, err = a.key(ctx, k.ID); err != nil {
			return nil, err
		}
		return &keyWithSecretOutput{Body: KeyWithSecret{Key: a.keyOf(r), Secret: secret.Reveal()}}, nil
	})
}
