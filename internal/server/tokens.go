package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/tokens"
	"github.com/keyhold/keyhold/internal/verify"
)

// tokenBody is what /v1/tokens reads beyond verify's fields (key, cost,
// scopes, which verify.ReadRequest reads from the same body).
type tokenBody struct {
	TTL      json.RawMessage `json:"ttl"`
	Audience json.RawMessage `json:"audience"`
}

var ttlRange = "ttl must be a whole number of seconds from " + strconv.Itoa(int(tokens.MinTTL/time.Second)) +
	" to " + strconv.Itoa(int(tokens.MaxTTL/time.Second)) + "."

// serveTokens answers POST /v1/tokens: the key is read and verified
// exactly as /v1/verify does it (same sources, body limit, checks and
// cost, through the verifier), and a VALID key gets a signed JWT instead
// of the verify answer. Any refusal is verify's answer, status and
// headers. The requested scopes are the verifier's required scopes, so a
// scope the key lacks is INSUFFICIENT_SCOPE; none requested gives the
// token all of the key's. Parse → verify → issue → write, with the
// Idempotency-Key hooks where serveVerify has them.
func (s *Server) serveTokens(w http.ResponseWriter, r *http.Request) {
	hc := getHotCall()
	defer s.finishHot(w, r, hc, routeTokens)

	// Parse.
	var vreq verify.Request
	vreq.Cost = 1
	if status, msg := verify.ReadRequest(r, &hc.buf, &hc.scopes, &vreq); status != 0 {
		s.answerBadRequest(w, r, hc, routeTokens, status, msg)
		return
	}
	ttl, aud, msg := s.tokenOptions(hc.buf)
	if msg != "" {
		s.answerBadRequest(w, r, hc, routeTokens, http.StatusBadRequest, msg)
		return
	}
	if vreq.Cost < 1 {
		// Cost 0 checks a key without taking anything, and would hand a
		// token, good offline for up to 15 minutes, to a key whose quota
		// or rate limit is spent.
		s.answerBadRequest(w, r, hc, routeTokens, http.StatusBadRequest,
			"An exchange costs 1 to 1000 (cost); cost 0 is for checking a key with /v1/verify.")
		return
	}
	// Idempotency-Key: as /v1/verify, with ttl and audience among the
	// parameters a retry must repeat.
	claim, ans := s.replays.Begin(r.Context(), r.Header, verify.RouteTokens, &vreq, strconv.FormatInt(int64(ttl), 10)+"\x00"+aud)
	if ans != nil && s.replayable(r, &vreq, ans) && !replayedTokenExpired(ans, time.Now()) {
		s.writeReplay(w, r, hc, routeTokens, ans)
		return
	}
	hc.claim = claim
	// A token that could not be signed must cost nothing.
	if err := s.tokens.Ready(r.Context()); err != nil {
		s.log.Error("tokens: signing keys", "err", err)
		s.countHot(routeTokens, verify.Unavailable)
		s.writeResult(w, r, hc, &verify.Result{Code: verify.Unavailable, Now: time.Now()})
		return
	}
	// Verify.
	vreq.Exchange = true
	var res verify.Result
	s.verifier.Verify(r.Context(), &vreq, &res)
	if res.Code != verify.Valid {
		s.countHot(routeTokens, res.Code)
		s.writeResult(w, r, hc, &res)
		return
	}
	// Issue.
	e := res.Entry
	scopes := vreq.Scopes
	if len(scopes) == 0 {
		scopes = e.Scopes()
	}
	tok, err := s.tokens.Issue(r.Context(), tokens.Grant{KeyID: e.KeyID, AccountID: e.AccountID(), Plan: e.PlanID(),
		Scopes: scopes, Meta: e.Meta(), Audience: aud, TTL: ttl})
	if err != nil {
		// The signing keys could not be read (a first start with the
		// database down): fail closed, as verify does.
		s.log.Error("tokens: issue", "err", err, "key_id", e.KeyID)
		s.countHot(routeTokens, verify.Unavailable)
		s.writeResult(w, r, hc, &verify.Result{Code: verify.Unavailable, Now: res.Now})
		return
	}
	// Write.
	s.countHot(routeTokens, verify.Valid)
	h := setHotHeaders(w.Header(), r, &res)
	// Every value below is ASCII without quotes or backslashes (a compact
	// JWT, a key id, a number, a time), so it is written as is.
	b := hc.buf[:0]
	b = append(b, `{"token":"`...)
	b = append(b, tok.Token...)
	b = append(b, `","token_type":"Bearer","expires_in":`...)
	b = strconv.AppendInt(b, int64(ttl/time.Second), 10)
	b = append(b, `,"expires_at":"`...)
	b = tok.ExpiresAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","key_id":"`...)
	b = append(b, e.KeyID...)
	b = append(b, `"}`...)
	hc.buf = b
	hc.claim.Finish(http.StatusOK, h, b)
	hc.write(w, http.StatusOK, b)
}

// tokenOptions reads ttl and audience from a body verify.ReadRequest
// accepted (so a JSON object, or empty), with their defaults; msg is a
// BAD_REQUEST message when one is out of bounds.
func (s *Server) tokenOptions(body []byte) (ttl time.Duration, aud, msg string) {
	ttl = tokens.DefaultTTL
	var b tokenBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			return 0, "", `The body must be a JSON object like {"ttl": 300}.`
		}
	}
	if len(b.TTL) > 0 && string(b.TTL) != "null" {
		n, err := strconv.ParseInt(string(b.TTL), 10, 64)
		if err != nil || n < int64(tokens.MinTTL/time.Second) || n > int64(tokens.MaxTTL/time.Second) {
			return 0, "", ttlRange
		}
		ttl = time.Duration(n) * time.Second
	}
	if len(b.Audience) > 0 && string(b.Audience) != "null" {
		if err := json.Unmarshal(b.Audience, &aud); err != nil {
			aud = "\x00" // not a string: refused below
		}
	}
	got, ok := s.tokens.Audience(aud)
	if !ok {
		return 0, "", "audience must be one of " + strings.Join(s.tokens.Audiences(), ", ") + "."
	}
	return ttl, got, ""
}

// jwksCacheControl lets verifiers keep the keys for tokens.JWKSMaxAge:
// a rotation publishes the next key longer than that before it signs.
var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(tokens.JWKSMaxAge.Seconds()))

// handleJWKS answers GET /.well-known/jwks.json: the public keys that
// check Keyhold's tokens: the current one, the next one (published before
// it signs) and those retired recently.
func (s *Server) handleJWKS(c echo.Context) error {
	b, err := s.tokens.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", jwksCacheControl)
	return c.Blob(http.StatusOK, "application/json", b)
}

// handleOpenIDConfiguration answers GET /.well-known/openid-configuration
// with the issuer's metadata, so standard middlewares find the keys.
func (s *Server) handleOpenIDConfiguration(c echo.Context) error {
	iss := s.tokens.Issuer()
	c.Response().Header().Set("Cache-Control", jwksCacheControl)
	return c.JSON(http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
}

// replayedTokenExpired reports whether a replayed token answer carries a
// token that has expired (or will within a few seconds): its retry is a
// new exchange instead, since a replay must hand out a token that works.
func replayedTokenExpired(ans *verify.Answer, now time.Time) bool {
	if !ans.Replayed || ans.Status != http.StatusOK {
		return false
	}
	var t struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(ans.Body, &t); err != nil {
		return true
	}
	return !now.Add(5 * time.Second).Before(t.ExpiresAt)
}
