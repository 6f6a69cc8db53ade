package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/verify"
)

var verifyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// handleVerify answers POST /v1/verify. It reads the key from the JSON
// body, else from Authorization: Bearer, else from X-API-Key — never from
// the URL — and never logs it.
func (s *Server) handleVerify(c echo.Context) error {
	r := c.Request()
	bufp := verifyBufs.Get().(*[]byte)
	defer verifyBufs.Put(bufp)

	var vreq verify.Request
	vreq.Cost = 1
	if status, msg := verify.ReadRequest(r, bufp, &vreq); status != 0 { // refuses bodies over 4 KiB
		s.verifyCount[verify.BadRequest].Inc()
		return writeVerifyError(c, status, msg)
	}
	// Idempotency-Key: a replay, or a refusal of the header, is answered
	// here; a claim is finished where the answer is written.
	claim, ans := s.replays.Begin(r.Context(), r.Header, verify.RouteVerify, &vreq, "")
	if ans != nil {
		if !ans.Replayed {
			s.verifyCount[ans.Code].Inc()
		}
		return ans.Write(c.Response())
	}
	var res verify.Result
	s.verifier.Verify(r.Context(), &vreq, &res)
	s.verifyCount[res.Code].Inc()
	return writeVerifyResult(c, bufp, &res, claim)
}

// writeVerifyResult writes res as /v1/verify answers it: status, headers
// (RateLimit-* when a key was found, Retry-After when refused for a while)
// and body, rendered in *bufp. /v1/tokens answers its refusals with it.
// The answer goes to claim (nil without Idempotency-Key) before it is
// written, so that a retry finds it once the caller has it.
func writeVerifyResult(c echo.Context, bufp *[]byte, res *verify.Result, claim *verify.Claim) error {
	h := setVerifyHeaders(c, res)
	if ra := res.RetryAfter(); ra > 0 {
		h["Retry-After"] = []string{strconv.FormatInt(ra, 10)}
	}
	out := verify.AppendJSON((*bufp)[:0], res)
	*bufp = out
	claim.Finish(res.Code.HTTPStatus(), h, out)
	c.Response().WriteHeader(res.Code.HTTPStatus())
	_, err := c.Response().Write(out)
	return err
}

// setVerifyHeaders sets what every answer of /v1/verify and /v1/tokens
// carries: the JSON type, no caching, and RateLimit-* when a key was found.
func setVerifyHeaders(c echo.Context, res *verify.Result) http.Header {
	h := c.Response().Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	if res.Entry != nil {
		h["Ratelimit-Limit"] = []string{strconv.FormatInt(res.Decision.RateLimit, 10)}
		h["Ratelimit-Remaining"] = []string{strconv.FormatInt(res.Decision.RateRemaining, 10)}
		h["Ratelimit-Reset"] = []string{strconv.FormatInt(res.ResetSeconds(), 10)}
	}
	return h
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// writeVerifyError writes a BAD_REQUEST answer in the verify format.
func writeVerifyError(c echo.Context, status int, msg string) error {
	b, _ := json.Marshal(struct {
		Valid   bool   `json:"valid"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{false, verify.BadRequest.String(), msg})
	c.Response().Header()["Cache-Control"] = noStore
	return c.Blob(status, jsonContentType[0], b)
}
