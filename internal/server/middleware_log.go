package server

import (
	"context"
	"log/slog"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyhold/keyhold/internal/keys"
)

// requestLog writes one line per request. It logs the route label (a
// registered pattern or "unmatched", as in /metrics), the path and the
// method with anything shaped like a key redacted, and never the query
// string or any header, so a key pasted into a URL by mistake does not
// reach the logs.
func (s *Server) requestLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus:    true,
		LogLatency:   true,
		LogMethod:    true,
		LogRoutePath: true,
		LogRequestID: true,
		LogRemoteIP:  true,
		LogError:     true,
		HandleError:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case v.RoutePath == "/v1/verify" || v.RoutePath == "/healthz":
				// Hot and routine: per-request lines only at debug level;
				// outcomes are counted in /metrics.
				level = slog.LevelDebug
			}
			if !s.log.Enabled(context.Background(), level) {
				return nil
			}
			path := loggedPath(c.Request().URL.Path)
			s.log.LogAttrs(context.Background(), level, "request",
				slog.String("request_id", v.RequestID),
				slog.String("method", keys.RedactText(v.Method)),
				slog.String("route", s.metrics.routeLabel(v.RoutePath, v.Error)),
				slog.String("path", path),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency),
				slog.String("ip", v.RemoteIP),
			)
			return nil
		},
	})
}

// linkPrefixes begin the paths of mailed links, whose next segment is a
// token (password reset, verification, email change, invitation).
var linkPrefixes = []string{"/password/reset/", "/email/verify/", "/email/change/", "/invitations/"}

// loggedPath is path as the request log may show it: a link's token and
// whatever follows it are cut off by prefix, not by route, so that a
// mangled link that matches no route (an extra segment, a stray
// character) keeps its token out of the log too; API keys are redacted.
func loggedPath(path string) string {
	for _, p := range linkPrefixes {
		if strings.HasPrefix(path, p) && len(path) > len(p) {
			return p + ":token"
		}
	}
	return keys.RedactText(path)
}
