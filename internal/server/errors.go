package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/templates"
)

// statusOf maps an error code to its HTTP status. This is the only place
// that does.
func statusOf(code string) int {
	switch code {
	case keyhold.EINVALID:
		return http.StatusBadRequest
	case keyhold.ENOTFOUND:
		return http.StatusNotFound
	case keyhold.ECONFLICT:
		return http.StatusConflict
	case keyhold.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case keyhold.EFORBIDDEN, keyhold.ELIMIT:
		return http.StatusForbidden
	case keyhold.ETOOMANY:
		return http.StatusTooManyRequests
	case keyhold.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// handleError is Echo's HTTPErrorHandler: it turns any error a handler or
// middleware returned into a status and an HTML page (portal) or JSON (API,
// webhooks, operations), and logs internal errors once, with the request
// id. Users see only the public message.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var status int
	message := keyhold.ErrorMessage(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		message = publicHTTPMessage(status)
	} else {
		status = statusOf(keyhold.ErrorCode(err))
	}
	if status >= 500 {
		// The error chain may quote input (an id from the path, a value
		// from a form), so it is logged with key-shaped text redacted.
		s.log.Error("request failed", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"route", s.metrics.routeLabel(c.Path(), err), "status", status, "err", keys.RedactText(err.Error()))
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "5")
	}
	if p := c.Request().URL.Path; strings.HasPrefix(p, "/v1/") && p != "/v1/verify" {
		// The management API answers problems (RFC 9457) for routes and
		// methods it does not have, as for everything else.
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		_ = c.JSONBlob(status, problemJSON(status, jsonCode(status), message))
		return
	}
	if wantsJSON(c) {
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": jsonCode(status), "message": message}})
		return
	}
	// An empty title lets the page pick its sentence-case heading.
	p := templates.ErrorPage{Layout: s.layout(c, "", ""), Status: status, Message: message}
	if err := render(c, status, templates.Error(p)); err != nil {
		s.log.Error("render error page", "err", err)
		_ = c.String(status, message)
	}
}

func publicHTTPMessage(status int) string {
	switch status {
	case http.StatusNotFound:
		return "We could not find that page. It may have moved, or the link may be wrong."
	case http.StatusMethodNotAllowed:
		return "That action is not allowed here."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is too large."
	case http.StatusUnsupportedMediaType:
		return "That content type is not supported."
	}
	if status >= 500 {
		return keyhold.ErrorMessage(errors.New(""))
	}
	return http.StatusText(status) + "."
}

func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/webhooks/") ||
		p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// jsonCode is the stable machine-readable code of an error answer.
func jsonCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BAD_REQUEST"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "FORBIDDEN"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case http.StatusRequestEntityTooLarge:
		return "BAD_REQUEST"
	case http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "BAD_REQUEST"
}

// problemJSON is an RFC 9457 problem as the management API writes them,
// with the extension member code that round 1's JSON errors carried.
func problemJSON(status int, code, detail string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail, "code": code})
	return b
}
