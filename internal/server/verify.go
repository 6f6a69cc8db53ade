package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/verify"
)

// maxVerifyBody is the largest /v1/verify body accepted (DESIGN.md).
const maxVerifyBody = 4 << 10

// verifyBody is the JSON body of /v1/verify. Unknown fields are ignored.
type verifyBody struct {
	Key    *string  `json:"key"`
	Cost   *int64   `json:"cost"`
	Scopes []string `json:"scopes"`
}

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
	if status, msg := readVerifyRequest(r, bufp, &vreq); status != 0 {
		s.verifyCount[verify.BadRequest].Inc()
		return writeVerifyError(c, status, msg)
	}
	var res verify.Result
	s.verifier.Verify(r.Context(), &vreq, &res)
	s.verifyCount[res.Code].Inc()

	h := c.Response().Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	if res.Entry != nil {
		h["Ratelimit-Limit"] = []string{strconv.FormatInt(res.Decision.RateLimit, 10)}
		h["Ratelimit-Remaining"] = []string{strconv.FormatInt(res.Decision.RateRemaining, 10)}
		h["Ratelimit-Reset"] = []string{strconv.FormatInt(res.ResetSeconds(), 10)}
	}
	if ra := res.RetryAfter(); ra > 0 {
		h["Retry-After"] = []string{strconv.FormatInt(ra, 10)}
	}
	out := verify.AppendJSON((*bufp)[:0], &res)
	*bufp = out
	c.Response().WriteHeader(res.Code.HTTPStatus())
	_, err := c.Response().Write(out)
	return err
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// readVerifyRequest fills req from the request, or returns the status and
// message of a BAD_REQUEST answer.
func readVerifyRequest(r *http.Request, bufp *[]byte, req *verify.Request) (int, string) {
	if r.ContentLength > maxVerifyBody {
		return http.StatusRequestEntityTooLarge, "The body is larger than 4 KiB."
	}
	buf := (*bufp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxVerifyBody {
			*bufp = buf
			return http.StatusRequestEntityTooLarge, "The body is larger than 4 KiB."
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bufp = buf
			return http.StatusBadRequest, "The body could not be read."
		}
	}
	*bufp = buf

	if len(bytes.TrimSpace(buf)) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != "application/json" {
				return http.StatusUnsupportedMediaType, "Send the body as application/json."
			}
		}
		var body verifyBody
		if err := json.Unmarshal(buf, &body); err != nil {
			return http.StatusBadRequest, `The body must be a JSON object like {"key": "kh_live_…", "cost": 1, "scopes": ["read"]}.`
		}
		if body.Key != nil {
			req.Key = *body.Key
		}
		if body.Cost != nil {
			if *body.Cost < 0 || *body.Cost > verify.MaxCost {
				return http.StatusBadRequest, "cost must be a whole number from 0 to 1000."
			}
			req.Cost = *body.Cost
		}
		if len(body.Scopes) > verify.MaxReqScopes {
			return http.StatusBadRequest, "Ask for at most 32 scopes."
		}
		req.Scopes = body.Scopes
	}
	if req.Key == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			req.Key = strings.TrimSpace(a[7:])
		} else if k := r.Header.Get("X-API-Key"); k != "" {
			req.Key = k
		}
	}
	if req.Key == "" {
		return http.StatusBadRequest, `Send the key as {"key": "…"} in the body, as Authorization: Bearer …, or as X-API-Key.`
	}
	return 0, ""
}

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
