package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/verify"
)

// maxVerifyBody is the largest /v1/verify body accepted (DESIGN.md).
const maxVerifyBody = verify.MaxBody

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

// readVerifyRequest reads the body (refusing more than 4 KiB without
// reading it all) and fills req, or returns the status and message of a
// BAD_REQUEST answer.
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

	return verify.ParseRequest(buf, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-API-Key"), req)
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
