package api

import (
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyhold/keyhold/internal/idempotency"
	"github.com/keyhold/keyhold/internal/verify"
)

// /v1/verify is served by the server's own handler (internal/server/
// verify.go), which reads and writes its JSON without allocating: it is the
// hot path, and huma's validation and problem answers would change both its
// cost and its answer's shape. Its description is added to the document
// here, from these types, so that the reference and the generated client
// show it beside the management operations. They must say what
// verify.ReadRequest reads and verify.AppendJSON writes; the server's
// verify tests check the handler, and TestOpenAPIVerify checks that the
// two agree on a real answer.
//
// POST /v1/tokens is described the same way (tokens_doc.go).

// VerifyRequest is the body of POST /v1/verify. Every field may be left
// out; the key may come in a header instead.
type VerifyRequest struct {
	Key    string   `json:"key,omitempty" doc:"The API key to verify. It may come instead as Authorization: Bearer … or X-API-Key; the body wins when both are sent." example:"kh_live_4eC39HqLyjWDarjtT1zdp7dc3fRt7T"`
	Cost   int64    `json:"cost,omitempty" minimum:"0" maximum:"1000" default:"1" doc:"What the call takes from the key's rate limit and quota; 0 checks the key without consuming anything." example:"1"`
	Scopes []string `json:"scopes,omitempty" maxItems:"32" doc:"The scopes this call needs; the key must hold every one of them, else INSUFFICIENT_SCOPE." example:"[\"read\"]"`
	IP     string   `json:"ip,omitempty" doc:"The client address your gateway saw, IPv4 or IPv6, without a port. A key with an IP allow-list answers FORBIDDEN when it is absent or not listed; other keys ignore it. One that is no IP address is BAD_REQUEST, whatever the key." example:"203.0.113.7"`
}

// VerifyAnswer is every answer of POST /v1/verify, valid or not. The key's
// fields, ratelimit and quota are there whenever a key was found, whatever
// the code.
type VerifyAnswer struct {
	Valid     bool             `json:"valid" doc:"Whether the key may make this call: true only with code VALID."`
	Code      string           `json:"code" enum:"VALID,BAD_REQUEST,MALFORMED,NOT_FOUND,REVOKED,EXPIRED,DISABLED,FORBIDDEN,INSUFFICIENT_SCOPE,RATE_LIMITED,QUOTA_EXCEEDED,UNAVAILABLE" doc:"The outcome; each code has one HTTP status." example:"VALID"`
	Message   string           `json:"message,omitempty" doc:"A sentence about the outcome, for people; absent when valid." example:"The key has been revoked."`
	KeyID     string           `json:"key_id,omitempty" doc:"The key's id." example:"key_01J9Z8Q4W6X2"`
	OwnerID   string           `json:"owner_id,omitempty" doc:"The id of the account that holds the key." example:"acct_01J9Z8M3T5R7"`
	Name      string           `json:"name,omitempty" doc:"The key's name." example:"production"`
	Plan      string           `json:"plan,omitempty" doc:"The account's plan." example:"pro"`
	Scopes    []string         `json:"scopes,omitempty" doc:"The key's scopes." example:"[\"read\",\"write\"]"`
	Meta      map[string]any   `json:"meta,omitempty" doc:"The key's metadata, as set when it was made or edited." example:"{\"customer\":\"acme\"}"`
	ExpiresAt *time.Time       `json:"expires_at,omitempty" nullable:"true" doc:"When the key expires; null: never."`
	RateLimit *VerifyRateLimit `json:"ratelimit,omitempty" doc:"The key's per-second rate limit after this call."`
	Quota     *VerifyQuota     `json:"quota,omitempty" doc:"The key's quota of the current period after this call: its own, or its account's pool (scope)."`
}

// VerifyRateLimit is where a key stands against its rate limit.
type VerifyRateLimit struct {
	Limit     int64     `json:"limit" doc:"Calls allowed at once (the burst)." example:"200"`
	Remaining int64     `json:"remaining" doc:"Calls left before RATE_LIMITED." example:"199"`
	Reset     time.Time `json:"reset" doc:"When the limit is full again."`
}

// VerifyQuota is where a key stands against its quota.
type VerifyQuota struct {
	Limit     int64     `json:"limit" doc:"Cost allowed in the period." example:"100000"`
	Remaining int64     `json:"remaining" doc:"Cost left before QUOTA_EXCEEDED." example:"99990"`
	Reset     time.Time `json:"reset" doc:"When the next period starts."`
	Scope     string    `json:"scope" enum:"key,account" doc:"Whose quota it is: the key's own (key), or one pool shared by all of the account's keys (account, a plan with quota_scope account)." example:"key"`
}

// describeVerify adds POST /v1/verify to the document, without routing it.
func (a *API) describeVerify() {
	doc := a.huma.OpenAPI()
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	doc.Components.SecuritySchemes["apiKey"] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: "X-API-Key",
		Description: "The API key being verified, kh_live_…, in X-API-Key."}
	doc.Components.SecuritySchemes["apiKeyBearer"] = &huma.SecurityScheme{Type: "http", Scheme: "bearer",
		Description: "The API key being verified, kh_live_…, as Authorization: Bearer."}

	registry := doc.Components.Schemas
	request := registry.Schema(reflect.TypeOf(VerifyRequest{}), true, "VerifyRequest")
	answer := registry.Schema(reflect.TypeOf(VerifyAnswer{}), true, "VerifyAnswer")

	reset := time.Date(2026, 12, 1, 12, 0, 1, 0, time.UTC)
	found := VerifyAnswer{KeyID: "key_01J9Z8Q4W6X2", OwnerID: "acct_01J9Z8M3T5R7", Name: "production", Plan: "pro",
		Scopes: []string{"read", "write"}, Meta: map[string]any{"customer": "acme"},
		RateLimit: &VerifyRateLimit{Limit: 200, Remaining: 199, Reset: reset},
		Quota:     &VerifyQuota{Limit: 100000, Remaining: 99990, Reset: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Scope: "key"}}
	valid, revoked, limited := found, found, found
	valid.Valid, valid.Code = true, verify.Valid.String()
	revoked.Code, revoked.Message = verify.Revoked.String(), verify.Revoked.Message()
	limited.Code, limited.Message = verify.RateLimited.String(), verify.RateLimited.Message()
	limited.RateLimit = &VerifyRateLimit{Limit: 200, Remaining: 0, Reset: reset}

	intHeader := func(doc string) *huma.Param {
		return &huma.Param{Description: doc, Schema: &huma.Schema{Type: "integer"}}
	}
	rateHeaders := map[string]*huma.Param{
		"RateLimit-Limit":     intHeader("The key's rate limit (burst); sent whenever a key was found."),
		"RateLimit-Remaining": intHeader("Calls left before the limit; sent whenever a key was found."),
		"RateLimit-Reset":     intHeader("Seconds until the limit is full again; sent whenever a key was found."),
	}
	rateHeaders[idempotency.ReplayedHeader] = replayedHeader
	withRetry := map[string]*huma.Param{"Retry-After": intHeader("Seconds to wait before trying again.")}
	for k, v := range rateHeaders {
		if k != idempotency.ReplayedHeader { // a 429 is not kept
			withRetry[k] = v
		}
	}
	respond := func(desc string, headers map[string]*huma.Param, examples map[string]*huma.Example) *huma.Response {
		return &huma.Response{Description: desc, Headers: headers,
			Content: map[string]*huma.MediaType{"application/json": {Schema: answer, Examples: examples}}}
	}
	invalid := func(c verify.Code) *huma.Example {
		return &huma.Example{Summary: c.String(), Value: VerifyAnswer{Code: c.String(), Message: c.Message()}}
	}
	bad := func(summary, msg string) *huma.Example {
		return &huma.Example{Summary: summary, Value: VerifyAnswer{Code: verify.BadRequest.String(), Message: msg}}
	}

	doc.AddOperation(&huma.Operation{
		OperationID: "verify-key",
		Method:      http.MethodPost,
		Path:        "/v1/verify",
		Tags:        []string{"Verify"},
		Summary:     "Verify an API key",
		Description: "Your gateway or backend calls this for every request its customer makes, with the customer's API key. " +
			"The answer says whether the key may make the call, and whose key it is. `cost` is taken from the key's rate limit and quota; " +
			"a refused call takes nothing. Revocations, rotations, plan changes and suspensions take effect on the next call.\n\n" +
			"The key goes in the body (`key`), as `Authorization: Bearer kh_live_…`, or as `X-API-Key`; never in the URL. " +
			"Bodies over 4 KiB are refused. The answer is JSON whatever the outcome, with the same fields: read `valid` and `code`.\n\n" +
			"Needs no root key: the API key being verified is the only credential.\n\n" + idempotencyDoc("cost, scopes or ip"),
		Security:   []map[string][]string{{"apiKeyBearer": {}}, {"apiKey": {}}, {}},
		Parameters: []*huma.Param{idempotencyParam()},
		RequestBody: &huma.RequestBody{
			Description: "What to verify. May be empty when the key comes in a header.",
			Content: map[string]*huma.MediaType{"application/json": {Schema: request, Examples: map[string]*huma.Example{
				"body":   {Summary: "A key that must hold the scope read", Value: VerifyRequest{Key: "kh_live_4eC39HqLyjWDarjtT1zdp7dc3fRt7T", Cost: 1, Scopes: []string{"read"}}},
				"ip":     {Summary: "With the client's address, for keys with an IP allow-list", Value: VerifyRequest{Key: "kh_live_4eC39HqLyjWDarjtT1zdp7dc3fRt7T", Cost: 1, IP: "203.0.113.7"}},
				"header": {Summary: "The key in a header: only the cost in the body", Value: VerifyRequest{Cost: 5}},
			}}},
		},
		Responses: map[string]*huma.Response{
			strconv.Itoa(http.StatusOK): respond("VALID: the key may make the call.", rateHeaders,
				map[string]*huma.Example{"valid": {Summary: "VALID", Value: valid}}),
			strconv.Itoa(http.StatusBadRequest): respond("BAD_REQUEST: no key, a body that is not a JSON object, a cost outside 0–1000, more than 32 scopes, an ip that is no IP address, an unusable Idempotency-Key, or one used with other parameters.", nil,
				map[string]*huma.Example{"no-key": bad("No key", `Send the key as {"key": "…"} in the body, as Authorization: Bearer …, or as X-API-Key.`)}),
			strconv.Itoa(http.StatusUnauthorized): respond("MALFORMED, NOT_FOUND, REVOKED or EXPIRED: the key cannot be used.", rateHeaders,
				map[string]*huma.Example{"revoked": {Summary: "REVOKED", Value: revoked}, "not-found": invalid(verify.NotFound)}),
			strconv.Itoa(http.StatusForbidden): respond("INSUFFICIENT_SCOPE (the key lacks a scope of scopes), FORBIDDEN (ip is absent or not on the key's IP allow-list) or DISABLED (its account is suspended).", rateHeaders,
				map[string]*huma.Example{"scope": invalid(verify.InsufficientScope), "forbidden": invalid(verify.Forbidden), "disabled": invalid(verify.Disabled)}),
			strconv.Itoa(http.StatusRequestEntityTooLarge): respond("BAD_REQUEST: the body is over 4 KiB.", nil,
				map[string]*huma.Example{"too-large": bad("Too large", "The body is larger than 4 KiB.")}),
			strconv.Itoa(http.StatusUnsupportedMediaType): respond("BAD_REQUEST: a body that is not application/json.", nil,
				map[string]*huma.Example{"not-json": bad("Not JSON", "Send the body as application/json.")}),
			strconv.Itoa(http.StatusTooManyRequests): respond("RATE_LIMITED or QUOTA_EXCEEDED, with Retry-After; nothing was consumed.", withRetry,
				map[string]*huma.Example{"rate-limited": {Summary: "RATE_LIMITED", Value: limited}}),
			strconv.Itoa(http.StatusServiceUnavailable): respond("UNAVAILABLE, with Retry-After: the key is not cached and the database cannot be reached (fail closed), or the first request with this Idempotency-Key is still being answered.",
				map[string]*huma.Param{"Retry-After": withRetry["Retry-After"]},
				map[string]*huma.Example{"unavailable": invalid(verify.Unavailable)}),
		},
	})
}

// replayedHeader is Idempotent-Replayed on the answers that are kept.
var replayedHeader = &huma.Param{Description: "true when this is the first answer to the Idempotency-Key given again; nothing was consumed.",
	Schema: &huma.Schema{Type: "string", Enum: []any{"true"}}}

// idempotencyParam is the Idempotency-Key header of /v1/verify and
// /v1/tokens.
func idempotencyParam() *huma.Param {
	return &huma.Param{Name: idempotency.Header, In: "header",
		Description: "Makes a retry safe: within 10 minutes, the same API key and Idempotency-Key get the first answer again, consuming nothing. 1 to 255 characters of visible text; a UUID is a good choice.",
		Schema:      &huma.Schema{Type: "string", MinLength: ptr(1), MaxLength: ptr(idempotency.MaxKey)}}
}

// idempotencyDoc is what an operation's description says about it; params
// names what a retry must repeat.
func idempotencyDoc(params string) string {
	return "With an `Idempotency-Key` header, a retry within 10 minutes with the same API key gets the first answer again (status, body, " +
		"RateLimit-* headers) with `Idempotent-Replayed: true`, and takes nothing, on any instance. The same Idempotency-Key with another " + params +
		" is BAD_REQUEST. Answers 200, 401 and 403 are kept; 429 and 503 are not, so that a retry after Retry-After can succeed. " +
		"Concurrent identical requests wait for the first one's answer (up to 5 seconds, else UNAVAILABLE with Retry-After: 1)."
}
