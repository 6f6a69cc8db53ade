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

// POST /v1/tokens is served by the server's own handler (internal/server/
// tokens.go), beside /v1/verify's and for the same reasons; it is only
// described here. A refusal is /v1/verify's answer (VerifyAnswer).

// TokenRequest is the body of POST /v1/tokens. Every field may be left
// out; the key may come in a header instead.
type TokenRequest struct {
	Key      string   `json:"key,omitempty" doc:"The API key to exchange. It may come instead as Authorization: Bearer … or X-API-Key." example:"kh_live_4eC39HqLyjWDarjtT1zdp7dc3fRt7T"`
	Scopes   []string `json:"scopes,omitempty" maxItems:"32" doc:"The token's scopes: a subset of the key's, else INSUFFICIENT_SCOPE. Default: all of the key's." example:"[\"read\"]"`
	TTL      int64    `json:"ttl,omitempty" minimum:"60" maximum:"900" default:"300" doc:"The token's lifetime in seconds." example:"300"`
	Audience string   `json:"audience,omitempty" doc:"The token's aud: one of the server's KEYHOLD_TOKEN_AUDIENCES (default the first; when unset, the base URL)." example:"https://api.example.com"`
	Cost     int64    `json:"cost,omitempty" minimum:"0" maximum:"1000" default:"1" doc:"What the exchange takes from the key's rate limit and quota, as for verify." example:"1"`
	IP       string   `json:"ip,omitempty" doc:"The client's IP address, as for verify: a key with an IP allow-list is exchanged only for a listed one, else FORBIDDEN." example:"203.0.113.7"`
}

// TokenAnswer is the answer of a successful exchange.
type TokenAnswer struct {
	Token     string    `json:"token" doc:"The JWT (ES256): iss, sub (the key id), aud, iat, nbf, exp, jti, acct, plan, scope (space-separated), meta. Check it against /.well-known/jwks.json." example:"eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2ln"`
	TokenType string    `json:"token_type" enum:"Bearer" doc:"Always Bearer." example:"Bearer"`
	ExpiresIn int64     `json:"expires_in" doc:"Seconds until the token expires." example:"300"`
	ExpiresAt time.Time `json:"expires_at" doc:"When the token expires (its exp)."`
	KeyID     string    `json:"key_id" doc:"The id of the key exchanged (the token's sub)." example:"key_01J9Z8Q4W6X2"`
}

// describeTokens adds POST /v1/tokens to the document, without routing it.
// describeVerify runs first: the refusals reuse its schema.
func (a *API) describeTokens() {
	doc := a.huma.OpenAPI()
	registry := doc.Components.Schemas
	request := registry.Schema(reflect.TypeOf(TokenRequest{}), true, "TokenRequest")
	answer := registry.Schema(reflect.TypeOf(TokenAnswer{}), true, "TokenAnswer")
	refusal := registry.Schema(reflect.TypeOf(VerifyAnswer{}), true, "VerifyAnswer")
	refused := func(desc string, c verify.Code) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: refusal,
			Examples: map[string]*huma.Example{c.String(): {Summary: c.String(), Value: VerifyAnswer{Code: c.String(), Message: c.Message()}}}}}}
	}
	doc.AddOperation(&huma.Operation{
		OperationID: "issue-token",
		Method:      http.MethodPost,
		Path:        "/v1/tokens",
		Tags:        []string{"Verify"},
		Summary:     "Exchange an API key for a short-lived JWT",
		Description: "Runs every check of POST /v1/verify on the key (and takes `cost` from its rate limit and quota), then answers a JWT " +
			"signed with ES256 that any service can check offline against `/.well-known/jwks.json` (its issuer metadata is at " +
			"`/.well-known/openid-configuration`). A refused key gets exactly verify's answer, status and headers.\n\n" +
			"Revoking a key stops new tokens at once; tokens already issued live until their `exp`, at most 15 minutes.\n\n" +
			"Needs no root key: the API key being exchanged is the only credential.\n\n" + idempotencyDoc("scopes, ttl, audience, cost or ip") +
			" The kept token is sealed under the instance secret in Redis.",
		Security:   []map[string][]string{{"apiKeyBearer": {}}, {"apiKey": {}}, {}},
		Parameters: []*huma.Param{idempotencyParam()},
		RequestBody: &huma.RequestBody{
			Description: "What to issue. May be empty when the key comes in a header.",
			Content: map[string]*huma.MediaType{"application/json": {Schema: request, Examples: map[string]*huma.Example{
				"header": {Summary: "The key in Authorization: only the lifetime in the body", Value: TokenRequest{TTL: 300}},
			}}},
		},
		Responses: map[string]*huma.Response{
			strconv.Itoa(http.StatusOK): {Description: "The token.", Headers: map[string]*huma.Param{idempotency.ReplayedHeader: replayedHeader}, Content: map[string]*huma.MediaType{"application/json": {Schema: answer,
				Examples: map[string]*huma.Example{"token": {Summary: "A token", Value: TokenAnswer{Token: "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
					TokenType: "Bearer", ExpiresIn: 300, ExpiresAt: time.Date(2026, 12, 1, 12, 5, 0, 0, time.UTC), KeyID: "key_01J9Z8Q4W6X2"}}}}}},
			strconv.Itoa(http.StatusBadRequest):            refused("BAD_REQUEST: no key, ttl outside 60–900, an audience not configured, verify's bad input, an unusable Idempotency-Key, or one used with other parameters.", verify.BadRequest),
			strconv.Itoa(http.StatusUnauthorized):          refused("MALFORMED, NOT_FOUND, REVOKED or EXPIRED, as verify answers.", verify.Revoked),
			strconv.Itoa(http.StatusForbidden):             refused("INSUFFICIENT_SCOPE (a scope the key lacks), FORBIDDEN (ip not on the key's IP allow-list) or DISABLED.", verify.InsufficientScope),
			strconv.Itoa(http.StatusRequestEntityTooLarge): refused("BAD_REQUEST: the body is over 4 KiB.", verify.BadRequest),
			strconv.Itoa(http.StatusUnsupportedMediaType):  refused("BAD_REQUEST: a body that is not application/json.", verify.BadRequest),
			strconv.Itoa(http.StatusTooManyRequests):       refused("RATE_LIMITED or QUOTA_EXCEEDED, with Retry-After.", verify.RateLimited),
			strconv.Itoa(http.StatusServiceUnavailable):    refused("UNAVAILABLE, with Retry-After.", verify.Unavailable),
		},
	})
}
