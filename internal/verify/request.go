package verify

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"
)

// MaxBody is the largest /v1/verify body accepted.
const MaxBody = 4 << 10

// requestBody is the JSON body of /v1/verify as encoding/json reads it
// when the fast path (decodeFast) declines. Unknown fields are ignored.
type requestBody struct {
	Key    *string  `json:"key"`
	Cost   *int64   `json:"cost"`
	Scopes []string `json:"scopes"`
	IP     string   `json:"ip"`
}

// ReadRequest fills req from a /v1/verify request: the key from the JSON
// body, else from the Authorization (Bearer) or X-API-Key header, never
// from anywhere else. req.Cost keeps its value (the default) when the body
// names none. The body is read into *buf (kept for the next call), and
// refused past MaxBody without reading the rest: the one place the limit
// is checked. It returns 0 for a usable request, else the HTTP status and
// message of a BAD_REQUEST answer (413 past the limit, 415 for a body that
// is not JSON, 400 for an ip that is not an IP address, whatever the key).
// req.Scopes may be built in *scopes (kept for the next call; nil: a new
// slice), so it stays valid until the next call with the same buffer; the
// strings (key, scopes) are req's own, never views of *buf.
func ReadRequest(r *http.Request, buf *[]byte, scopes *[]string, req *Request) (int, string) {
	body, status, msg := readBody(r.Body, r.ContentLength, buf)
	if status != 0 {
		return status, msg
	}
	// Header names in their canonical form: Get does not copy them then
	// ("X-API-Key" would be canonicalized, one allocation a call).
	return parseRequest(body, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), scopes, req)
}

// readBody reads body into *buf up to MaxBody: length is the declared
// Content-Length (-1: unknown), refused at once when over the limit.
func readBody(body io.Reader, length int64, bufp *[]byte) ([]byte, int, string) {
	const tooLarge = "The body is larger than 4 KiB."
	if length > MaxBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	buf := (*bufp)[:0]
	defer func() { *bufp = buf }()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBody {
			return nil, http.StatusRequestEntityTooLarge, tooLarge
		}
		if err == io.EOF {
			return buf, 0, ""
		}
		if err != nil {
			return nil, http.StatusBadRequest, "The body could not be read."
		}
	}
}

// parseRequest is ReadRequest's part after reading: body is at most
// MaxBody bytes. scopes is the caller's buffer for the scope list (nil:
// none, one is made).
func parseRequest(body []byte, contentType, authorization, apiKey string, scopes *[]string, req *Request) (int, string) {
	if len(bytes.TrimSpace(body)) > 0 {
		if contentType != "application/json" {
			mt, _, err := mime.ParseMediaType(contentType)
			if err != nil || mt != "application/json" {
				return http.StatusUnsupportedMediaType, "Send the body as application/json."
			}
		}
		// The fast path reads the bodies gateways send; whatever it
		// declines, encoding/json reads as it always did.
		var f fields
		if !decodeFast(body, scopes, &f) && !decodeJSON(body, &f) {
			return http.StatusBadRequest, badBody
		}
		if status, msg := f.apply(req); status != 0 {
			return status, msg
		}
	}
	if req.Key == "" {
		if len(authorization) > 7 && strings.EqualFold(authorization[:7], "bearer ") {
			req.Key = strings.TrimSpace(authorization[7:])
		} else if apiKey != "" {
			req.Key = apiKey
		}
	}
	if req.Key == "" {
		return http.StatusBadRequest, `Send the key as {"key": "…"} in the body, as Authorization: Bearer …, or as X-API-Key.`
	}
	return 0, ""
}

// badBody is the answer to a body that is no JSON object of the fields.
const badBody = `The body must be a JSON object like {"key": "kh_live_…", "cost": 1, "scopes": ["read"]}.`

// fields is what a body says, whichever decoder read it.
type fields struct {
	key     string
	hasKey  bool
	cost    int64
	hasCost bool
	scopes  []string // nil when absent
	ip      string
}

// decodeJSON reads body with encoding/json, as /v1/verify always has:
// unknown members ignored, names matched without regard to case, the last
// of duplicates kept, null as absent. False when it is no such object.
func decodeJSON(body []byte, f *fields) bool {
	var b requestBody
	if err := json.Unmarshal(body, &b); err != nil {
		return false
	}
	*f = fields{scopes: b.Scopes, ip: b.IP}
	if b.Key != nil {
		f.key, f.hasKey = *b.Key, true
	}
	if b.Cost != nil {
		f.cost, f.hasCost = *b.Cost, true
	}
	return true
}

// apply checks f and puts it in req: 0, or the status and message of a
// BAD_REQUEST answer naming the field.
func (f *fields) apply(req *Request) (int, string) {
	if f.hasKey {
		req.Key = f.key
	}
	if f.hasCost {
		if f.cost < 0 || f.cost > MaxCost {
			return http.StatusBadRequest, "cost must be a whole number from 0 to 1000."
		}
		req.Cost = f.cost
	}
	if len(f.scopes) > MaxReqScopes {
		return http.StatusBadRequest, "Ask for at most 32 scopes."
	}
	req.Scopes = f.scopes
	if f.ip != "" {
		// Refused whatever the key: a gateway that sends what is no
		// address (r.RemoteAddr's "203.0.113.7:51234") learns so on its
		// first call, not when a customer first sets an allow-list.
		ip, err := netip.ParseAddr(f.ip)
		if err != nil {
			return http.StatusBadRequest, `ip must be the client's IP address, like 203.0.113.7 or 2001:db8::1, without a port.`
		}
		req.IP = ip.Unmap().WithZone("")
	}
	return 0, ""
}
